"""Analytic cases: the simulated scaling happens when the alarm arithmetic says it must."""

from __future__ import annotations

import copy
import dataclasses
import math
from zoneinfo import ZoneInfo

import pytest

from llm_async.api.runtime.inference_api.contract import VARIABLES
from llm_async_tools.simulation.engine import simulate
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters
from llm_async_tools.simulation.template import read_scaling_model
from llm_async_tools.simulation.trace import TracedRequest
from tests.synths import Synthesized
from tests.tools.simulation.conftest import EXACT, MONDAY, PROVISIONING_S, SERVICE_S, run

DIRECT = dataclasses.replace(EXACT, api_wake=False)


@pytest.mark.parametrize("arrival_s", [5.0, 3600.0, 3659.5])
@pytest.mark.parametrize("lag_s", [0.0, 60.0, 90.0])
def test_one_request_at_zero_wakes_when_the_alarm_first_sees_its_minute(ours: ScalingModel, arrival_s: float, lag_s: float) -> None:
    result = run(ours, [arrival_s], dataclasses.replace(DIRECT, metric_lag_s=lag_s))
    # The minute holding the arrival closes at its end; the alarm sees it lag_s later: 1 of 1 ≥ 1 → +1.
    wake_s = (math.floor(arrival_s / 60) + 1) * 60 + lag_s
    assert (result.changes[0].time_s, result.changes[0].before, result.changes[0].after) == (wake_s, 0, 1)
    assert result.ttr_s == (pytest.approx(wake_s + PROVISIONING_S + SERVICE_S - arrival_s),)


def test_the_api_wakes_at_the_request(ours: ScalingModel) -> None:
    result = run(ours, [3605.0])
    assert (result.changes[0].time_s, result.changes[0].after) == (3605.0, 1)
    assert result.ttr_s == (PROVISIONING_S + SERVICE_S,)


@pytest.mark.parametrize(("policy", "minutes"), [("ours", 3), ("fifteen_minute_window", 15)])
def test_idle_scale_in_after_the_windows_empty_minutes(request: pytest.FixtureRequest, policy: str, minutes: int) -> None:
    # The template's default window (3 minutes), and a template synthesized with the former 15.
    model: ScalingModel = request.getfixturevalue(policy)
    result = run(model, [3605.0])
    finished_s = 3605.0 + PROVISIONING_S + SERVICE_S
    # The last minute with backlog is the one the request finished in; `minutes` empty minutes later, plus the lag.
    scale_in_s = (math.floor(finished_s / 60) + minutes + 1) * 60 + EXACT.metric_lag_s
    assert [(c.time_s, c.after) for c in result.changes] == [(3605.0, 1), (scale_in_s, 0)]
    assert result.gpu_hours == pytest.approx((scale_in_s - 3605.0) / 3600)
    assert result.scale_events == 2


def test_requests_older_than_the_ttl_expire(synthesized: dict[str, Synthesized]) -> None:
    template = copy.deepcopy(synthesized["sandbox"].template_json)
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if VARIABLES["request_ttl_s"] in variables:
            variables[VARIABLES["request_ttl_s"]] = "300"
    model = read_scaling_model(template)
    # Woken at 120 s, serving at 540 s: the two at 10 s are past their 300 s, the one at 400 s is not.
    result = run(model, [10.0, 10.0, 400.0], DIRECT)
    assert result.expired == 2
    assert result.ttr_s == (pytest.approx(120 + PROVISIONING_S + SERVICE_S - 400),)


def test_warm_window_raises_and_returns_the_minimum(prod: Synthesized) -> None:
    model = read_scaling_model(prod.template_json)
    start = MONDAY.replace(tzinfo=ZoneInfo("America/New_York"))
    result = simulate(model, [TracedRequest(2 * 86400 - 60)], EXACT, start=start)
    first = [(c.time_s, c.before, c.after, c.cause) for c in result.changes[:2]]
    assert first[0] == (8 * 3600, 0, 1, "WarmWindow1Start")
    # At 18:00 the minimum drops to 0 and the idle alarm, in ALARM all day, scales in at its next evaluation.
    assert (first[1][1], first[1][2]) == (1, 0) and 18 * 3600 <= first[1][0] <= 18 * 3600 + 60 + EXACT.metric_lag_s


def test_same_seed_same_result_and_jitter_changes_it(ours: ScalingModel) -> None:
    jittered = SimulationParameters(seed=3, duration_s=6 * 3600)
    arrivals = [100.0, 5000.0, 20000.0]
    assert run(ours, arrivals, jittered) == run(ours, arrivals, jittered)
    assert run(ours, arrivals, jittered).gpu_hours != run(ours, arrivals, dataclasses.replace(jittered, seed=4)).gpu_hours
