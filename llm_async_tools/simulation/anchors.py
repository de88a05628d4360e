"""The published policies we compare ours against, on the same endpoint (instance, concurrency, TTL, max capacity).

- seed-option-1: the seed notebook's "Option 1 (recommended)": +1 on HasBacklogWithoutCapacity Average ≥ 0.5
  (1 of 1 minute), −1 when ApproximateBacklogSizePerInstance Average ≤ 0.5 for 2 of 2 one-hour periods;
  cooldowns 300 s; missing data left missing.
- seed-option-2: the seed notebook's "Option 2": target tracking of ApproximateBacklogSizePerInstance at 1.0,
  scale-in cooldown 300 s, scale-out cooldown 60 s.
- aws-documented: the SageMaker guide "Autoscale an asynchronous endpoint": target tracking at 5.0 (default
  cooldowns, 300 s for SageMaker variants) plus HasBacklogWithoutCapacity-ScalingPolicy (+1, cooldown 300 s)
  on an alarm Average ≥ 1 for 2 of 2 minutes, missing data left missing.
- always-on: one instance, no scaling.
None of them has our API's wake-on-request: they are invoked as published.
"""

from __future__ import annotations

from dataclasses import replace

from llm_async.endpoint import metrics
from llm_async_tools.simulation.model import Alarm, MetricQuery, ScalingModel, StepAdjustment, StepPolicy, TargetTrackingPolicy

_BACKLOG_WITHOUT_CAPACITY = MetricQuery(metrics.HAS_BACKLOG_WITHOUT_CAPACITY, "Average")
_BACKLOG_PER_INSTANCE = MetricQuery(metrics.BACKLOG_SIZE_PER_INSTANCE, "Average")


def _bare(ours: ScalingModel, name: str, **changes: object) -> ScalingModel:
    """Our endpoint without our policy, scaling between 0 and our maximum."""
    bare: dict[str, object] = {
        "min_capacity": 0,
        "step_policies": (),
        "target_tracking": (),
        "scheduled_actions": (),
        "wake_alarm": None,
    }
    return replace(ours, name=name, **{**bare, **changes})  # type: ignore[arg-type]


def _wake_step(name: str, alarm: Alarm) -> StepPolicy:
    return StepPolicy(name, alarm, "ChangeInCapacity", (StepAdjustment(1, lower_bound=0),), cooldown_s=300)


def seed_option_1(ours: ScalingModel) -> ScalingModel:
    wake = Alarm("step_scaling_policy_alarm", _BACKLOG_WITHOUT_CAPACITY, "GreaterThanOrEqualToThreshold", 0.5, 1, 1)
    idle = Alarm(
        "step_scale-in_policy",
        MetricQuery(metrics.BACKLOG_SIZE_PER_INSTANCE, "Average", period_s=3600),
        "LessThanOrEqualToThreshold",
        0.5,
        2,
        2,
    )
    scale_in = StepPolicy("scaleinpolicy", idle, "ChangeInCapacity", (StepAdjustment(-1, upper_bound=0),), cooldown_s=300)
    return _bare(ours, "seed-option-1", step_policies=(_wake_step("HasBacklogWithoutCapacity-ScalingPolicy", wake), scale_in))


def seed_option_2(ours: ScalingModel) -> ScalingModel:
    tracking = TargetTrackingPolicy("Request-ScalingPolicy", _BACKLOG_PER_INSTANCE, 1.0, scale_out_cooldown_s=60, scale_in_cooldown_s=300)
    return _bare(ours, "seed-option-2", target_tracking=(tracking,))


def aws_documented(ours: ScalingModel) -> ScalingModel:
    tracking = TargetTrackingPolicy("scale-endpoint-variant", _BACKLOG_PER_INSTANCE, 5.0)
    wake = Alarm("step_scaling_policy_alarm", _BACKLOG_WITHOUT_CAPACITY, "GreaterThanOrEqualToThreshold", 1, 2, 2)
    return _bare(
        ours, "aws-documented", target_tracking=(tracking,), step_policies=(_wake_step("HasBacklogWithoutCapacity-ScalingPolicy", wake),)
    )


def always_on(ours: ScalingModel) -> ScalingModel:
    return _bare(ours, "always-on", min_capacity=1, max_capacity=1)


def anchor_policies(ours: ScalingModel) -> list[ScalingModel]:
    return [seed_option_1(ours), seed_option_2(ours), aws_documented(ours), always_on(ours)]
