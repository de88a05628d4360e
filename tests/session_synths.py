"""The session's synths, made once for every pytest-xdist worker by a process of their own.

jsii synthesis takes seconds, and each xdist worker is an interpreter of its own: a session fixture would
synthesize once per worker. Instead, the first worker that needs the synths claims a directory the whole
run shares and starts `python -m tests.session_synths DIR`. Every worker waits for the result file and
loads it; tests that do not need it run meanwhile. When the session includes the checkov tests, the same
process then runs checkov over the templates, so that checkov's seconds overlap the tests too.

The process writes each result atomically, and `failed.txt` with the traceback if it fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the CDK app costs seconds to import, and pytest's controller never needs it
    from tests.synths import SessionSynths

ROOT = Path(__file__).resolve().parent.parent
SYNTHS = "synths.pickle"
CHECKOV_REPORT = "checkov.json"
FAILED = "failed.txt"
LOG = "process.log"
WAIT_S = 600

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"

# Proves the run checks something: a bare bucket fails a known check, and a metadata skip is honoured.
GUARD = {
    "Resources": {
        "BareBucket": {"Type": "AWS::S3::Bucket"},
        "SkippedBucket": {
            "Type": "AWS::S3::Bucket",
            "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "guard: a skip with its reason"}]}},
        },
    }
}

# No platform: no API key, no policy-metadata mapping download, no package scan.
_OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "BC_API_KEY": "", "PRISMA_API_URL": ""}


@dataclasses.dataclass(frozen=True)
class CheckovReport:
    returncode: int
    stdout: str
    stderr: str
    names: list[str]
    """Template file names (without `.json`) in the directory checkov read."""


def start(directory: Path, *, checkov: bool) -> subprocess.Popen[bytes] | None:
    """Starts the process unless another worker already has (creating the directory is the claim)."""
    try:
        directory.mkdir()
    except FileExistsError:
        return None
    command = [sys.executable, "-m", "tests.session_synths", str(directory), *(["--checkov"] if checkov else [])]
    with (directory / LOG).open("wb") as log:
        return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def load_synths(directory: Path) -> SessionSynths:
    return pickle.loads(_wait_for(directory / SYNTHS).read_bytes())


def load_checkov_report(directory: Path) -> CheckovReport:
    return CheckovReport(**json.loads(_wait_for(directory / CHECKOV_REPORT).read_text()))


def _wait_for(path: Path) -> Path:
    return wait_for(path, path.parent / FAILED, failure="the session's synth process failed",
                    timeout=f"no {path.name} after {WAIT_S} s; the synth process's output: {path.parent / LOG}")


def wait_for(path: Path, failed: Path, *, failure: str, timeout: str) -> Path:
    """`path` once another process has written it (write_atomically); `failure` and the traceback it wrote to `failed`
    if it failed, `timeout` after WAIT_S seconds."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if failed.exists():
            raise RuntimeError(f"{failure}:\n{failed.read_text()}")
        if time.monotonic() > deadline:
            raise TimeoutError(timeout)
        time.sleep(0.05)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _run_checkov(directory: Path, session: SessionSynths) -> CheckovReport:
    templates_dir = directory / "checkov"
    templates_dir.mkdir()
    templates = {name: synth.template_json for name, synth in session.synthesized.items()}
    templates |= {f"{name}-weights": synth.weights.template_json for name, synth in session.synthesized.items() if synth.weights}
    templates |= {"pipeline": session.pipeline.template_json, "guard": GUARD}
    for name, template in templates.items():
        (templates_dir / f"{name}.json").write_text(json.dumps(template))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))} | _OFFLINE
    # --compact: no code blocks in the report (2 MB instead of 65 MB, and 5 s less of checkov writing it).
    command = [str(CHECKOV), "-d", str(templates_dir), "--framework", "cloudformation", "--skip-download", "-o", "json", "--compact"]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=WAIT_S)
    return CheckovReport(run.returncode, run.stdout, run.stderr, list(templates))


def main(argv: list[str]) -> int:
    from tests import synths

    directory, checkov = Path(argv[0]), "--checkov" in argv[1:]
    try:
        session = synths.synthesize_session(directory)
        write_atomically(directory / SYNTHS, pickle.dumps(session))
        if checkov:
            report = _run_checkov(directory, session)
            write_atomically(directory / CHECKOV_REPORT, json.dumps(dataclasses.asdict(report)).encode())
    except BaseException:
        (directory / FAILED).write_text(traceback.format_exc())
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
