"""The endpoint's settings and its scaling: `EndpointConfig`, `ScalingConfig`, `WarmWindow`, each bad value one line."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from llm_async.endpoint.config import EndpointConfig, ScalingConfig, WarmWindow, endpoint_log_group_name
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.validators import ConfigError

SUPPORTED = (
    "ml.g4dn.xlarge, ml.g4dn.2xlarge, ml.g4dn.12xlarge, ml.g5.xlarge, ml.g5.2xlarge, ml.g5.4xlarge,"
    " ml.g5.12xlarge, ml.g5.48xlarge, ml.p4d.24xlarge"
)
SANDBOX_ENDPOINT = EndpointConfig(instance_type="ml.g5.2xlarge", name_prefix="llm-async-sandbox")
# The range SageMaker allows each field, (lowest, highest).
SAGEMAKER_LIMITS = {
    "container_startup_health_check_timeout_s": (60, 3600),
    "model_data_download_timeout_s": (60, 3600),
    "max_concurrent_invocations_per_instance": (1, 1000),
    "invocation_timeout_s": (1, 3600),
    "request_ttl_s": (60, 21600),
    "volume_size_gb": (1, 512),
}


def _endpoint(**changes: Any) -> EndpointConfig:
    return dataclasses.replace(SANDBOX_ENDPOINT, **changes)


def _raises(message: str):  # noqa: ANN202
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


# EndpointConfig


def test_unknown_instance_type_lists_the_supported_ones() -> None:
    with _raises(f"endpoint.instance_type: must be one of {SUPPORTED} (got 'ml.m5.xlarge')"):
        _endpoint(instance_type="ml.m5.xlarge")


@pytest.mark.parametrize(
    ("field", "bad", "allowed"),
    [
        *(
            (field, bad, f"an integer {low}–{high}")
            for field, (low, high) in SAGEMAKER_LIMITS.items()
            for bad in (low - 1, high + 1)
        ),
        ("request_ttl_s", True, "an integer 60–21600"),
    ],
)
def test_sagemaker_limits(field: str, bad: int, allowed: str) -> None:
    with _raises(f"endpoint.{field}: must be {allowed} (got {bad!r})"):
        _endpoint(**{field: bad})


# No supported instance takes a volume size (see below), so its bounds cannot be accepted.
@pytest.mark.parametrize("field", [field for field in SAGEMAKER_LIMITS if field != "volume_size_gb"])
def test_sagemaker_limits_accept_their_bounds(field: str) -> None:
    bounds = SAGEMAKER_LIMITS[field]
    assert tuple(getattr(_endpoint(**{field: bound}), field) for bound in bounds) == bounds


def test_volume_size_rejected_on_nvme_instances() -> None:
    with _raises(
        "endpoint.volume_size_gb: must be None for ml.g5.2xlarge, whose local NVMe storage SageMaker uses instead"
        " (got 100)"
    ):
        _endpoint(volume_size_gb=100)


def test_every_supported_instance_has_local_nvme_so_no_volume_size_is_ever_set() -> None:
    # The endpoint construct's KMS acknowledgment relies on it; a new EBS-only type would need a volume size.
    assert all(instance.local_nvme for instance in GPU_INSTANCE_TYPES.values())
    assert SANDBOX_ENDPOINT.volume_size_gb is None


def test_endpoint_name_is_derived_from_the_instance_type() -> None:
    assert _endpoint(name_prefix="llm-async-prod").endpoint_name == "llm-async-prod-g5-2xlarge"
    assert _endpoint(name_prefix="x", instance_type="ml.g5.12xlarge").endpoint_name == "x-g5-12xlarge"


def test_endpoint_name_at_most_63_characters() -> None:
    longest = "a" * (63 - len("-g5-2xlarge"))
    assert len(_endpoint(name_prefix=longest).endpoint_name) == 63
    with _raises(
        "endpoint.name_prefix: must be 1–52 letters, digits or '-', starting and ending with a letter"
        f" or digit (the endpoint name '<prefix>-g5-2xlarge' is limited to 63) (got {longest + 'a'!r})"
    ):
        _endpoint(name_prefix=longest + "a")


def test_longest_prefix_depends_on_the_instance_type() -> None:
    # ml.g4dn.12xlarge gives a longer suffix than ml.g5.2xlarge, so a shorter prefix.
    with _raises(
        "endpoint.name_prefix: must be 1–49 letters, digits or '-', starting and ending with a letter"
        f" or digit (the endpoint name '<prefix>-g4dn-12xlarge' is limited to 63) (got {'a' * 50!r})"
    ):
        _endpoint(name_prefix="a" * 50, instance_type="ml.g4dn.12xlarge")
    assert len(_endpoint(name_prefix="a" * 49, instance_type="ml.g4dn.12xlarge").endpoint_name) == 63


@pytest.mark.parametrize("prefix", ["llm_async", "", "-llm", "llm.async", 7])
def test_endpoint_name_prefix_characters(prefix: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^endpoint\.name_prefix: .* \(got {re.escape(repr(prefix))}\)$"):
        _endpoint(name_prefix=prefix)


def test_startup_budget_is_provisioning_plus_download_plus_health_check() -> None:
    assert SANDBOX_ENDPOINT.startup_budget_s == 1500
    assert (
        _endpoint(model_data_download_timeout_s=900, container_startup_health_check_timeout_s=1200).startup_budget_s
        == 2400
    )
    # The shortest health check; the concurrency per instance plays no part.
    assert (
        _endpoint(
            container_startup_health_check_timeout_s=60, max_concurrent_invocations_per_instance=1
        ).startup_budget_s
        == 960
    )


def test_defaults_give_llms_far_more_than_sagemakers_startup_default() -> None:
    assert (
        SANDBOX_ENDPOINT.container_startup_health_check_timeout_s,
        SANDBOX_ENDPOINT.model_data_download_timeout_s,
    ) == (600, 600)
    # The longest TTL SageMaker allows: a request survives a cold start and a long queue.
    assert SANDBOX_ENDPOINT.request_ttl_s == 21600


def test_endpoint_log_group_is_where_sagemaker_writes() -> None:
    assert endpoint_log_group_name("llm-async-prod-g5-2xlarge") == "/aws/sagemaker/Endpoints/llm-async-prod-g5-2xlarge"


# ScalingConfig


def test_default_scaling_is_zero_to_one() -> None:
    assert (ScalingConfig().min_capacity, ScalingConfig().max_capacity, ScalingConfig().warm_windows) == (0, 1, ())


def test_min_capacity_above_max_capacity() -> None:
    with _raises("scaling.min_capacity: must be 0–scaling.max_capacity (1) (got 2)"):
        ScalingConfig(min_capacity=2, max_capacity=1)
    assert ScalingConfig(min_capacity=2, max_capacity=2).min_capacity == 2


# ScalingConfig's settings: what each must be, and values that are not.
SCALING_RANGES = {
    "min_capacity": ("an integer ≥ 0", (-1,)),
    "max_capacity": ("an integer ≥ 1", (0,)),
    "scale_out_backlog_per_instance": ("an integer ≥ 1", (0,)),
    # Alarms allow at most a day of evaluation; past an hour, idle capacity is the cost to avoid.
    "idle_minutes_before_scale_in": ("an integer 1–60", (0, 61)),
    "scale_in_minutes": ("an integer 1–60", (0, 61)),
    "wake_cooldown_s": ("an integer 0–10800", (-1,)),
    "scale_out_cooldown_s": ("an integer 0–3600", (3601,)),
    "scale_in_cooldown_s": ("an integer 0–3600", (-5,)),
}


@pytest.mark.parametrize(
    ("field", "bad"), [(field, bad) for field, (_, bads) in SCALING_RANGES.items() for bad in bads]
)
def test_scaling_ranges(field: str, bad: int) -> None:
    with _raises(f"scaling.{field}: must be {SCALING_RANGES[field][0]} (got {bad!r})"):
        ScalingConfig(**{field: bad})


def test_default_idle_window_is_the_ski_rental_break_even() -> None:
    # 3 minutes plus the metric's minute of lag ≈ the default model's ~4-minute cold start (docs/simulator.md --sweep).
    assert (ScalingConfig().idle_minutes_before_scale_in, ScalingConfig().scale_in_minutes) == (3, 2)


def test_gradual_scale_in_acts_before_the_idle_window_when_it_can_act() -> None:
    # Otherwise both scale-in policies would act in the same minute with two instances or more.
    with _raises("scaling.scale_in_minutes: must be 1–2 (< scaling.idle_minutes_before_scale_in) when max_capacity > 1 (got 3)"):
        ScalingConfig(max_capacity=2, scale_in_minutes=3)
    assert ScalingConfig(max_capacity=1, scale_in_minutes=3).scale_in_minutes == 3


def test_concurrency_and_scale_out_threshold_default_to_none_so_the_deployment_derives_them() -> None:
    endpoint = EndpointConfig(instance_type="ml.g5.2xlarge", name_prefix="t")
    assert (endpoint.max_concurrent_invocations_per_instance, ScalingConfig().scale_out_backlog_per_instance) == (None, None)


def test_wake_cooldown_defaults_to_none_so_the_deployment_derives_it() -> None:
    # None: DeploymentConfig uses the endpoint's startup budget.
    assert ScalingConfig().wake_cooldown_s is None
    assert ScalingConfig(wake_cooldown_s=10800).wake_cooldown_s == 10800
    with _raises("scaling.wake_cooldown_s: must be an integer 0–10800 (got 10801)"):
        ScalingConfig(wake_cooldown_s=10801)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ScalingConfig(warm_windows=[WarmWindow(8, 18)]),
            "scaling.warm_windows: must be a tuple of WarmWindow (got [WarmWindow(start_hour=8, end_hour=18,"
            " time_zone='UTC', days='MON-FRI', min_capacity=1)])",
        ),
        (
            lambda: WarmWindow(8, 18, min_capacity=0),
            "scaling.warm_windows.min_capacity: must be an integer ≥ 1 (got 0)",
        ),
        (lambda: WarmWindow(8, 24), "scaling.warm_windows.end_hour: must be an integer 0–23 (got 24)"),
    ],
)
def test_remaining_rules(build, message: str) -> None:  # noqa: ANN001
    with _raises(message):
        build()


# WarmWindow and how it fits the capacity range.


def test_warm_window_min_capacity_within_max() -> None:
    with _raises("scaling.warm_windows.min_capacity: must be 1–scaling.max_capacity (1) (got 2)"):
        ScalingConfig(max_capacity=1, warm_windows=(WarmWindow(start_hour=8, end_hour=18, min_capacity=2),))


def test_warm_window_cannot_lower_the_minimum() -> None:
    with _raises(
        "scaling.warm_windows.min_capacity: must be ≥ scaling.min_capacity (2): a window only raises the minimum"
        " (got 1)"
    ):
        ScalingConfig(min_capacity=2, max_capacity=3, warm_windows=(WarmWindow(8, 18, min_capacity=1),))


def test_warm_window_hours() -> None:
    with _raises("scaling.warm_windows.end_hour: must be > start_hour (18) (got 8)"):
        WarmWindow(start_hour=18, end_hour=8)
    with _raises("scaling.warm_windows.start_hour: must be an integer 0–23 (got 24)"):
        WarmWindow(start_hour=24, end_hour=23)
    with _raises("scaling.warm_windows.end_hour: must be > start_hour (8) (got 8)"):
        WarmWindow(start_hour=8, end_hour=8)


def test_warm_window_time_zone() -> None:
    with _raises("scaling.warm_windows.time_zone: must be an IANA time zone like 'Europe/Berlin' (got 'CET+1')"):
        WarmWindow(start_hour=8, end_hour=18, time_zone="CET+1")


def test_warm_window_days() -> None:
    with _raises(
        "scaling.warm_windows.days: must be a cron day-of-week like 'MON-FRI', 'SAT,SUN' or '*' (got 'weekdays')"
    ):
        WarmWindow(start_hour=8, end_hour=18, days="weekdays")


@pytest.mark.parametrize("days", ["MON-FRI", "SAT,SUN", "*", "MON", "MON,WED-FRI"])
def test_warm_window_accepts_cron_day_of_week_forms(days: str) -> None:
    assert WarmWindow(start_hour=0, end_hour=23, days=days, time_zone="Europe/Berlin").days == days


def test_warm_window_defaults_to_weekdays_utc_one_instance() -> None:
    assert WarmWindow(8, 18) == WarmWindow(8, 18, time_zone="UTC", days="MON-FRI", min_capacity=1)
