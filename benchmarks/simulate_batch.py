"""A 10,000-line batch job (600-token prompts, 300-token outputs) replayed on each stage's template: GPU-hours, makespan,
lines/s, expired lines and the peak backlog. The "Batch jobs" figures in docs/simulator.md come from this script.

Usage: python benchmarks/simulate_batch.py [--stages sandbox prod] [--lines N] [--prompt-tokens P] [--tokens T] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulate_reference import markdown_table  # noqa: E402  (this script's folder is on sys.path when it runs)

from llm_async_tools.simulate import start_time  # noqa: E402
from llm_async_tools.simulation.batch import batch_shape, replay_batch  # noqa: E402
from llm_async_tools.simulation.batching import instance_capacity  # noqa: E402
from llm_async_tools.simulation.parameters import SimulationParameters  # noqa: E402
from llm_async_tools.simulation.stage import synthesize_stage  # noqa: E402
from llm_async_tools.simulation.template import read_scaling_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", default=["sandbox", "prod"])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--prompt-tokens", type=float, default=600)
    parser.add_argument("--tokens", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header = ("stage", "chunks × at once (source)", "in flight ≤", "poll", "GPU-h", "cost", "makespan", "lines/s", "expired",
              "peak backlog", "peak instances", "scale events", "makespan ≥ (roofline)")
    rows = [header]
    for stage in args.stages:
        template = synthesize_stage(stage)
        model = read_scaling_model(template)
        params = SimulationParameters(seed=args.seed)
        shape = batch_shape(template, model, lines=args.lines, prompt_tokens=args.prompt_tokens, output_tokens=args.tokens)
        result = replay_batch(model, shape, params, start=start_time(None, model))
        best = instance_capacity(params.batching(model), model.concurrency_per_instance, args.prompt_tokens, args.tokens)
        floor_s = args.lines * args.tokens / (model.max_capacity * best.largest_batch_tokens_per_second)
        source = "template" if shape.source == "template" else "BatchConfig defaults"
        makespan = "never" if result.makespan_s is None else f"{result.makespan_s / 60:.0f} min"
        rate = "–" if result.lines_per_s is None else f"{result.lines_per_s:.2f}"
        rows.append((
            f"{stage} ({model.instance_type}, {model.min_capacity}–{model.max_capacity} × {model.concurrency_per_instance})",
            f"{shape.chunk_lines} × {shape.max_concurrency} ({source})", f"{shape.in_flight_bound}", f"{shape.poll_s:g} s",
            f"{result.gpu_hours:.2f}", f"${result.simulation.cost_usd:.2f}", makespan, rate, f"{result.expired}",
            f"{result.peak_backlog}", f"{result.peak_instances}",
            f"{result.simulation.scale_events}", f"{floor_s / 60:.0f} min",
        ))
    print(f"{args.lines:,} lines of {args.prompt_tokens:g} prompt + {args.tokens:g} output tokens, created at t = 0 (seed {args.seed})")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
