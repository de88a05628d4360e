"""The offline lower bounds on GPU-hours: one instance with perfect foresight, the work bound for several, and the
bound for policies that make requests wait up to a deadline."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_async_tools.simulation.anchors import anchor_policies
from llm_async_tools.simulation.batching import Batching
from llm_async_tools.simulation.bound import (
    Work,
    busy_periods,
    deadline_bound,
    idle_gaps,
    largest_batch,
    late_allowance,
    offline_bound,
    work_s,
)
from llm_async_tools.simulation.engine import simulate, work_of
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters
from llm_async_tools.simulation.report import percentile
from llm_async_tools.simulation.sweep import idle_policy
from llm_async_tools.simulation.trace import read_trace
from tests.tools.simulation.conftest import COLD_S, MONDAY, REQUESTS, hours


def test_busy_periods_are_the_union_of_each_request_alone(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(alone / 2, 100, 300), Work(1000.0, 100, 300)]
    assert busy_periods(work, batching) == [(0.0, pytest.approx(1.5 * alone)), (1000.0, pytest.approx(1000 + alone))]
    assert idle_gaps(work, batching) == [pytest.approx(1000 - 1.5 * alone)]


def test_one_instance_pays_each_gap_or_a_cold_start_whichever_is_less(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    short_gap, long_gap = 50.0, 5000.0
    work = [Work(0.0, 100, 300), Work(alone + short_gap, 100, 300), Work(2 * alone + short_gap + long_gap, 100, 300)]
    bound = offline_bound(work, batching, COLD_S)
    # The first start, three requests' time alone, the short gap kept warm, the long one a stop and a cold start.
    expected = COLD_S + 3 * alone + short_gap + COLD_S
    assert bound.single_instance_gpu_hours == pytest.approx(expected / 3600)
    assert bound.gpu_hours == pytest.approx(expected / 3600)
    assert bound.busy_periods == 3


def test_several_instances_are_bounded_by_the_work_at_the_largest_batch(batching: Batching) -> None:
    roofline = batching.roofline
    # 3,000 requests at once: one instance's busy period is one request's time alone, but the work is 3,000 requests'.
    work = [Work(0.0, 200, 800) for _ in range(3000)]
    bound = offline_bound(work, batching, COLD_S)
    largest = batching.largest_batch(1000)
    per_token = (roofline.weights_bytes / largest + roofline.kv_bytes_per_token * (200 + 1 + 799 / 2)) / roofline.bandwidth
    prefill = roofline.flops_per_token * 200 / roofline.flops
    assert bound.largest_batch == largest == 128
    assert bound.work_gpu_hours == pytest.approx((COLD_S + 3000 * (799 * per_token + prefill)) / 3600)
    assert bound.gpu_hours == bound.work_gpu_hours > bound.single_instance_gpu_hours


# --- deadline_bound: policies that may make requests wait up to a deadline.

DEADLINE_S = 400.0


def test_one_request_costs_a_cold_start_its_time_alone_and_the_idle_stretch(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    bound = deadline_bound([Work(1000.0, 100, 300)], batching, COLD_S, DEADLINE_S, idle_s=120.0)
    assert bound.gpu_hours == hours(COLD_S + alone + 120.0)
    assert (bound.deadline_s, bound.idle_s, bound.late) == (DEADLINE_S, 120.0, 0)


def test_the_idle_stretch_can_sit_in_the_wait_for_a_later_request(batching: Batching) -> None:
    # Two requests 2,000 s apart in one session: the instance waits between them anyway, and that wait holds the
    # 180 s idle stretch, so it costs no more than without one.
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(2000.0, 100, 300)]
    with_idle = deadline_bound(work, batching, 3000.0, DEADLINE_S, idle_s=180.0)
    without = deadline_bound(work, batching, 3000.0, DEADLINE_S)
    assert with_idle.gpu_hours == without.gpu_hours == hours(3000.0 + alone + 2000.0 - (DEADLINE_S - alone))


def test_requests_within_the_deadlines_reach_share_one_session(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    # The second arrives as late as the first's result may wait: one launch serves both in time.
    work = [Work(0.0, 100, 300), Work(DEADLINE_S - alone, 100, 300)]
    assert deadline_bound(work, batching, COLD_S, DEADLINE_S).gpu_hours == hours(COLD_S + alone)


def test_farther_apart_a_session_pays_the_excess_span_or_there_are_two(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    reach = DEADLINE_S - alone
    for excess in (50.0, 2000.0):
        work = [Work(0.0, 100, 300), Work(reach + excess, 100, 300)]
        one, two = COLD_S + alone + excess, 2 * (COLD_S + alone)
        assert deadline_bound(work, batching, COLD_S, DEADLINE_S).gpu_hours == hours(min(one, two))


def test_the_work_bounds_a_session_that_the_span_does_not(batching: Batching) -> None:
    # 3,000 requests at once: one instance's span is one request's time alone, but the work is 3,000 requests'.
    work = [Work(0.0, 200, 800) for _ in range(3000)]
    largest = largest_batch(work, batching)
    expected = COLD_S + 3000 * work_s(work[0], batching, largest)
    assert deadline_bound(work, batching, COLD_S, DEADLINE_S).gpu_hours == hours(expected)
    assert expected / 3600 == pytest.approx(offline_bound(work, batching, COLD_S).work_gpu_hours)


def test_a_deadline_of_the_time_alone_leaves_no_wait(batching: Batching) -> None:
    # No request may wait at all: each needs an instance ready at its arrival, and a gap of a second still costs it.
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(alone + 1.0, 100, 300)]
    assert deadline_bound(work, batching, COLD_S, alone).gpu_hours == hours(COLD_S + 2 * alone + 1.0)


def test_a_late_request_is_served_for_free(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(10.0, 100, 300), Work(20.0, 100, 300), Work(9000.0, 100, 300)]
    on_time = deadline_bound(work, batching, COLD_S, DEADLINE_S)
    one_late = deadline_bound(work, batching, COLD_S, DEADLINE_S, late=1)
    assert on_time.gpu_hours == hours(2 * (COLD_S + alone))
    assert one_late.gpu_hours == hours(COLD_S + alone)
    assert one_late.late == 1


def test_a_longer_idle_stretch_or_an_earlier_deadline_never_lowers_the_bound(batching: Batching) -> None:
    work = [Work(float(t), 233, 700) for t in (0, 90, 300, 700, 1600, 1700, 5000)]
    by_idle = [deadline_bound(work, batching, COLD_S, DEADLINE_S, idle_s=k).gpu_hours for k in (0, 60, 180, 600)]
    by_deadline = [deadline_bound(work, batching, COLD_S, d).gpu_hours for d in (1200.0, 600.0, 400.0, 100.0)]
    assert by_idle == sorted(by_idle) and by_idle[0] < by_idle[-1]
    assert by_deadline == sorted(by_deadline) and by_deadline[0] < by_deadline[-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"work": []}, "at least one request"),
        ({"idle_s": -1.0}, r"idle_s must be ≥ 0 \(got -1.0\)"),
        ({"late": 2}, r"late must be 0–1 \(got 2\)"),
        ({"late": -1}, r"late must be 0–1 \(got -1\)"),
        ({"deadline_s": 1.0}, r"deadline_s must be at least the shortest request's time alone, \d+\.\d s \(got 1.0\)"),
    ],
)
def test_bad_arguments_are_refused_with_the_allowed_range(batching: Batching, kwargs: dict, message: str) -> None:
    arguments = {"work": [Work(0.0, 100, 300), Work(50.0, 100, 300)], "deadline_s": DEADLINE_S, **kwargs}
    with pytest.raises(ValueError, match=message):
        deadline_bound(arguments.pop("work"), batching, COLD_S, arguments.pop("deadline_s"), **arguments)


@pytest.mark.parametrize(("requests", "late"), [(1, 0), (19, 0), (20, 1), (406, 20), (863, 43), (9002, 450)])
def test_late_allowance_is_what_the_reports_p95_lets_exceed_the_deadline(requests: int, late: int) -> None:
    assert late_allowance(requests) == late
    # report.percentile's p95 of `late` values above the deadline and the rest at it is the deadline itself.
    values = [100.0] * (requests - late) + [1e9] * late
    assert percentile(values, 0.95) == 100.0
    if late + 1 <= requests:
        assert percentile([100.0] * (requests - late - 1) + [1e9] * (late + 1), 0.95) == 1e9


def _partitions(items: Sequence[int]) -> Iterator[list[list[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _partitions(rest):
        for index in range(len(partition)):
            yield [*partition[:index], [first, *partition[index]], *partition[index + 1:]]
        yield [[first], *partition]


def _session_s(arrivals: Sequence[float], alone: Sequence[float], deadline_s: float, idle_s: float) -> float:
    """The shortest session (launch to release) that serves these requests, each in its own time alone (all at once if
    need be), every result within the deadline, and holds the idle stretch apart from every request's run: over every
    choice of the requests run before the stretch, the latest feasible launch (a later launch never lengthens it)."""
    best = math.inf
    for early in itertools.chain.from_iterable(itertools.combinations(range(len(arrivals)), k) for k in range(len(arrivals) + 1)):
        later = [i for i in range(len(arrivals)) if i not in early]

        def finish(launch: float) -> float | None:
            """When the session ends if launched then, or None if a result misses its deadline."""
            ends = [max(arrivals[i], launch + COLD_S) + alone[i] for i in early]
            idle_from = max(ends, default=launch + COLD_S)
            ends += [max(arrivals[i], idle_from + idle_s) + alone[i] for i in later]
            if any(end > arrivals[i] + deadline_s for i, end in zip([*early, *later], ends)):
                return None
            return max([*ends, idle_from + idle_s])

        low, high = min(arrivals) - COLD_S - idle_s - 10 * deadline_s, max(arrivals) + deadline_s
        if finish(low) is None:
            continue
        for _ in range(100):
            middle = (low + high) / 2
            low, high = (middle, high) if finish(middle) is not None else (low, middle)
        best = min(best, finish(low) - low)
    return best


def _exact(work: Sequence[Work], batching: Batching, deadline_s: float, idle_s: float, late: int) -> float:
    """The relaxed problem solved by enumeration, with each request's own time alone: every choice of late requests,
    every split of the others into sessions (not only runs of consecutive arrivals), every place for the idle stretch."""
    alone = [batching.roofline.alone_s(w.prompt_tokens, w.output_tokens) for w in work]
    largest = largest_batch(work, batching)
    works = [work_s(w, batching, largest) for w in work]
    best = math.inf
    for dropped in itertools.chain.from_iterable(itertools.combinations(range(len(work)), k) for k in range(late + 1)):
        kept = [i for i in range(len(work)) if i not in dropped]
        if any(alone[i] > deadline_s for i in kept):
            continue
        for partition in _partitions(kept):
            total = 0.0
            for session in partition:
                span = _session_s([work[i].arrival_s for i in session], [alone[i] for i in session], deadline_s, idle_s)
                total += max(span, COLD_S + idle_s + sum(works[i] for i in session))
            best = min(best, total)
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(work=st.lists(REQUESTS, min_size=1, max_size=5), deadline_s=st.floats(60, 1500),
       idle_s=st.sampled_from([0.0, 60.0, 180.0]), late=st.integers(0, 2))
def test_the_bound_never_exceeds_the_relaxed_problems_exact_optimum(batching: Batching, work: list[Work], deadline_s: float,
                                                                     idle_s: float, late: int) -> None:
    late = min(late, len(work) - 1)
    exact = _exact(work, batching, deadline_s, idle_s, late)
    bound = deadline_bound(work, batching, COLD_S, deadline_s, idle_s=idle_s, late=late).gpu_hours * 3600
    assert bound <= exact + 1e-6


@pytest.mark.parametrize("trace_name", ["sparse_day", "spike"])
def test_no_simulated_policy_pays_less_than_the_deadline_bound(ours: ScalingModel, trace_name: str) -> None:
    """The bound against the simulator: ours and every anchor that lets nothing expire, on a reference trace, pay at
    least the bound with their own longest time to result as the deadline and none late; for ours with its idle
    window as the idle stretch (its only scale-in, on a sandbox of one instance, waits for that many empty minutes),
    for the anchors with none (target tracking scales in with work still running). Exact cold starts: the bound
    takes every instance's to be the mean."""
    params = SimulationParameters(provisioning_jitter=0)
    trace = read_trace(Path(__file__).resolve().parents[3] / "benchmarks" / "traces" / f"{trace_name}.csv")
    batching = params.batching(ours)
    work = [work_of(r, params, batching) for r in trace]
    cold_s = params.cold_start(ours).total_s
    checked = 0
    for policy in [ours, *anchor_policies(ours)]:
        result = simulate(policy, trace, params, start=MONDAY)
        if result.expired:
            continue
        idle_s = idle_policy(ours).alarm.evaluation_periods * 60.0 if policy is ours else 0.0
        bound = deadline_bound(work, batching, cold_s, max(result.ttr_s), idle_s=idle_s)
        assert bound.gpu_hours <= result.gpu_hours, policy.name
        checked += 1
    assert checked >= 4
