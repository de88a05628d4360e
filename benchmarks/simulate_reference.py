"""Our policy against each anchor policy on the three reference traces: cost and first-result latency.

The figures in docs/simulator.md come from this script with its defaults.
Usage: python benchmarks/simulate_reference.py [--stage sandbox|dev|staging|prod | --template PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_async_tools.simulate import start_time  # noqa: E402
from llm_async_tools.simulation.anchors import anchor_policies  # noqa: E402
from llm_async_tools.simulation.engine import simulate  # noqa: E402
from llm_async_tools.simulation.parameters import SimulationParameters  # noqa: E402
from llm_async_tools.simulation.report import percentile, ratio  # noqa: E402
from llm_async_tools.simulation.stage import synthesize_stage  # noqa: E402
from llm_async_tools.simulation.template import read_scaling_model  # noqa: E402
from llm_async_tools.simulation.trace import read_trace  # noqa: E402

TRACES = ("sparse_day", "business_hours", "spike")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="sandbox")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    template = json.loads(args.template.read_text()) if args.template else synthesize_stage(args.stage)
    ours = read_scaling_model(template)
    params = SimulationParameters(seed=args.seed)
    start = start_time(None, ours)
    header = ("trace", "policy", "GPU h", "cost $", "cost vs ours", "first result s", "first vs ours", "TTR p95 s", "expired", "scale events")
    rows = [header]
    for trace_name in TRACES:
        trace = read_trace(ROOT / "benchmarks" / "traces" / f"{trace_name}.csv")
        results = [simulate(model, trace, params, start=start) for model in [ours, *anchor_policies(ours)]]
        for result in results:
            p95 = percentile(result.ttr_s, 0.95)
            rows.append((
                trace_name,
                result.name,
                f"{result.gpu_hours:.2f}",
                f"{result.cost_usd:.2f}",
                ratio(result.cost_usd, results[0].cost_usd),
                "–" if result.first_ttr_s is None else f"{result.first_ttr_s:.0f}",
                ratio(result.first_ttr_s, results[0].first_ttr_s),
                "–" if p95 is None else f"{p95:.0f}",
                str(result.expired),
                str(result.scale_events),
            ))
    print(f"{ours.instance_type} at ${ours.usd_per_hour}/h, capacity {ours.min_capacity}–{ours.max_capacity},"
          f" t = 0 at {start.isoformat()}, seed {args.seed}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()
