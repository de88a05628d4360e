"""Times the whole test suite, without installs, against its 90 s budget (issue 2).

    python benchmarks/suite_time.py [RUNS]   # after scripts/test.sh has installed once; default 3 runs

Each run is `python -m pytest -q` from the project root, as scripts/test.sh runs it after set-up. Prints
each run's wall time (start-up included) and pytest's own figure, then the median and the worst. Exits 1
if a run has a failing test, so that a fast red run is never reported as a figure.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 90.0
SUMMARY = re.compile(r"(\d+) passed(?:, [^\n]*?)? in ([\d.]+)s")


def run_once() -> tuple[float, float, int]:
    """Wall seconds, pytest's seconds and the number of tests passed."""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    match = SUMMARY.search(result.stdout)
    if result.returncode != 0 or match is None:
        sys.exit(f"the suite failed (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return wall, float(match.group(2)), int(match.group(1))


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 3
    if runs < 1:
        sys.exit(f"RUNS: must be at least 1 (got {runs})")
    walls = []
    for index in range(1, runs + 1):
        wall, pytest_s, passed = run_once()
        walls.append(wall)
        print(f"run {index}: {wall:.1f} s wall ({pytest_s:.1f} s in pytest), {passed} passed", flush=True)
    worst = max(walls)
    print(f"median {statistics.median(walls):.1f} s, worst {worst:.1f} s: "
          f"{'within' if worst <= BUDGET_S else 'OVER'} the {BUDGET_S:.0f} s budget")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
