"""The gated cycle: an online policy counted with the deadline bound's relaxations."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_async_tools.simulation.batching import Batching
from llm_async_tools.simulation.bound import Work, deadline_bound, largest_batch, work_s
from llm_async_tools.simulation.cycle import best_gated_cycle, gated_cycle
from tests.tools.simulation.conftest import COLD_S, REQUESTS, hours

DEADLINE_S = 500.0


def test_one_request_waits_as_long_as_its_deadline_allows(batching: Batching) -> None:
    # Launched deadline − cold start − its time alone after it arrives: its result comes exactly at the deadline, and
    # the instance costs the cold start, its time alone and the idle stretch.
    alone = batching.roofline.alone_s(100, 300)
    cycle = gated_cycle([Work(1000.0, 100, 300)], batching, COLD_S, DEADLINE_S, gate_s=0.0, idle_s=60.0)
    assert cycle.gpu_hours == hours(COLD_S + alone + 60.0)
    assert cycle.longest_s == pytest.approx(DEADLINE_S)
    assert (cycle.sessions, cycle.gate_s, cycle.idle_s) == (1, 0.0, 60.0)


def test_requests_held_while_the_instance_starts_share_its_cycle(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    wait = DEADLINE_S - COLD_S - alone
    # The second arrives just before the instance is ready: it waits for it, and both finish together.
    work = [Work(0.0, 100, 300), Work(wait + COLD_S - 1.0, 100, 300)]
    cycle = gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=0.0)
    assert cycle.sessions == 1
    assert cycle.gpu_hours == hours(COLD_S + alone)


def test_a_request_after_the_gate_is_held_for_the_next_cycle(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    ready = DEADLINE_S - alone
    late_arrival = ready + 10.0  # while the first request runs, but after a gate of 5 s
    work = [Work(0.0, 100, 300), Work(late_arrival, 100, 300)]
    held = gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=5.0)
    assert held.sessions == 2
    assert held.gpu_hours == hours(2 * (COLD_S + alone))
    assert held.longest_s == pytest.approx(DEADLINE_S)
    # A gate of 20 s lets it in: served on arrival, the instance runs on until its result.
    joined = gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=20.0)
    assert joined.sessions == 1
    assert joined.gpu_hours == hours(COLD_S + 10.0 + alone)
    assert joined.longest_s == pytest.approx(DEADLINE_S)


def test_a_held_request_joins_if_its_cycle_would_launch_while_the_instance_is_still_up(batching: Batching) -> None:
    # With a cold start of 10 s the next cycle would launch 500 − 10 − alone after the request, inside the 600 s idle
    # stretch that has just begun: joining is cheaper than a new cycle, so it joins despite a gate of 0.
    alone = batching.roofline.alone_s(100, 300)
    cold = 10.0
    ready = DEADLINE_S - alone
    work = [Work(0.0, 100, 300), Work(ready + alone + 1.0, 100, 300)]
    cycle = gated_cycle(work, batching, cold, DEADLINE_S, gate_s=0.0, idle_s=600.0)
    assert cycle.sessions == 1
    assert cycle.gpu_hours == hours(cold + alone + 1.0 + alone + 600.0)


def test_whether_a_held_request_joins_does_not_depend_on_the_lengths_of_requests_still_running(batching: Batching) -> None:
    # The second request arrives past the gate while the first still runs. Online, the first's length is unknown, so
    # the instance is surely up only idle_s (250 s) from now, and the next cycle would launch later (500 − 200 − the
    # longest time alone, 268.7 s): it is held, however long the first runs.
    cold, idle = 200.0, 250.0
    longest = batching.roofline.alone_s(1000, 900)
    ready = DEADLINE_S - longest
    cycles = []
    for first_output in (900, 300):
        work = [Work(0.0, 1000, first_output), Work(ready + 5.0, 1000, 300), Work(50_000.0, 1000, 900)]
        assert ready + 5.0 < ready + batching.roofline.alone_s(1000, first_output)  # the first is still running
        cycles.append(gated_cycle(work, batching, cold, DEADLINE_S, gate_s=0.0, idle_s=idle).sessions)
    assert cycles == [3, 3]


def test_an_open_gate_serves_what_arrives_while_up_and_releases_after_the_idle_stretch(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    ready = DEADLINE_S - alone
    first_end = ready + alone
    # One arrival inside the 60 s idle stretch (joins), one long after it (a new cycle).
    work = [Work(0.0, 100, 300), Work(first_end + 30.0, 100, 300), Work(first_end + 5000.0, 100, 300)]
    cycle = gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=math.inf, idle_s=60.0)
    assert cycle.sessions == 2
    assert cycle.gpu_hours == hours((COLD_S + alone + 30.0 + alone + 60.0) + (COLD_S + alone + 60.0))


def test_a_cycle_costs_at_least_its_requests_work(batching: Batching) -> None:
    # 3,000 requests at once: their time alone is one request's, but the instance pays their work.
    work = [Work(0.0, 200, 800) for _ in range(3000)]
    cycle = gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=0.0)
    largest = largest_batch(work, batching)
    assert cycle.gpu_hours == hours(COLD_S + 3000 * work_s(work[0], batching, largest))
    assert cycle.sessions == 1


def test_the_best_gate_is_the_cheapest_tried(batching: Batching) -> None:
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(DEADLINE_S - alone + 10.0, 100, 300)]
    best = best_gated_cycle(work, batching, COLD_S, DEADLINE_S, gates_s=(20.0, 5.0))
    assert best.gate_s == 20.0
    assert best == gated_cycle(work, batching, COLD_S, DEADLINE_S, gate_s=20.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"work": []}, "at least one request"),
        ({"gate_s": -1.0}, r"gate_s must be ≥ 0 \(got -1.0\)"),
        ({"idle_s": -1.0}, r"idle_s must be ≥ 0 \(got -1.0\)"),
        ({"deadline_s": 205.0}, r"deadline_s must be at least the cold start plus the longest time alone, 210\.3 s \(got 205\.0\)"),
    ],
)
def test_bad_arguments_are_refused_with_the_allowed_range(batching: Batching, kwargs: dict, message: str) -> None:
    arguments = {"work": [Work(0.0, 100, 300)], "deadline_s": DEADLINE_S, "gate_s": 0.0} | kwargs
    with pytest.raises(ValueError, match=message):
        gated_cycle(batching=batching, cold_start_s=COLD_S, **arguments)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(work=st.lists(REQUESTS, min_size=1, max_size=12), slack_s=st.floats(0, 1500),
       gate_s=st.sampled_from([0.0, 30.0, 240.0, math.inf]), idle_s=st.sampled_from([0.0, 60.0, 180.0]),
       cold_s=st.sampled_from([10.0, COLD_S, 600.0]))
def test_a_cycle_meets_the_deadline_and_pays_at_least_the_bound(batching: Batching, work: list[Work], slack_s: float,
                                                                 gate_s: float, idle_s: float, cold_s: float) -> None:
    """The cycle is a policy the deadline bound's relaxation admits: every result within the deadline, so it cannot pay
    less than the bound (with the same idle stretch, none late). Either failing means one of the two is wrong."""
    deadline = cold_s + max(batching.roofline.alone_s(w.prompt_tokens, w.output_tokens) for w in work) + slack_s
    cycle = gated_cycle(work, batching, cold_s, deadline, gate_s=gate_s, idle_s=idle_s)
    assert cycle.longest_s <= deadline + 1e-6
    bound = deadline_bound(work, batching, cold_s, deadline, idle_s=idle_s)
    assert bound.gpu_hours <= cycle.gpu_hours + 1e-9
