"""An offline lower bound on the GPU instance-hours any scaling policy needs for a trace, and the trace's idle gaps.

Two bounds, each valid on its own; the report takes the larger:

- One instance, perfect foresight (issue 15; the offline optimum of ski rental): every request must run from its
  arrival for at least its time alone on an idle instance, so an instance is on during the union of those intervals
  (the busy periods). Between two busy periods an instance either stays on through the gap or stops and starts again,
  paying a cold start (billed from launch); with foresight it pays min(gap, cold start). The endpoint starts with no
  instance, so the first busy period pays one cold start. This bounds the policies that let no request wait for
  capacity; ours makes a request wait for the cold start it pays anyway, so this is the cost of serving on arrival.
- Several instances, by work: each request's tokens must be decoded and its prompt prefilled somewhere. A decode step
  of B sequences reads the weights once for all of them, so a token costs at least (weights ÷ B + KV bytes per token ×
  its context) ÷ bandwidth, or its FLOPs ÷ FLOPS if that is more, where B is the largest batch that can fit on an
  instance (the KV cache filled with the trace's smallest request, at most the engine's limit); a prompt costs at
  least its FLOPs ÷ FLOPS. Summed over the trace that is a
  floor on busy instance-seconds however the work is spread or delayed; plus one cold start. It dominates when the
  trace needs more than one instance at a time.
The warm windows of a stage are a policy choice: the bound is the trace's, not the policy's, and ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_async_tools.simulation.batching import Batching


@dataclass(frozen=True)
class Work:
    """One request's arrival and size."""

    arrival_s: float
    prompt_tokens: float
    output_tokens: float


@dataclass(frozen=True)
class OfflineBound:
    gpu_hours: float
    """The larger of the two bounds."""
    single_instance_gpu_hours: float
    work_gpu_hours: float
    busy_periods: int
    cold_start_s: float
    largest_batch: int


def busy_periods(work: Sequence[Work], batching: Batching) -> list[tuple[float, float]]:
    """The union of [arrival, arrival + time alone] over the requests, as sorted disjoint intervals."""
    intervals = sorted((w.arrival_s, w.arrival_s + batching.roofline.alone_s(w.prompt_tokens, w.output_tokens)) for w in work)
    merged: list[tuple[float, float]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def idle_gaps(work: Sequence[Work], batching: Batching) -> list[float]:
    """Seconds between one busy period's end and the next one's start."""
    periods = busy_periods(work, batching)
    return [later[0] - earlier[1] for earlier, later in zip(periods, periods[1:])]


def offline_bound(work: Sequence[Work], batching: Batching, cold_start_s: float) -> OfflineBound:
    periods = busy_periods(work, batching)
    busy = sum(end - start for start, end in periods)
    gaps = [later[0] - earlier[1] for earlier, later in zip(periods, periods[1:])]
    single = cold_start_s + busy + sum(min(gap, cold_start_s) for gap in gaps)
    roofline = batching.roofline
    largest = batching.largest_batch(min(w.prompt_tokens + w.output_tokens for w in work))
    seconds = 0.0
    for w in work:
        decode_steps = max(w.output_tokens - 1, 0.0)
        # The KV bytes this sequence reads over its own steps: its context grows from prompt + 1 by one a step.
        context = w.prompt_tokens + 1 + decode_steps / 2
        per_token = max((roofline.weights_bytes / largest + roofline.kv_bytes_per_token * context) / roofline.bandwidth,
                        roofline.flops_per_token / roofline.flops)
        seconds += decode_steps * per_token + roofline.flops_per_token * w.prompt_tokens / roofline.flops
    by_work = cold_start_s + seconds
    return OfflineBound(max(single, by_work) / 3600, single / 3600, by_work / 3600, len(periods), cold_start_s, largest)
