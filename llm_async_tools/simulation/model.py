"""The scaling policy as data: what the simulator needs to know of targets, alarms and policies.

Both the template reader and the anchor policies produce these, so every policy runs through one engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_async.endpoint import metrics
from llm_async_tools.simulation.expressions import Node

# The async metrics SageMaker publishes (namespace AWS/SageMaker, dimension EndpointName) that the engine models.
ASYNC_METRICS = (metrics.BACKLOG_SIZE, metrics.BACKLOG_SIZE_PER_INSTANCE, metrics.HAS_BACKLOG_WITHOUT_CAPACITY)
STATISTICS = ("Average", "Maximum", "Minimum")
INSTANCE_METRIC = "CPUUtilization"
"""The host metric whose per-minute SampleCount counts the instances in service (namespace /aws/sagemaker/Endpoints,
EndpointName and VariantName): each instance in service reports one sample a minute, none while it starts."""
INSTANCE_STATISTIC = "SampleCount"
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanThreshold",
)
TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")


@dataclass(frozen=True)
class MetricQuery:
    """One alarm datapoint source: a metric's statistic over a period."""

    metric_name: str
    statistic: str
    period_s: int = 60
    namespace: str = metrics.NAMESPACE

    @property
    def counts_instances(self) -> bool:
        return self.namespace == metrics.INSTANCE_NAMESPACE and self.metric_name == INSTANCE_METRIC


@dataclass(frozen=True)
class MetricMath:
    """A metric math expression over metric queries and other expressions (the alarm's `Metrics` list)."""

    expression: str
    tree: Node
    inputs: tuple[tuple[str, MetricQuery | MetricMath], ...]
    """Each id the expression reads, with what it stands for."""
    period_s: int = 60

    def input(self, id_: str) -> MetricQuery | MetricMath:
        return dict(self.inputs)[id_]


@dataclass(frozen=True)
class Alarm:
    name: str
    query: MetricQuery | MetricMath
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
    query: MetricQuery | MetricMath
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
class ModelCapacity:
    """The served model as the batching model needs it (llm_async.model.capacity.CAPACITY_METADATA); None: unknown."""

    engine: str | None = None
    num_gpus: int | None = None
    weights_bytes: int | None = None
    kv_bytes_per_token: int | None = None
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    typical_prompt_tokens: int | None = None
    """The prompt the construct sized the concurrency at (capacity.typical_prompt_tokens)."""
    kv_cache_bytes: int | None = None
    engine_limit: int | None = None
    """The engine's own cap on running sequences."""


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
    default_new_tokens: int | None = None
    """The API's DEFAULT_MAX_NEW_TOKENS, the budget a request is forwarded with when it names none: with a full prompt,
    the KV room the construct sizes a request at (None: the template does not say)."""
    weights_source: str | None = None
    """Where a new instance gets the weights: 's3' (staged) or 'hub'; None: the template does not say."""
    weights_bytes: int | None = None
    """The weights' size in bytes; None: the template does not say."""
    capacity: ModelCapacity | None = None
    """What the model's LlmAsync::Capacity metadata says of its engine's batching; None: the template has none."""
    notes: tuple[str, ...] = field(default=())
