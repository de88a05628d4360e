"""The async endpoint's settings (instance, timeouts, per-request limits) and its scaling to zero."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import available_timezones

from llm_async.model.instance_types import GPU_INSTANCE_TYPES, GpuInstanceType
from llm_async.validators import fail, int_in_range

# CreateEndpoint: EndpointName pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, and at most 63 characters
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Time from a wake decision to an instance being requested and booted, before the model download.
PROVISIONING_MARGIN_S = 300
_CRON_DAYS = re.compile(r"^(\*|(MON|TUE|WED|THU|FRI|SAT|SUN)([-,](MON|TUE|WED|THU|FRI|SAT|SUN))*)$")


@dataclass(frozen=True)
class EndpointConfig:
    """The async endpoint: instance, timeouts and the per-request limits the API will apply."""

    instance_type: str
    name_prefix: str
    """The endpoint is named `<name_prefix>-<instance type>` (e.g. llm-async-prod-g5-2xlarge): see `endpoint_name`."""
    max_concurrent_invocations_per_instance: int | None = None
    """Requests SageMaker sends one instance at once. None: the requests of a typical prompt and the API's default
    budget the engine's KV cache holds (llm_async/model/capacity.py), or 4 for a model whose shape is not known."""
    container_startup_health_check_timeout_s: int = 600
    """Covers weight download + shard load; LLMs need far more than SageMaker's default."""
    model_data_download_timeout_s: int = 600
    volume_size_gb: int | None = None
    """Only for instances without local NVMe storage (SageMaker rejects it otherwise)."""
    invocation_timeout_s: int = 900
    request_ttl_s: int = 21600

    def __post_init__(self) -> None:
        if self.instance_type not in GPU_INSTANCE_TYPES:
            fail("endpoint.instance_type", f"one of {', '.join(GPU_INSTANCE_TYPES)}", self.instance_type)
        name = f"{self.name_prefix}-{self._instance_slug}" if isinstance(self.name_prefix, str) else ""
        if len(name) > 63 or not _ENDPOINT_NAME.match(name):
            longest = 63 - len(self._instance_slug) - 1
            fail(
                "endpoint.name_prefix",
                f"1–{longest} letters, digits or '-', starting and ending with a letter or digit"
                f" (the endpoint name '<prefix>-{self._instance_slug}' is limited to 63)",
                self.name_prefix,
            )
        if self.max_concurrent_invocations_per_instance is not None:
            int_in_range("endpoint.max_concurrent_invocations_per_instance", self.max_concurrent_invocations_per_instance, 1, 1000)
        int_in_range(
            "endpoint.container_startup_health_check_timeout_s",
            self.container_startup_health_check_timeout_s,
            60,
            3600,
        )
        int_in_range("endpoint.model_data_download_timeout_s", self.model_data_download_timeout_s, 60, 3600)
        if self.volume_size_gb is not None:
            int_in_range("endpoint.volume_size_gb", self.volume_size_gb, 1, 512)
            if self.instance.local_nvme:
                fail(
                    "endpoint.volume_size_gb",
                    f"None for {self.instance_type}, whose local NVMe storage SageMaker uses instead",
                    self.volume_size_gb,
                )
        int_in_range("endpoint.invocation_timeout_s", self.invocation_timeout_s, 1, 3600)
        int_in_range("endpoint.request_ttl_s", self.request_ttl_s, 60, 21600)

    @property
    def instance(self) -> GpuInstanceType:
        return GPU_INSTANCE_TYPES[self.instance_type]

    @property
    def _instance_slug(self) -> str:
        return self.instance_type.removeprefix("ml.").replace(".", "-")

    @property
    def endpoint_name(self) -> str:
        """Derived from the instance type so that changing it replaces the endpoint instead of updating it.

        SageMaker refuses to update an endpoint's instance type while the variant is registered with
        Application Auto Scaling. A new name makes CloudFormation create a new endpoint and scalable
        target, switch the API to them, then delete the old pair (target first).
        """
        return f"{self.name_prefix}-{self._instance_slug}"

    @property
    def startup_budget_s(self) -> int:
        """How long a new instance may take to serve: provisioning, weight download, health check."""
        return PROVISIONING_MARGIN_S + self.model_data_download_timeout_s + self.container_startup_health_check_timeout_s


@dataclass(frozen=True)
class WarmWindow:
    """A recurring window during which at least `min_capacity` instances are kept warm."""

    start_hour: int
    end_hour: int
    time_zone: str = "UTC"
    days: str = "MON-FRI"
    """Cron day-of-week field, e.g. 'MON-FRI', 'SAT,SUN' or '*'."""
    min_capacity: int = 1

    def __post_init__(self) -> None:
        int_in_range("scaling.warm_windows.start_hour", self.start_hour, 0, 23)
        int_in_range("scaling.warm_windows.end_hour", self.end_hour, 0, 23)
        if self.end_hour <= self.start_hour:
            fail("scaling.warm_windows.end_hour", f"> start_hour ({self.start_hour})", self.end_hour)
        if not _CRON_DAYS.match(self.days):
            fail("scaling.warm_windows.days", "a cron day-of-week like 'MON-FRI', 'SAT,SUN' or '*'", self.days)
        if self.time_zone not in available_timezones():
            fail("scaling.warm_windows.time_zone", "an IANA time zone like 'Europe/Berlin'", self.time_zone)
        int_in_range("scaling.warm_windows.min_capacity", self.min_capacity, 1)


@dataclass(frozen=True)
class ScalingConfig:
    """Scale-to-zero behaviour. Alarms evaluate one-minute periods."""

    min_capacity: int = 0
    max_capacity: int = 1
    scale_out_backlog_per_instance: int | None = None
    """Add an instance while each one has more than this many queued or running requests; scale in gradually to the
    instances this many a piece need. None: the endpoint's concurrency per instance (what one instance runs at once)."""
    idle_minutes_before_scale_in: int = 3
    """Scale in to `min_capacity` after the backlog has been empty this long while an instance serves. The default is
    the ski-rental break-even (stay warm about as long as a cold start costs, never more than twice the optimum
    whatever the arrivals): 3 minutes, plus the metric's 1-minute lag, against the default model's ~4-minute start
    (docs/simulator.md, --sweep: it recommends 1–3 on every reference trace)."""
    scale_in_minutes: int = 2
    """With max_capacity > 1: after this long with fewer instances needed than serve, keep only those (at least one).
    Shorter than the idle window, so the last instances go one policy at a time."""
    wake_cooldown_s: int | None = None
    """After a wake from zero. Default and minimum: the endpoint's startup budget (provisioning + weight
    download + health check), so the wake policy, re-run every minute while the first instance loads,
    adds one instance and not one per cooldown."""
    scale_out_cooldown_s: int = 300
    scale_in_cooldown_s: int = 300
    warm_windows: tuple[WarmWindow, ...] = ()

    def __post_init__(self) -> None:
        int_in_range("scaling.min_capacity", self.min_capacity, 0)
        int_in_range("scaling.max_capacity", self.max_capacity, 1)
        if self.min_capacity > self.max_capacity:
            fail("scaling.min_capacity", f"0–scaling.max_capacity ({self.max_capacity})", self.min_capacity)
        if self.scale_out_backlog_per_instance is not None:
            int_in_range("scaling.scale_out_backlog_per_instance", self.scale_out_backlog_per_instance, 1)
        # Alarms allow EvaluationPeriods × Period ≤ 1 day; past an hour, idle capacity is the cost we avoid.
        int_in_range("scaling.idle_minutes_before_scale_in", self.idle_minutes_before_scale_in, 1, 60)
        int_in_range("scaling.scale_in_minutes", self.scale_in_minutes, 1, 60)
        if self.max_capacity > 1 and self.scale_in_minutes >= self.idle_minutes_before_scale_in:
            limit = self.idle_minutes_before_scale_in - 1
            fail("scaling.scale_in_minutes", f"1–{limit} (< scaling.idle_minutes_before_scale_in) when max_capacity > 1", self.scale_in_minutes)
        if self.wake_cooldown_s is not None:
            int_in_range("scaling.wake_cooldown_s", self.wake_cooldown_s, 0, 3 * 3600)
        int_in_range("scaling.scale_out_cooldown_s", self.scale_out_cooldown_s, 0, 3600)
        int_in_range("scaling.scale_in_cooldown_s", self.scale_in_cooldown_s, 0, 3600)
        if not isinstance(self.warm_windows, tuple):
            fail("scaling.warm_windows", "a tuple of WarmWindow", self.warm_windows)
        for window in self.warm_windows:
            if window.min_capacity < self.min_capacity:
                fail(
                    "scaling.warm_windows.min_capacity",
                    f"≥ scaling.min_capacity ({self.min_capacity}): a window only raises the minimum",
                    window.min_capacity,
                )
            if window.min_capacity > self.max_capacity:
                fail(
                    "scaling.warm_windows.min_capacity",
                    f"1–scaling.max_capacity ({self.max_capacity})",
                    window.min_capacity,
                )




def endpoint_log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes an endpoint's container and async platform logs."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"
