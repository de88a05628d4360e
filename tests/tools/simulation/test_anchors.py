"""The anchor policies behave as their sources document, on our endpoint."""

from __future__ import annotations

import pytest

from llm_async_tools.simulation.anchors import always_on, anchor_policies, aws_documented, seed_option_1, seed_option_2
from llm_async_tools.simulation.model import ScalingModel
from tests.tools.simulation.conftest import EXACT, SERVICE_S, run


def test_anchors_share_our_endpoint_but_not_our_policy(staging_policy: ScalingModel) -> None:
    names = []
    for anchor in anchor_policies(staging_policy):
        names.append(anchor.name)
        assert (anchor.instance_type, anchor.concurrency_per_instance, anchor.request_ttl_s) == (
            staging_policy.instance_type, staging_policy.concurrency_per_instance, staging_policy.request_ttl_s)
        assert anchor.wake_alarm is None and not anchor.scheduled_actions
    assert names == ["seed-option-1", "seed-option-2", "aws-documented", "always-on"]


def test_always_on_bills_the_whole_day_and_never_scales(ours: ScalingModel) -> None:
    result = run(always_on(ours), [100.0, 50000.0])
    # A lone request takes its service time: the time alone on an idle instance it stands for.
    assert (result.gpu_hours, result.scale_events, result.ttr_s) == (24.0, 0, pytest.approx((SERVICE_S, SERVICE_S)))


def test_seed_option_1_scales_in_one_to_two_hours_after_load_ends(ours: ScalingModel) -> None:
    # One request a minute for 3 h, 70 s each: about 1.2 per instance, above the 0.5 scale-in threshold.
    result = run(seed_option_1(ours), [60.0 * i for i in range(180)], service_s=70.0)
    load_end_s = 179 * 60 + 70
    (wake, scale_in) = result.changes
    assert (wake.time_s, wake.after) == (120.0, 1)  # HasBacklogWithoutCapacity 1 of 1 minute, seen a minute late
    # Both of the last two hourly averages must fall to ≤ 0.5: not before an hour, within two.
    assert scale_in.after == 0 and load_end_s + 3600 < scale_in.time_s <= load_end_s + 2 * 3600 + 120


def test_seed_option_2_never_wakes_for_a_single_request(ours: ScalingModel) -> None:
    # Target tracking at 1.0 needs more than one request per instance for three minutes.
    result = run(seed_option_2(ours), [600.0])
    assert (result.scale_events, result.ttr_s, result.expired) == (0, (), 1)


def test_seed_option_2_scales_out_after_three_minutes_above_target(staging_policy: ScalingModel) -> None:
    result = run(seed_option_2(staging_policy), [600.0, 600.0])
    # Minutes 10, 11 and 12 average 2 per instance (> 1.0): seen at 13:00 + lag; capacity ⌈1 × 2 / 1⌉ = 2.
    assert (result.changes[0].time_s, result.changes[0].after) == (13 * 60 + EXACT.metric_lag_s, 2)


def test_aws_documented_wakes_after_two_minutes_of_backlog_without_capacity(ours: ScalingModel) -> None:
    result = run(aws_documented(ours), [600.0])
    # Average ≥ 1 in minutes 10 and 11 (2 of 2), seen at 12:00 + lag.
    assert (result.changes[0].time_s, result.changes[0].after) == (12 * 60 + EXACT.metric_lag_s, 1)


def test_aws_documented_scales_in_when_backlog_per_instance_falls_below_ninety_percent_of_target(ours: ScalingModel) -> None:
    result = run(aws_documented(ours), [600.0])
    scale_in = result.changes[-1]
    assert scale_in.after == 0 and scale_in.cause == "scale-endpoint-variant"
    assert result.ttr_s == (pytest.approx(12 * 60 + EXACT.metric_lag_s + EXACT.provisioning_s + SERVICE_S - 600),)
