"""Application Auto Scaling for an async endpoint: wake from zero, scale out on backlog, follow the backlog down,
back to zero when idle.

The alarms read the `AWS/SageMaker` async metrics (EndpointName dimension only) and, for the instances in
service, the host metric CPUUtilization's per-minute SampleCount (`AsyncEndpoint.metric_instances_running`).
Step policies (not `scale_on_metric`) give exact control of bounds, cooldowns, TreatMissingData and, unlike
target tracking, of the idle window (AAS fixes a target-tracking scale-in alarm at 15 minutes).

Why the scale-in alarms are gated on instances in service: CloudWatch re-runs a scaling action every minute
while its alarm is in ALARM. An idle alarm that stayed in ALARM at zero instances would re-apply "capacity 0"
while a woken instance starts, and Application Auto Scaling may apply it (no AWS document says a scale-in waits
for another policy's scale-out cooldown; aws/containers-roadmap#2135 reports the opposite). So both scale-in
alarms read "not idle" until an instance reports: at zero instances they are OK, and a wake stands.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.endpoint.config import ScalingConfig
from llm_async.endpoint.construct import PERIOD, AsyncEndpoint

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


class ScaleToZero(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: AsyncEndpoint,
        config: ScalingConfig,
        wake_cooldown_s: int,
        backlog_per_instance: int,
    ) -> None:
        """`backlog_per_instance`: queued or running requests one instance takes (DeploymentConfig's, by default the
        endpoint's concurrency per instance): above it, scale out; capacity follows the backlog down by it."""
        super().__init__(scope, id_)
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint.endpoint_name}/variant/{endpoint.variant_name}",
            scalable_dimension=SCALABLE_DIMENSION,
            min_capacity=config.min_capacity,
            max_capacity=config.max_capacity,
            # AAS acts through its SageMaker service-linked role (created on the first registration in
            # an account); naming it stops the L2 from adding a role of its own with no permissions.
            role=iam.Role.from_role_arn(self, "ServiceLinkedRole", _service_linked_role_arn(self)),
        )
        # RegisterScalableTarget fails unless the endpoint variant exists.
        self.target.node.add_dependency(endpoint.endpoint)

        self.wake_alarm = self._add_one_instance(
            "Wake",
            "Requests are queued and the endpoint has no instance: add one.",
            endpoint.metric_has_backlog_without_capacity(),
            appscaling.MetricAggregationType.MAXIMUM,
            (cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1),
            # CloudWatch re-runs the action every minute while in ALARM, and HasBacklogWithoutCapacity
            # stays 1 until the instance is InService: a cooldown of at least the endpoint's startup
            # budget (validated in DeploymentConfig) keeps this at one instance.
            cooldown_s=wake_cooldown_s,
        )
        # With one instance at most there is nothing to scale out to (the wake policy reaches it).
        self.scale_out_alarm = None if config.max_capacity == 1 else self._add_one_instance(
            "ScaleOut",
            f"More than {backlog_per_instance} requests per instance for 2 minutes: add an instance.",
            endpoint.metric_backlog_size_per_instance(),
            appscaling.MetricAggregationType.AVERAGE,
            (cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, backlog_per_instance, 2),
            cooldown_s=config.scale_out_cooldown_s,
        )
        instances = endpoint.metric_instances_running()
        # A gap in the backlog metric means no request was reported: 0, not unknown.
        backlog = cloudwatch.MathExpression(
            expression="FILL(queued, 0)", using_metrics={"queued": endpoint.metric_backlog_size()}, period=PERIOD
        )
        self.idle_alarm = self._step(
            "ScaleInWhenIdle",
            description=f"An instance serves and no request was queued or running for {config.idle_minutes_before_scale_in}"
            " minutes: scale in to the minimum capacity (zero outside warm windows).",
            metric=cloudwatch.MathExpression(
                expression="IF(FILL(instances, 0) > 0, backlog, 1)",
                using_metrics={"instances": instances, "backlog": backlog},
                label="Backlog while an instance serves (1 without one)",
                period=PERIOD,
            ),
            aggregation=appscaling.MetricAggregationType.MAXIMUM,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            threshold=0,
            evaluation_periods=config.idle_minutes_before_scale_in,
            # No data at all: no instance reports and nothing was queued, so nothing to scale in.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            # Exact capacity 0 is clamped to MinCapacity, so warm windows keep their instances.
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            steps=[(0, None, 0)],
            cooldown_s=config.scale_in_cooldown_s,
        )
        # Gradual scale-in: with more than one instance, keep the instances the backlog needs (at least one; the idle
        # alarm alone takes the last one away, after its window). Exact capacity, so several excess instances go at once.
        top, per = config.max_capacity, backlog_per_instance
        self.scale_in_alarm = None if top == 1 else self._step(
            "ScaleInGradually",
            description=f"More instances serve than {backlog_per_instance} requests each need, for"
            f" {config.scale_in_minutes} minutes: keep the instances the backlog needs (at least one).",
            metric=cloudwatch.MathExpression(
                expression=f"IF(FILL(instances, 0) > 1, IF(backlog > {per}, CEIL(backlog / {per}), 1), {top})",
                using_metrics={"instances": instances, "backlog": backlog},
                label="Instances the backlog needs (max capacity while one or no instance serves)",
                period=PERIOD,
            ),
            aggregation=appscaling.MetricAggregationType.MAXIMUM,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            threshold=top - 0.5,
            evaluation_periods=config.scale_in_minutes,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            # Needed k (1 ≤ k < top) sits at k − top + 0.5 from the threshold: the step [k − top, k − top + 1) sets k.
            steps=[(k, None if k == 1 else k - top, k - top + 1) for k in range(1, top)],
            cooldown_s=config.scale_in_cooldown_s,
        )
        for index, window in enumerate(config.warm_windows, start=1):
            zone = cdk.TimeZone.of(window.time_zone)
            self.target.scale_on_schedule(
                f"WarmWindow{index}Start",
                schedule=appscaling.Schedule.cron(minute="0", hour=str(window.start_hour), week_day=window.days),
                time_zone=zone,
                min_capacity=window.min_capacity,
            )
            self.target.scale_on_schedule(
                f"WarmWindow{index}End",
                schedule=appscaling.Schedule.cron(minute="0", hour=str(window.end_hour), week_day=window.days),
                time_zone=zone,
                min_capacity=config.min_capacity,
            )

    def grant_wake(self, grantee: iam.IGrantable) -> iam.Grant:
        """SetAlarmState on the wake alarm only: it runs the wake policy at once (see llm_async/api/runtime/inference_api/wake.py)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["cloudwatch:SetAlarmState"], resource_arns=[self.wake_alarm.alarm_arn]
        )

    def _add_one_instance(
        self,
        id_: str,
        description: str,
        metric: cloudwatch.IMetric,
        aggregation: appscaling.MetricAggregationType,
        when: tuple[cloudwatch.ComparisonOperator, float, int],
        *,
        cooldown_s: int,
    ) -> cloudwatch.Alarm:
        """+1 instance while `metric` compares to the threshold for that many minutes (`when`)."""
        comparison, threshold, minutes = when
        return self._step(
            id_,
            description=description,
            metric=metric,
            aggregation=aggregation,
            comparison=comparison,
            threshold=threshold,
            evaluation_periods=minutes,
            # No datapoint means SageMaker saw no request waiting: never a reason to add capacity.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            steps=[(1, 0, None)],
            cooldown_s=cooldown_s,
        )

    def _step(
        self,
        id_: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        aggregation: appscaling.MetricAggregationType,
        comparison: cloudwatch.ComparisonOperator,
        threshold: float,
        evaluation_periods: int,
        treat_missing_data: cloudwatch.TreatMissingData,
        adjustment_type: appscaling.AdjustmentType,
        steps: list[tuple[int, float | None, float | None]],
        cooldown_s: int,
    ) -> cloudwatch.Alarm:
        """One alarm driving one step policy; `steps`: (adjustment, lower bound, upper bound) from the threshold."""
        policy = appscaling.StepScalingAction(
            self,
            f"{id_}Policy",
            scaling_target=self.target,
            adjustment_type=adjustment_type,
            cooldown=cdk.Duration.seconds(cooldown_s),
            metric_aggregation_type=aggregation,
        )
        for adjustment, lower_bound, upper_bound in steps:
            policy.add_adjustment(adjustment=adjustment, lower_bound=lower_bound, upper_bound=upper_bound)
        # Every datapoint of the evaluation window must breach: M of M.
        alarm = cloudwatch.Alarm(
            self, f"{id_}Alarm", alarm_description=description, metric=metric, comparison_operator=comparison,
            threshold=threshold, evaluation_periods=evaluation_periods, datapoints_to_alarm=evaluation_periods,
            treat_missing_data=treat_missing_data,
        )
        alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(policy))
        return alarm


def _service_linked_role_arn(scope: Construct) -> str:
    """The role Application Auto Scaling creates for itself when a SageMaker target is first registered."""
    return cdk.Stack.of(scope).format_arn(
        service="iam",
        region="",
        resource="role",
        resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    )
