"""The offline lower bound on GPU-hours: one instance with perfect foresight, and the work bound for several."""

from __future__ import annotations

import pytest

from llm_async_tools.simulation.bound import Work, busy_periods, idle_gaps, offline_bound
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters

COLD_S = 200.0


def test_busy_periods_are_the_union_of_each_request_alone(ours: ScalingModel) -> None:
    batching = SimulationParameters().batching(ours)
    alone = batching.roofline.alone_s(100, 300)
    work = [Work(0.0, 100, 300), Work(alone / 2, 100, 300), Work(1000.0, 100, 300)]
    assert busy_periods(work, batching) == [(0.0, pytest.approx(1.5 * alone)), (1000.0, pytest.approx(1000 + alone))]
    assert idle_gaps(work, batching) == [pytest.approx(1000 - 1.5 * alone)]


def test_one_instance_pays_each_gap_or_a_cold_start_whichever_is_less(ours: ScalingModel) -> None:
    batching = SimulationParameters().batching(ours)
    alone = batching.roofline.alone_s(100, 300)
    short_gap, long_gap = 50.0, 5000.0
    work = [Work(0.0, 100, 300), Work(alone + short_gap, 100, 300), Work(2 * alone + short_gap + long_gap, 100, 300)]
    bound = offline_bound(work, batching, COLD_S)
    # The first start, three requests' time alone, the short gap kept warm, the long one a stop and a cold start.
    expected = COLD_S + 3 * alone + short_gap + COLD_S
    assert bound.single_instance_gpu_hours == pytest.approx(expected / 3600)
    assert bound.gpu_hours == pytest.approx(expected / 3600)
    assert bound.busy_periods == 3


def test_several_instances_are_bounded_by_the_work_at_the_largest_batch(ours: ScalingModel) -> None:
    batching = SimulationParameters().batching(ours)
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
