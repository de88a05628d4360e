"""The outcome of a run as numbers: one row a policy, the cold start they share, what an instance batches and the
offline bound, as a table or as JSON.

Percentiles are nearest-rank over completed requests; expired requests count only in `expired`. The first result
is the trace's first request's time to result: after the idle start, it waits for a cold start.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from llm_async.model.capacity import CAPACITY_METADATA
from llm_async.model.staged import WEIGHTS_METADATA
from llm_async_tools.simulation.batching import Batching, InstanceCapacity
from llm_async_tools.simulation.bound import OfflineBound
from llm_async_tools.simulation.engine import SimulationResult
from llm_async_tools.simulation.parameters import ColdStart, SimulationParameters


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def summary_row(result: SimulationResult) -> dict[str, Any]:
    """The JSON object of one policy, keys in the order the CLI documents."""
    ttr = result.ttr_s
    rounded = [None if v is None else round(v, 1) for v in (percentile(ttr, 0.5), percentile(ttr, 0.95), max(ttr, default=None))]
    return {
        "name": result.name,
        "gpu_hours": round(result.gpu_hours, 3),
        "cost_usd": round(result.cost_usd, 2),
        "ttr_p50_s": rounded[0],
        "ttr_p95_s": rounded[1],
        "ttr_max_s": rounded[2],
        "expired": result.expired,
        "scale_events": result.scale_events,
        "first_result_s": None if result.first_ttr_s is None else round(result.first_ttr_s, 1),
    }


def cold_start_fields(cold: ColdStart, jitter: float) -> dict[str, Any]:
    """The JSON object of the cold start: each component, the total the simulation used, and where inputs came from."""
    return {
        "instance_provisioning_s": round(cold.instance_provisioning_s, 1),
        "image_pull_s": round(cold.image_pull_s, 1),
        "weights_source": cold.weights_source,
        "weights_bytes": cold.weights_bytes,
        "weights_gbps": cold.weights_gbps,
        "weight_load_s": round(cold.weight_load_s, 1),
        "engine": cold.engine,
        "engine_start_s": None if cold.engine_start_s is None else round(cold.engine_start_s, 1),
        "total_s": round(cold.total_s, 1),
        "jitter": jitter,
        "total_from_provisioning_seconds": cold.overridden,
        "defaults": list(cold.defaults),
    }


def capacity_fields(batching: Batching, capacity: InstanceCapacity, params: SimulationParameters) -> dict[str, Any]:
    """The JSON object of one instance's batching, for the trace's mean request."""
    return {
        "max_concurrent_sequences": batching.max_concurrent_sequences,
        "tokens_per_second_per_instance": round(capacity.tokens_per_second, 1),
        "concurrency_per_instance": capacity.concurrency,
        "roofline_tokens_per_second": round(capacity.roofline_tokens_per_second, 1),
        "largest_batch": capacity.largest_batch,
        "largest_batch_tokens_per_second": round(capacity.largest_batch_tokens_per_second, 1),
        "prompt_tokens": round(capacity.prompt_tokens, 1),
        "output_tokens": round(capacity.output_tokens, 1),
        "kv_cache_tokens": batching.limits.kv_cache_tokens,
        "engine_limit": batching.limits.max_running,
        "bandwidth_efficiency": params.bandwidth_efficiency,
        "compute_efficiency": params.compute_efficiency,
        "defaults": list(batching.defaults),
    }


def bound_fields(bound: OfflineBound, ours: SimulationResult) -> dict[str, Any]:
    return {
        "gpu_hours": round(bound.gpu_hours, 3),
        "single_instance_gpu_hours": round(bound.single_instance_gpu_hours, 3),
        "work_gpu_hours": round(bound.work_gpu_hours, 3),
        "busy_periods": bound.busy_periods,
        "largest_batch": bound.largest_batch,
        "ours_ratio": round(ours.gpu_hours / bound.gpu_hours, 2),
    }


def to_json(results: Sequence[SimulationResult], cold: ColdStart, jitter: float, *,
            capacity: dict[str, Any] | None = None, bound: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"policies": [summary_row(r) for r in results], "cold_start": cold_start_fields(cold, jitter)}
    if capacity is not None:
        document["capacity"] = capacity
    if bound is not None:
        document["offline_bound"] = bound
    return json.dumps(document)


def describe_capacity(batching: Batching, capacity: InstanceCapacity) -> str:
    """One line under the table: what an instance batches, and how fast, for the trace's mean request."""
    line = (f"batching: {capacity.concurrency} requests per instance (the KV cache holds"
            f" {batching.max_concurrent_sequences} of {batching.sequence_tokens:,} tokens, a typical prompt and the default"
            f" budget; engine limit"
            f" {batching.limits.max_running}); for the trace's mean request ({capacity.prompt_tokens:.0f} prompt +"
            f" {capacity.output_tokens:.0f} output tokens) an instance with every slot busy makes"
            f" {capacity.tokens_per_second:.0f} tokens/s (roofline {capacity.roofline_tokens_per_second:.0f});"
            f" the largest batch that fits ({capacity.largest_batch}) could reach {capacity.largest_batch_tokens_per_second:.0f}")
    if batching.defaults:
        line += f"; {', '.join(batching.defaults)}: default preset's, not in the template ({CAPACITY_METADATA} metadata)"
    return line


def describe_bound(bound: OfflineBound, ours: SimulationResult) -> str:
    return (f"offline bound: {bound.gpu_hours:.2f} GPU h (one instance with foresight {bound.single_instance_gpu_hours:.2f}"
            f" over {bound.busy_periods} busy periods, by work {bound.work_gpu_hours:.2f}); ours"
            f" {ours.gpu_hours / bound.gpu_hours:.2f}× the bound")


def describe_cold_start(cold: ColdStart, jitter: float) -> str:
    """One line under the table: what a new instance's startup is made of, and which inputs are defaults."""
    gb = cold.weights_bytes / 1e9
    engine = "" if cold.engine is None else f" ({cold.engine})"
    start = "–" if cold.engine_start_s is None else f"{cold.engine_start_s:.0f}"
    pull = f" + {cold.image_pull_s:.0f} s image pull" if cold.image_pull_s else ""
    overlap = ", beside the pull" if cold.overlaps_pull and cold.image_pull_s else ""
    parts = (f"{cold.instance_provisioning_s:.0f} s instance provisioning{pull} + {cold.weight_load_s:.0f} s weight load"
             f" ({cold.weights_source}, {gb:.2f} GB at {cold.weights_gbps:g} Gbps{overlap}) + {start} s engine start{engine}")
    spread = f", jitter {jitter:.0%}" if jitter else ""
    if cold.overridden:
        line = f"cold start: {cold.total_s:.0f} s mean (--provisioning-seconds{spread}); breakdown not used: {parts}"
    else:
        line = f"cold start: {cold.total_s:.0f} s mean{spread} = {parts}"
    if cold.defaults and not cold.overridden:
        plural = "s" if len(cold.defaults) > 1 else ""
        line += f"; {' and '.join(cold.defaults)}: documented default{plural}, not in the template ({WEIGHTS_METADATA} metadata)"
    return line


def ratio(value: float | None, ours: float | None) -> str:
    """value ÷ ours as '2.5×'; '–' when either is missing or ours is zero."""
    if value is None or ours is None or ours == 0:
        return "–"
    return f"{value / ours:.2f}×"


def render_table(results: Sequence[SimulationResult], cold: ColdStart, jitter: float, *, extra: Sequence[str] = ()) -> str:
    rows = [summary_row(r) for r in results]
    compare = len(rows) > 1
    header = ["policy", "GPU h", "cost $", "TTR p50 s", "p95 s", "max s", "first s", "expired", "scale events"]
    if compare:
        header += ["cost vs ours", "p95 vs ours"]
    body = []
    for row in rows:
        cells = [row["name"], f"{row['gpu_hours']:.2f}", f"{row['cost_usd']:.2f}"]
        cells += ["–" if row[k] is None else f"{row[k]:.0f}" for k in ("ttr_p50_s", "ttr_p95_s", "ttr_max_s", "first_result_s")]
        cells += [str(row["expired"]), str(row["scale_events"])]
        if compare:
            cells += [ratio(row["cost_usd"], rows[0]["cost_usd"]), ratio(row["ttr_p95_s"], rows[0]["ttr_p95_s"])]
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))) for line in [header, *body]]
    return "\n".join([*(line.rstrip() for line in lines), describe_cold_start(cold, jitter), *extra])
