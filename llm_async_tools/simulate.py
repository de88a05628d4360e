"""Scaling and cost simulator CLI: replays a request trace against the scaling policy a template deploys.

Usage: python -m llm_async_tools.simulate (--template PATH | --stage NAME) --trace CSV [--compare | --sweep] [--json] [--plot PNG] …
       python -m llm_async_tools.simulate (--template PATH | --stage NAME) --batch LINES [--batch-chunk N]
           [--batch-concurrency M] [--batch-prompt-tokens P] [--batch-tokens T] [--json] …
Bad input is one line on stderr and exit status 2. See docs/simulator.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from llm_async.validators import ConfigError
from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.anchors import anchor_policies
from llm_async_tools.simulation.batch import batch_fields, batch_shape, describe_batch, replay_batch
from llm_async_tools.simulation.batching import Batching, instance_capacity
from llm_async_tools.simulation.bound import offline_bound
from llm_async_tools.simulation.engine import SimulationResult, simulate, work_of
from llm_async_tools.simulation.metrics import IDLE_METRICS
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import (
    DEFAULT_WEIGHTS_BYTES,
    DEFAULT_WEIGHTS_SOURCE,
    ENGINE_START_S,
    WEIGHTS_SOURCES,
    SimulationParameters,
)
from llm_async_tools.simulation.plot import write_timeline
from llm_async_tools.simulation.report import (
    bound_fields,
    capacity_fields,
    cold_start_fields,
    describe_bound,
    describe_capacity,
    render_table,
    to_json,
)
from llm_async_tools.simulation.sweep import render_sweep, sweep, sweep_json
from llm_async_tools.simulation.template import read_scaling_model
from llm_async_tools.simulation.trace import TraceError, read_trace

PROG = "python -m llm_async_tools.simulate"
# t = 0 is this Monday's midnight, in the time zone of the template's scheduled actions (else UTC).
DEFAULT_START_DATE = "2026-01-05T00:00"


class UsageError(ValueError):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    defaults = SimulationParameters()
    parser = _Parser(prog=PROG, description="Replay a request trace against a synthesized scaling policy.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--template", type=Path, help="a synthesized template, e.g. cdk.out/LlmAsyncStack.template.json")
    source.add_argument("--stage", help="synthesize this environment in-process (sandbox, dev, staging, prod)")
    work = parser.add_mutually_exclusive_group(required=True)
    work.add_argument("--trace", type=Path, help="CSV with a header: arrival_s[,tokens][,prompt_tokens][,service_s]")
    work.add_argument("--batch", type=int, metavar="LINES",
                      help="replay a batch job of LINES lines created at t = 0 (docs/simulator.md, Batch jobs)")
    batch = parser.add_argument_group("batch jobs", "the batch --batch replays (default: the template's state machine,"
                                      " else BatchConfig's defaults)")
    batch.add_argument("--batch-chunk", type=int, metavar="N", help="lines a child workflow submits (ItemBatcher)")
    batch.add_argument("--batch-concurrency", type=int, metavar="M", help="child workflows at once (the Map's MaxConcurrency)")
    batch.add_argument("--batch-prompt-tokens", type=float, metavar="P", help="each line's prompt (default: --prompt-tokens)")
    batch.add_argument("--batch-tokens", type=float, metavar="T",
                       help="each line's output tokens (default: what --service-seconds takes alone)")
    cold = parser.add_argument_group("cold start", "a new instance's startup: instance provisioning + weight load + engine"
                                     " start (docs/simulator.md, Cold start)")
    cold.add_argument("--provisioning-seconds", type=float,
                      help="mean total startup; replaces the whole breakdown below (default: the breakdown)")
    cold.add_argument("--instance-provisioning-seconds", type=float, default=defaults.instance_provisioning_s,
                      help="GPU instance launched until its container can start (default %(default)s)")
    cold.add_argument("--image-pull-seconds", type=float, default=defaults.image_pull_s,
                      help="container image pull; 0 while SageMaker caches the image (default %(default)s)")
    cold.add_argument("--weights-source", choices=WEIGHTS_SOURCES,
                      help=f"where weights come from (default: the template's metadata, else {DEFAULT_WEIGHTS_SOURCE})")
    cold.add_argument("--weights-bytes", type=int,
                      help=f"weights size in bytes (default: the template's metadata, else {DEFAULT_WEIGHTS_BYTES})")
    cold.add_argument("--s3-gbps", type=float, default=defaults.s3_gbps,
                      help="S3 → instance download rate of staged weights, Gbit/s (default %(default)s)")
    cold.add_argument("--hub-gbps", type=float, default=defaults.hub_gbps,
                      help="Hugging Face Hub → instance download rate, Gbit/s (default %(default)s)")
    cold.add_argument("--engine-start-seconds", type=float,
                      help="weights on disk to serving (default by the template's engine: "
                      + ", ".join(f"{e} {s:g}" for e, s in ENGINE_START_S.items()) + ")")
    cold.add_argument("--provisioning-jitter", type=float, default=defaults.provisioning_jitter,
                      help="relative standard deviation of the startup, 0–1 (default %(default)s)")
    batching = parser.add_argument_group("batching", "how fast an instance runs the requests it batches"
                                         " (docs/simulator.md, Batching)")
    batching.add_argument("--service-seconds", type=float, default=defaults.service_s,
                          help="time alone on an idle instance of a request without tokens or service_s (default %(default)s)")
    batching.add_argument("--prompt-tokens", type=float, default=defaults.prompt_tokens,
                          help="prompt length of a request without prompt_tokens (default %(default)s)")
    batching.add_argument("--bandwidth-efficiency", type=float, default=defaults.bandwidth_efficiency,
                          help="share of the GPUs' memory bandwidth a decode step achieves (default %(default)s)")
    batching.add_argument("--compute-efficiency", type=float, default=defaults.compute_efficiency,
                          help="share of the GPUs' peak tensor FLOPS a prefill achieves (default %(default)s)")
    parser.add_argument("--metric-lag-seconds", type=float, default=defaults.metric_lag_s,
                        help="from a metric minute's end to the alarm evaluation that sees it (default %(default)s)")
    parser.add_argument("--idle-metrics", choices=IDLE_METRICS, default=defaults.idle_metrics,
                        help="what SageMaker publishes for a minute without backlog (default %(default)s)")
    parser.add_argument("--start", help=f"wall-clock time of t = 0, ISO 8601 (default {DEFAULT_START_DATE}, a Monday,"
                        " in the time zone of the template's scheduled actions, else UTC)")
    parser.add_argument("--duration-seconds", type=float, help="simulated span (default: whole days covering the trace)")
    parser.add_argument("--usd-per-hour", type=float, help="instance price (default: the instance type's us-east-1 list price)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed of provisioning times (default %(default)s)")
    parser.add_argument("--no-api-wake", action="store_true", help="requests go straight to the endpoint, not through the API")
    parser.add_argument("--hold-scale-in-during-scale-out-cooldown", action="store_true",
                        help="assume a scale-out cooldown also holds other policies' scale-in (undocumented)")
    parser.add_argument("--allow-scaling-while-updating", action="store_true",
                        help="assume capacity can change while instances are still starting")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--compare", action="store_true", help="also run the anchor policies and print ratios against ours")
    mode.add_argument("--sweep", action="store_true",
                      help="run our policy over a range of idle windows and recommend idle_minutes_before_scale_in")
    parser.add_argument("--json", action="store_true", help='print {"policies": [...]} instead of a table')
    parser.add_argument("--plot", type=Path, help="write a PNG timeline (requests, backlog, instances)")
    return parser


def _template(args: argparse.Namespace) -> dict[str, Any]:
    if args.stage is not None:
        from llm_async_tools.simulation.stage import UnknownStage, synthesize_stage  # the adapter to the CDK app

        try:
            return synthesize_stage(args.stage)
        except UnknownStage as error:
            raise UsageError(str(error)) from None
    try:
        template = json.loads(args.template.read_text())
    except OSError as error:
        raise UsageError(f"cannot read template {args.template}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"template {args.template} is not JSON") from None
    if not isinstance(template, dict):
        raise UsageError(f"template {args.template} is not a CloudFormation template")
    return template


def start_time(text: str | None, model: ScalingModel) -> datetime:
    zone = ZoneInfo(model.scheduled_actions[0].timezone if model.scheduled_actions else "UTC")
    try:
        start = datetime.fromisoformat(text or DEFAULT_START_DATE)
    except ValueError:
        raise UsageError(f"--start must be an ISO 8601 date and time, like {DEFAULT_START_DATE} (got {text!r})") from None
    return start if start.tzinfo is not None else start.replace(tzinfo=zone)


def run(argv: list[str]) -> tuple[list[SimulationResult], str]:
    args = _parser().parse_args(argv)
    template = _template(args)
    ours = read_scaling_model(template, usd_per_hour=args.usd_per_hour)
    if args.usd_per_hour is not None and args.usd_per_hour <= 0:
        raise UsageError(f"--usd-per-hour must be > 0 (got {args.usd_per_hour})")
    try:
        params = SimulationParameters(
            provisioning_s=args.provisioning_seconds,
            instance_provisioning_s=args.instance_provisioning_seconds,
            image_pull_s=args.image_pull_seconds,
            weights_source=args.weights_source,
            weights_bytes=args.weights_bytes,
            s3_gbps=args.s3_gbps,
            hub_gbps=args.hub_gbps,
            engine_start_s=args.engine_start_seconds,
            provisioning_jitter=args.provisioning_jitter,
            service_s=args.service_seconds,
            prompt_tokens=args.prompt_tokens,
            bandwidth_efficiency=args.bandwidth_efficiency,
            compute_efficiency=args.compute_efficiency,
            metric_lag_s=args.metric_lag_seconds,
            idle_metrics=args.idle_metrics,
            api_wake=not args.no_api_wake,
            hold_scale_in_during_scale_out_cooldown=args.hold_scale_in_during_scale_out_cooldown,
            refuse_while_updating=not args.allow_scaling_while_updating,
            duration_s=args.duration_seconds,
            seed=args.seed,
        )
    except ValueError as error:
        raise UsageError(str(error).replace("_s ", "-seconds ").replace("_", "-")) from None
    start = start_time(args.start, ours)
    try:
        batching = params.batching(ours)
    except ValueError as error:  # an instance type without GPU figures
        raise UsageError(str(error)) from None
    if args.batch is not None:
        return _run_batch(args, template, ours, params, batching, start)
    trace = read_trace(args.trace)
    if args.sweep:
        rows, recommendation = sweep(ours, trace, params, start=start)
        if args.plot is not None:
            write_timeline(args.plot, trace, [row.result for row in rows], title=f"{args.trace.name}: idle windows")
        report = json.dumps(sweep_json(rows, recommendation)) if args.json else render_sweep(rows, recommendation)
        return [row.result for row in rows], report
    models = [ours, *anchor_policies(ours)] if args.compare else [ours]
    results = [simulate(model, trace, params, start=start) for model in models]
    if args.plot is not None:
        write_timeline(args.plot, trace, results, title=f"{args.trace.name} from {start.isoformat()}")
    cold = params.cold_start(ours)
    work = [work_of(r, params, batching) for r in trace]
    prompt = sum(w.prompt_tokens for w in work) / len(work)
    output = sum(w.output_tokens for w in work) / len(work)
    capacity = instance_capacity(batching, ours.concurrency_per_instance, prompt, output)
    bound = offline_bound(work, batching, cold.total_s)
    if args.json:
        report = to_json(results, cold, params.provisioning_jitter, capacity=capacity_fields(batching, capacity, params),
                         bound=bound_fields(bound, results[0]))
    else:
        extra = [describe_capacity(batching, capacity), describe_bound(bound, results[0])]
        report = render_table(results, cold, params.provisioning_jitter, extra=extra)
    return results, report


def _run_batch(args: argparse.Namespace, template: dict[str, Any], ours: ScalingModel, params: SimulationParameters,
               batching: Batching, start: datetime) -> tuple[list[SimulationResult], str]:
    for flag, value in (("--compare", args.compare), ("--sweep", args.sweep), ("--plot", args.plot)):
        if value:
            raise UsageError(f"{flag} does not apply to --batch")
    for flag, value in (("--batch", args.batch), ("--batch-chunk", args.batch_chunk), ("--batch-concurrency", args.batch_concurrency)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be ≥ 1 (got {value})")
    for flag, value in (("--batch-prompt-tokens", args.batch_prompt_tokens), ("--batch-tokens", args.batch_tokens)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be > 0 (got {value:g})")
    prompt = args.batch_prompt_tokens if args.batch_prompt_tokens is not None else params.prompt_tokens
    output = args.batch_tokens if args.batch_tokens is not None else batching.roofline.output_tokens_alone(params.service_s, prompt)
    shape = batch_shape(template, ours, lines=args.batch, prompt_tokens=prompt, output_tokens=output,
                        chunk_lines=args.batch_chunk, max_concurrency=args.batch_concurrency)
    result = replay_batch(ours, shape, params, start=start)
    cold = params.cold_start(ours)
    capacity = instance_capacity(batching, ours.concurrency_per_instance, prompt, output)
    if args.json:
        report = json.dumps({"batch": batch_fields(result), "cold_start": cold_start_fields(cold, params.provisioning_jitter),
                             "capacity": capacity_fields(batching, capacity, params)})
    else:
        report = "\n".join([describe_batch(result, ours.usd_per_hour), describe_capacity(batching, capacity)])
    return [result.simulation], report


def main(argv: list[str] | None = None) -> int:
    try:
        _, output = run(sys.argv[1:] if argv is None else argv)
    except (UsageError, TemplateError, TraceError, ConfigError) as error:
        print(f"llm-async simulate: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. the plot's folder does not exist
        print(f"llm-async simulate: {error.strerror or error}: {error.filename}", file=sys.stderr)
        return 2
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
