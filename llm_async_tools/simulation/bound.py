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

The first bound holds only for policies that serve requests as they come. `deadline_bound` covers those that make
requests wait: what any policy must pay if all but a few results may come as late as a deadline (an anchor's p95),
and what a policy must pay whose instances sit an idle window before they are released.
"""

from __future__ import annotations

import math
from collections import deque
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
    largest = largest_batch(work, batching)
    by_work = cold_start_s + sum(work_s(w, batching, largest) for w in work)
    return OfflineBound(max(single, by_work) / 3600, single / 3600, by_work / 3600, len(periods), cold_start_s, largest)


def largest_batch(work: Sequence[Work], batching: Batching) -> int:
    """The most sequences an instance can run at once: its KV cache filled with the trace's smallest request."""
    return batching.largest_batch(min(w.prompt_tokens + w.output_tokens for w in work))


def work_s(w: Work, batching: Batching, largest: int) -> float:
    """The fewest instance-seconds one request's tokens can take, in a batch of `largest` (its share of the work bound)."""
    roofline = batching.roofline
    decode_steps = max(w.output_tokens - 1, 0.0)
    # The KV bytes this sequence reads over its own steps: its context grows from prompt + 1 by one a step.
    context = w.prompt_tokens + 1 + decode_steps / 2
    per_token = max((roofline.weights_bytes / largest + roofline.kv_bytes_per_token * context) / roofline.bandwidth,
                    roofline.flops_per_token / roofline.flops)
    return decode_steps * per_token + roofline.flops_per_token * w.prompt_tokens / roofline.flops


@dataclass(frozen=True)
class InOrder:
    """A trace's requests in arrival order, with what deadline_bound and cycle.gated_cycle charge each: its time alone
    and its share of the work bound (work_s at the trace's largest batch)."""

    arrivals_s: tuple[float, ...]
    alone_s: tuple[float, ...]
    work_s: tuple[float, ...]


def in_arrival_order(work: Sequence[Work], batching: Batching) -> InOrder:
    ordered = sorted(work, key=lambda w: w.arrival_s)
    largest = largest_batch(ordered, batching)
    return InOrder(
        tuple(w.arrival_s for w in ordered),
        tuple(batching.roofline.alone_s(w.prompt_tokens, w.output_tokens) for w in ordered),
        tuple(work_s(w, batching, largest) for w in ordered),
    )


def late_allowance(requests: int, fraction: float = 0.95) -> int:
    """How many of `requests` may take longer than a p95 deadline (report.percentile takes the ⌈0.95 n⌉-th smallest)."""
    return requests - max(math.ceil(fraction * requests), 1)


THETAS = tuple(k / 10 for k in range(11))
"""Weights of a session's span against its work that deadline_bound tries (each gives a valid bound)."""
LATE_PRICES = 24
"""Prices of a late request that deadline_bound tries for each weight (each gives a valid bound)."""


@dataclass(frozen=True)
class DeadlineBound:
    gpu_hours: float
    deadline_s: float
    """All requests but `late` have their result within this of their arrival."""
    idle_s: float
    """Each instance sits this long without work, in one stretch, before it is released."""
    late: int
    """Requests whose result may come later (the bound serves them for free)."""


def deadline_bound(work: Sequence[Work], batching: Batching, cold_start_s: float, deadline_s: float, *,
                   idle_s: float = 0.0, late: int = 0) -> DeadlineBound:
    """A lower bound on the GPU instance-hours of any policy, on any number of instances, that gives all but `late`
    requests their result within `deadline_s` of arrival and releases an instance only after it has sat `idle_s` in
    one stretch with no request waiting or running (0: any policy; an idle window of W minutes: W × 60).

    Each instance's life from launch to release (a session) is billed; it serves requests once ready, a cold start S
    after launch (the mean: with jittered cold starts the bound holds on average). Relaxed, so that any real policy
    pays at least what is computed:
    - perfect foresight: a session may launch before its first request arrives;
    - every request takes the trace's shortest time alone s, whatever shares the GPU. A session serving requests that
      arrive at a_first ≤ … ≤ a_last within the deadline D launches at the latest at a_first + D − s − S and ends no
      sooner than a_last + s, and once ready it holds at least one request's s and, apart from it, the idle stretch:
      it lasts at least S + s + max(idle, a_last − a_first − (D − s)) (its span); and at least its work,
      S + idle + Σ work_s (the work bound's floor for each request, with the idle stretch apart);
    - the late requests cost nothing.
    So a session costs at least θ × span + (1 − θ) × work for every θ in [0, 1]. At that cost the cheapest split of the
    requests into sessions takes consecutive runs of arrivals (two interleaved sessions can be uncrossed without
    widening either span, and the work is the same whoever serves it): a dynamic program in arrival order. Late
    requests are priced rather than counted (Lagrangian relaxation: for any price λ ≥ 0 the cheapest cost with each
    late request charged λ, minus λ × `late`, is at most the cheapest cost with `late` of them free). The prices tried
    are at least (1 − θ) × the largest work_s, so that dropping a request from inside a session never pays and only
    whole runs need the program. The bound is the best over THETAS and LATE_PRICES.
    """
    if not work:
        raise ValueError("deadline_bound needs at least one request")
    if idle_s < 0:
        raise ValueError(f"idle_s must be ≥ 0 (got {idle_s})")
    if not 0 <= late < len(work):
        raise ValueError(f"late must be 0–{len(work) - 1} (got {late})")
    requests = in_arrival_order(work, batching)
    alone = min(requests.alone_s)
    if deadline_s < alone:
        raise ValueError(f"deadline_s must be at least the shortest request's time alone, {alone:.1f} s (got {deadline_s})")
    arrivals, works = requests.arrivals_s, requests.work_s
    # S + s + max(idle, excess) = (S + s + idle) + max(0, a_last − a_first − (D − s + idle)).
    reach_s = deadline_s - alone + idle_s
    best = -math.inf
    for theta in THETAS:
        fixed = theta * (cold_start_s + alone + idle_s) + (1 - theta) * (cold_start_s + idle_s)
        weighted = [0.0]  # the weighted work of the first i requests
        for w in works:
            weighted.append(weighted[-1] + (1 - theta) * w)
        if late:
            # From the least price that keeps drops inside a session unprofitable, up by one more session's fixed cost.
            low = (1 - theta) * max(works)
            prices = [low + fixed * k / (LATE_PRICES - 1) for k in range(LATE_PRICES)]
        else:
            prices = [math.inf]
        for price in prices:
            cost = _cheapest_sessions(arrivals, weighted, reach_s, theta, fixed, price)
            best = max(best, cost - price * late if late else cost)
    return DeadlineBound(best / 3600, deadline_s, idle_s, late)


def _cheapest_sessions(arrivals: Sequence[float], weighted: Sequence[float], reach_s: float, theta: float, fixed: float,
                       price: float) -> float:
    """The least Σ over runs of (fixed + θ × max(0, a_last − a_first − reach) + (1 − θ) × its work) + price × dropped,
    over the ways to split the sorted arrivals into runs and dropped requests.

    cheapest[i] covers the first i requests. Ending a run at i, a start j with a_j ≤ a_i − reach (a prefix of the
    starts, the arrivals being sorted) pays θ × (a_i − reach − a_j): a running minimum of offset[j] − θ × a_j; a later
    start pays no span: a sliding-window minimum of offset[j] (a monotone queue), where offset[j] is cheapest[j]
    less the weighted work of the first j requests (weighted[j]: (1 − θ) × their work).
    """
    cheapest = [0.0]
    offset: list[float] = []
    spanning = math.inf  # min over j < first_within of offset[j] − θ × a_j
    window: deque[int] = deque()
    first_within = 0
    for i, arrival in enumerate(arrivals):
        offset.append(cheapest[i] - weighted[i])
        while window and offset[window[-1]] >= offset[i]:
            window.pop()
        window.append(i)
        # The starts far enough back to pay span: a prefix that only grows, the arrivals being sorted.
        while first_within <= i and arrivals[first_within] <= arrival - reach_s:
            spanning = min(spanning, offset[first_within] - theta * arrivals[first_within])
            first_within += 1
        while window and window[0] < first_within:
            window.popleft()
        run = math.inf
        if first_within > 0:
            run = spanning + theta * (arrival - reach_s)
        if window:
            run = min(run, offset[window[0]])
        cheapest.append(min(cheapest[i] + price, run + fixed + weighted[i + 1]))
    return cheapest[-1]
