"""The scaling policy as data: what the simulator needs to know of targets, alarms and policies.

Both the template reader and the anchor policies produce these, so every policy runs through one engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_async.endpoint import metrics

# The async metrics SageMaker publishes (namespace AWS/SageMaker, dimension EndpointName) that the engine models.
ASYNC_METRICS = (metrics.BACKLOG_SIZE, metrics.BACKLOG_SIZE_PER_INSTANCE, metrics.HAS_BACKLOG_WITHOUT_CAPACITY)
STATISTICS = ("Average", "Maximum", "Minimum")
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanThreshold",
)
TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")


@dataclass(frozen=True)
class MetricQuery:
    """One alarm datapoint source: a metric statistic over a period, optionally wrapped in FILL(metric, value)."""

    metric_name: str
    statistic: str
    period_s: int = 60
    fill: float | None = None


@dataclass(frozen=True)
class Alarm:
    name: str
    query: MetricQuery
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str = "missing"

    @property
    def scales_out(self) -> bool:
        """Greater-than alarms breach upwards; the direction also decides which step bound is inclusive."""
        return self.comparison.startswith("Greater")


@dataclass(frozen=True)
class StepAdjustment:
    scaling_adjustment: int
    lower_bound: float | None = None
    upper_bound: float | None = None


@dataclass(frozen=True)
class StepPolicy:
    """An Application Auto Scaling step policy driven by one alarm."""

    name: str
    alarm: Alarm
    adjustment_type: str
    steps: tuple[StepAdjustment, ...]
    cooldown_s: int
    aggregation: str = "Average"
    min_adjustment_magnitude: int | None = None


@dataclass(frozen=True)
class TargetTrackingPolicy:
    """Target tracking as AWS runs it: a scale-out alarm, a scale-in alarm at 90 % of target, proportional capacity."""

    name: str
    query: MetricQuery
    target_value: float
    scale_out_cooldown_s: int = 300
    scale_in_cooldown_s: int = 300
    disable_scale_in: bool = False


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    schedule: str
    """cron(...) or at(...) as Application Auto Scaling takes it."""
    timezone: str = "UTC"
    min_capacity: int | None = None
    max_capacity: int | None = None


@dataclass(frozen=True)
class ScalingModel:
    """Everything about one deployment that decides its instance count and its requests' fate."""

    name: str
    instance_type: str
    usd_per_hour: float
    min_capacity: int
    max_capacity: int
    concurrency_per_instance: int
    request_ttl_s: int
    step_policies: tuple[StepPolicy, ...] = ()
    target_tracking: tuple[TargetTrackingPolicy, ...] = ()
    scheduled_actions: tuple[ScheduledAction, ...] = ()
    wake_alarm: str | None = None
    """The alarm the inference API forces into ALARM when a request finds no instance (None: no API wake)."""
    engine: str | None = None
    """The engine serving the model (the API's ENGINE): its start time is part of an instance's cold start."""
    weights_source: str | None = None
    """Where a new instance gets the weights: 's3' (staged) or 'hub'; None: the template does not say."""
    weights_bytes: int | None = None
    """The weights' size in bytes; None: the template does not say."""
    notes: tuple[str, ...] = field(default=())
