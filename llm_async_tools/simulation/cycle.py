"""An online policy counted with the deadline bound's relaxations: how close a policy without foresight comes to it.

bound.deadline_bound says what no policy can beat, even knowing every arrival in advance. The gated cycle is a policy
that knows only the past (and, as a stand-in for the output budget's worst case, the trace's longest time alone),
counted with the bound's relaxations but one: each request takes its own time alone, where the bound gives every
request the trace's shortest. Its GPU-hours are what this policy pays when nothing real (batching slowdowns,
cold-start jitter, metric lag) gets in its way; above them lies what it cannot reach on the trace. The gap down to the
bound mixes what foresight is worth with that one difference and the bound's own slack.

The policy holds requests itself (as an API that queues them could; SageMaker's own queue serves whatever arrives
while an instance is up) and dispatches them in cycles:
- the first held request starts a cycle: an instance launches as late as lets that request finish within the deadline
  whatever its size, deadline − cold start − the longest time alone after the request's arrival;
- a request arriving before the instance is ready, or within `gate_s` after, joins the cycle; a later one is held for
  the next cycle, unless that cycle would launch while this instance is surely still up (then joining is cheaper);
- the instance is released `idle_s` after its last request finishes (0: the moment its work drains, which needs an
  event-driven release; a scale-in driven by one-minute alarms, like ours, sits at least a minute idle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from llm_async_tools.simulation.batching import Batching
from llm_async_tools.simulation.bound import InOrder, Work, in_arrival_order

GATES_S = (0.0, 30.0, 60.0, 120.0, 240.0, 600.0, 1200.0, 1800.0, 3600.0, math.inf)
"""The gates best_gated_cycle tries (inf: every request that arrives while the instance is up joins its cycle)."""


@dataclass(frozen=True)
class Cycle:
    gpu_hours: float
    sessions: int
    """Instances launched, one per cycle."""
    gate_s: float
    idle_s: float
    longest_s: float
    """The longest time from a request's arrival to its result."""


def gated_cycle(work: Sequence[Work], batching: Batching, cold_start_s: float, deadline_s: float, *, gate_s: float,
                idle_s: float = 0.0) -> Cycle:
    """The gated cycle (module docstring) on `work`, charged with deadline_bound's relaxations: each request takes its
    own time alone whatever shares the GPU, the cold start is its mean, and an instance costs at least the cold start,
    the idle stretch and its requests' work_s (the work bound's floor, which stands for the batch's capacity). Its
    cycles are runs of consecutive arrivals, each lasting at least the bound's session, so a cycle pays at least
    deadline_bound(…, idle_s=idle_s), and every result comes within the deadline (to the last bit of rounding)."""
    if not work:
        raise ValueError("gated_cycle needs at least one request")
    return _cycle(in_arrival_order(work, batching), cold_start_s, deadline_s, gate_s, idle_s)


def shortest_deadline_s(requests: InOrder, cold_start_s: float) -> float:
    """The least deadline a gated cycle can meet: a cycle launches no sooner than its first request arrives, so that
    request's result needs the cold start plus its time alone, whichever request it is."""
    return cold_start_s + max(requests.alone_s)


def _cycle(requests: InOrder, cold_start_s: float, deadline_s: float, gate_s: float, idle_s: float) -> Cycle:
    if gate_s < 0:
        raise ValueError(f"gate_s must be ≥ 0 (got {gate_s})")
    if idle_s < 0:
        raise ValueError(f"idle_s must be ≥ 0 (got {idle_s})")
    arrivals, alone = requests.arrivals_s, requests.alone_s
    shortest = shortest_deadline_s(requests, cold_start_s)
    if deadline_s < shortest:
        raise ValueError(f"deadline_s must be at least the cold start plus the longest time alone, {shortest:.1f} s"
                         f" (got {deadline_s})")
    wait_s = deadline_s - shortest
    total_s = 0.0
    sessions = 0
    longest = 0.0
    i = 0
    while i < len(arrivals):
        launch = arrivals[i] + wait_s
        ready = launch + cold_start_s
        end = ready  # the last admitted request's result
        floor = cold_start_s + idle_s
        while i < len(arrivals):
            arrival = arrivals[i]
            release = end + idle_s  # if nothing else joins
            if arrival > release:
                break  # the instance is gone: a new cycle
            # Past the gate, join only if the next cycle would launch while this instance is surely still up, from
            # what is known now: idle_s after its last result, or, while requests run (their lengths unknown), at
            # least idle_s after now.
            surely_up_until = min(end, arrival) + idle_s
            if arrival >= ready + gate_s and arrival + wait_s > surely_up_until:
                break  # held for the next cycle
            finish = max(arrival, ready) + alone[i]
            end = max(end, finish)
            longest = max(longest, finish - arrival)
            floor += requests.work_s[i]
            i += 1
        total_s += max(end + idle_s - launch, floor)
        sessions += 1
    return Cycle(total_s / 3600, sessions, gate_s, idle_s, longest)


def best_gated_cycle(work: Sequence[Work], batching: Batching, cold_start_s: float, deadline_s: float, *,
                     idle_s: float = 0.0, gates_s: Sequence[float] = GATES_S) -> Cycle:
    """The cheapest gated cycle over `gates_s`. The gate is chosen on the trace it is scored on, which gives the policy
    a little foresight: the figure flatters it."""
    if not work:
        raise ValueError("gated_cycle needs at least one request")
    requests = in_arrival_order(work, batching)
    return min((_cycle(requests, cold_start_s, deadline_s, g, idle_s) for g in gates_s), key=lambda c: c.gpu_hours)
