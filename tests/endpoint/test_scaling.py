"""`ScaleToZero` alone on its endpoint: wake from zero, scale out on backlog, back to zero when idle, warm windows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from llm_async.deployment import DeploymentConfig
from llm_async.endpoint.config import ScalingConfig, WarmWindow
from llm_async.endpoint.scaling import ScaleToZero
from llm_async.environments import ENVIRONMENTS
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack

# A step that adds one instance whenever the alarm is in alarm.
ADD_ONE = [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
SERVICE_LINKED_ROLE = (
    "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


@dataclass(frozen=True)
class Built(BuiltStack):
    config: DeploymentConfig
    scaling: ScaleToZero
    grantee: iam.Role

    @property
    def endpoint_name(self) -> str:
        return self.config.endpoint.endpoint_name

    def target(self) -> dict[str, Any]:
        (target,) = self.template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
        return target

    def scheduled_actions(self) -> list[tuple[Any, ...]]:
        """The target's scheduled actions, by name: (name, schedule, time zone, what they set)."""
        return sorted(
            (a["ScheduledActionName"], a["Schedule"], a["Timezone"], a["ScalableTargetAction"])
            for a in self.target()["Properties"]["ScheduledActions"]
        )

    def alarm(self, alarm: Any) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.logical_id(alarm)]["Properties"]

    def policy_of(self, alarm: dict[str, Any]) -> dict[str, Any]:
        """The scaling policy the alarm's one action runs."""
        (action,) = alarm["AlarmActions"]
        return self.template.to_json()["Resources"][action["Ref"]]["Properties"]

    def steps_of(self, alarm: dict[str, Any]) -> tuple[Any, ...]:
        """That policy's step settings, every one: adjustment type, cooldown, metric aggregation, steps."""
        settings = self.policy_of(alarm)["StepScalingPolicyConfiguration"]
        keys = ("AdjustmentType", "Cooldown", "MetricAggregationType", "StepAdjustments")
        assert set(settings) == set(keys)
        return tuple(settings[key] for key in keys)


def _build(config: DeploymentConfig) -> Built:
    stack = bare_stack()
    scaling = Parts(stack, config).scaling
    # A caller of grant_wake, as the API's function role is.
    grantee = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    scaling.grant_wake(grantee)
    return Built(stack, template(stack), config, scaling, grantee)


@pytest.fixture(scope="module")
def one() -> Built:
    """At most one instance (the sandbox): no scale-out policy, no warm window."""
    return _build(ENVIRONMENTS["sandbox"]())


@pytest.fixture(scope="module")
def prod() -> Built:
    """Up to three instances, warm on New York weekdays."""
    return _build(ENVIRONMENTS["prod"]())


@pytest.fixture(scope="module")
def tuned() -> Built:
    """Every scaling setting off its default: a minimum of one, two warm windows, explicit cooldowns."""
    scaling = ScalingConfig(
        min_capacity=1,
        max_capacity=4,
        scale_out_backlog_per_instance=3,
        idle_minutes_before_scale_in=30,
        wake_cooldown_s=2000,
        scale_out_cooldown_s=120,
        scale_in_cooldown_s=600,
        warm_windows=(
            WarmWindow(start_hour=7, end_hour=19, time_zone="Europe/Berlin", days="MON-FRI", min_capacity=2),
            WarmWindow(start_hour=10, end_hour=14, time_zone="UTC", days="SAT,SUN", min_capacity=3),
        ),
    )
    return _build(dataclasses.replace(ENVIRONMENTS["sandbox"](), env_name="tuned", scaling=scaling))


# The scalable target.


@pytest.mark.parametrize(("fixture", "bounds"), [("one", (0, 1)), ("prod", (0, 3)), ("tuned", (1, 4))])
def test_target_is_the_variant_between_min_and_max(
    request: pytest.FixtureRequest, fixture: str, bounds: tuple[int, int]
) -> None:
    built: Built = request.getfixturevalue(fixture)
    props = built.target()["Properties"]
    assert props["ServiceNamespace"] == "sagemaker"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert props["ResourceId"] == f"endpoint/{built.endpoint_name}/variant/AllTraffic"
    assert (props["MinCapacity"], props["MaxCapacity"]) == bounds


def test_target_depends_on_the_endpoint(one: Built) -> None:
    # RegisterScalableTarget fails unless the endpoint variant exists.
    endpoint_id = one.stack.get_logical_id(one.stack.node.find_child("Endpoint").endpoint)
    assert endpoint_id in one.target()["DependsOn"]


def test_target_acts_through_the_sagemaker_service_linked_role(one: Built) -> None:
    # IAM is global: no region in the ARN.
    assert one.target()["Properties"]["RoleARN"] == f"arn:aws:iam::123456789012:{SERVICE_LINKED_ROLE}"
    # Naming it stops the L2 from adding a role of its own with no permissions.
    assert not [c for c in one.scaling.node.find_all() if isinstance(c, iam.CfnRole)]


# Wake from zero.


def test_wake_from_zero_on_backlog_without_capacity(one: Built) -> None:
    alarm = one.alarm(one.scaling.wake_alarm)
    assert {
        k: alarm[k] for k in ("Namespace", "MetricName", "Statistic", "Period", "Threshold", "ComparisonOperator")
    } == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "HasBacklogWithoutCapacity",
        "Statistic": "Maximum",
        "Period": 60,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    # No datapoint means SageMaker saw no request waiting: nothing to wake for.
    assert alarm["TreatMissingData"] == "notBreaching"
    assert one.policy_of(alarm)["PolicyType"] == "StepScaling"
    # The cooldown is the startup budget: 300 s provisioning + 600 s download + 600 s health check.
    assert one.steps_of(alarm) == ("ChangeInCapacity", 1500, "Maximum", ADD_ONE)


def test_wake_cooldown_is_the_deployments(tuned: Built) -> None:
    policy = tuned.policy_of(tuned.alarm(tuned.scaling.wake_alarm))
    assert policy["StepScalingPolicyConfiguration"]["Cooldown"] == 2000


def test_wake_is_granted_as_set_alarm_state_on_the_wake_alarm_only(one: Built) -> None:
    (policy,) = [
        p
        for p in one.template.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [one.ref(one.grantee.role_name)]
    ]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "cloudwatch:SetAlarmState", "Effect": "Allow", "Resource": one.ref(one.scaling.wake_alarm.alarm_arn)}
    ]


# Scale out on backlog.


def test_scale_out_on_backlog_per_instance(prod: Built) -> None:
    # By default, past what one instance runs at once: its concurrency, from the engine's KV cache.
    per_instance = prod.config.max_concurrent_invocations
    assert per_instance == 84
    assert prod.scaling.scale_out_alarm is not None
    alarm = prod.alarm(prod.scaling.scale_out_alarm)
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateBacklogSizePerInstance",
        "Average",
        per_instance,
        "GreaterThanThreshold",
    )
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 2, 2)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmDescription"] == "More than 84 requests per instance for 2 minutes: add an instance."
    assert prod.steps_of(alarm) == ("ChangeInCapacity", 300, "Average", ADD_ONE)


def test_scale_out_threshold_and_cooldown_follow_the_config(tuned: Built) -> None:
    assert tuned.scaling.scale_out_alarm is not None
    alarm = tuned.alarm(tuned.scaling.scale_out_alarm)
    assert (alarm["Threshold"], alarm["AlarmDescription"]) == (
        3,
        "More than 3 requests per instance for 2 minutes: add an instance.",
    )
    assert tuned.policy_of(alarm)["StepScalingPolicyConfiguration"]["Cooldown"] == 120


def test_no_scale_out_policy_when_one_instance_is_the_maximum(one: Built) -> None:
    # The wake policy reaches the one instance; there is nothing to scale out to.
    assert one.scaling.scale_out_alarm is None
    one.template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 2)
    one.template.resource_count_is("AWS::CloudWatch::Alarm", 2)


def test_four_policies_when_more_than_one_instance_is_allowed(prod: Built) -> None:
    # Wake, scale out, scale in gradually, scale in when idle.
    prod.template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 4)
    prod.template.resource_count_is("AWS::CloudWatch::Alarm", 4)


# Back to the minimum when idle.


def _metrics(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["Id"]: m for m in alarm["Metrics"]}


def _stat(metric: dict[str, Any]) -> tuple[Any, ...]:
    stat = metric["MetricStat"]
    dimensions = tuple(d["Name"] for d in stat["Metric"]["Dimensions"])
    return stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], dimensions, stat["Stat"], stat["Period"]


INSTANCES = ("/aws/sagemaker/Endpoints", "CPUUtilization", ("EndpointName", "VariantName"), "SampleCount", 60)
QUEUED = ("AWS/SageMaker", "ApproximateBacklogSize", ("EndpointName",), "Maximum", 60)


def test_scale_in_to_zero_after_the_idle_window_while_an_instance_serves(one: Built) -> None:
    alarm = one.alarm(one.scaling.idle_alarm)
    metrics = _metrics(alarm)
    (returned,) = [m for m in metrics.values() if m.get("ReturnData", True)]
    # Idle only while an instance reports: at zero instances the expression is 1, so the alarm is OK and cannot
    # re-apply "capacity 0" while a woken instance starts. Gaps in the backlog metric count as 0.
    assert returned["Expression"] == "IF(FILL(instances, 0) > 0, backlog, 1)"
    assert metrics["backlog"]["Expression"] == "FILL(queued, 0)"
    assert (_stat(metrics["instances"]), _stat(metrics["queued"])) == (INSTANCES, QUEUED)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "LessThanOrEqualToThreshold")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
    assert alarm["TreatMissingData"] == "notBreaching"
    # Exact capacity 0 is clamped to MinCapacity, so warm windows keep their instances.
    to_zero = [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    assert one.steps_of(alarm) == ("ExactCapacity", 300, "Maximum", to_zero)


def test_idle_window_and_scale_in_cooldown_follow_the_config(tuned: Built) -> None:
    alarm = tuned.alarm(tuned.scaling.idle_alarm)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (30, 30)
    assert alarm["AlarmDescription"].startswith("An instance serves and no request was queued or running for 30 minutes:")
    assert tuned.policy_of(alarm)["StepScalingPolicyConfiguration"]["Cooldown"] == 600


def test_no_gradual_scale_in_when_one_instance_is_the_maximum(one: Built) -> None:
    assert one.scaling.scale_in_alarm is None


def test_capacity_follows_the_backlog_down_to_what_it_needs(prod: Built) -> None:
    assert prod.scaling.scale_in_alarm is not None
    alarm = prod.alarm(prod.scaling.scale_in_alarm)
    metrics = _metrics(alarm)
    (returned,) = [m for m in metrics.values() if m.get("ReturnData", True)]
    # With two instances or more: the instances 84 requests each need, at least one; otherwise the maximum (3),
    # which never breaches, so one instance or none is the idle alarm's alone.
    assert returned["Expression"] == "IF(FILL(instances, 0) > 1, IF(backlog > 84, CEIL(backlog / 84), 1), 3)"
    assert (_stat(metrics["instances"]), _stat(metrics["queued"])) == (INSTANCES, QUEUED)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (2.5, "LessThanThreshold")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (2, 2, "notBreaching")
    # 1 needed sits 1.5 below the threshold, 2 needed 0.5 below: each step sets exactly that many.
    steps = [
        {"MetricIntervalUpperBound": -1, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": -1, "MetricIntervalUpperBound": 0, "ScalingAdjustment": 2},
    ]
    assert prod.steps_of(alarm) == ("ExactCapacity", 300, "Maximum", steps)


def test_gradual_scale_in_has_a_step_for_every_capacity_below_the_maximum(tuned: Built) -> None:
    assert tuned.scaling.scale_in_alarm is not None
    alarm = tuned.alarm(tuned.scaling.scale_in_alarm)
    (_, _, _, steps) = tuned.steps_of(alarm)
    assert [step["ScalingAdjustment"] for step in steps] == [1, 2, 3]
    # Contiguous intervals from −∞ to the threshold: every needed count below the maximum has exactly one step.
    bounds = [(step.get("MetricIntervalLowerBound"), step["MetricIntervalUpperBound"]) for step in steps]
    assert bounds == [(None, -2), (-2, -1), (-1, 0)]
    assert alarm["Threshold"] == 3.5 and "CEIL(backlog / 3)" in _metrics(alarm)["expr_1"]["Expression"]


# Every alarm.


@pytest.mark.parametrize("fixture", ["one", "prod", "tuned"])
def test_every_alarm_reads_each_metric_with_the_dimensions_it_is_published_with(request: pytest.FixtureRequest, fixture: str) -> None:
    # SageMaker publishes the async queue metrics with EndpointName alone (a VariantName would match no data), and
    # the instances' host metrics with EndpointName and VariantName.
    built: Built = request.getfixturevalue(fixture)
    alarms = built.template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == (2 if built.config.scaling.max_capacity == 1 else 4)
    endpoint = {"Name": "EndpointName", "Value": built.endpoint_name}
    expected = {
        "AWS/SageMaker": [endpoint],
        "/aws/sagemaker/Endpoints": [endpoint, {"Name": "VariantName", "Value": "AllTraffic"}],
    }
    for alarm in alarms.values():
        props = alarm["Properties"]
        metrics = (
            [props]
            if "MetricName" in props
            else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        )
        assert metrics and all(m["Dimensions"] == expected[m["Namespace"]] for m in metrics)


@pytest.mark.parametrize("fixture", ["one", "prod"])
def test_every_alarm_runs_one_step_policy_of_this_target(request: pytest.FixtureRequest, fixture: str) -> None:
    built: Built = request.getfixturevalue(fixture)
    target_id = built.logical_id(built.scaling.target)
    for alarm in built.template.find_resources("AWS::CloudWatch::Alarm").values():
        policy = built.policy_of(alarm["Properties"])
        assert (policy["PolicyType"], policy["ScalingTargetId"]) == ("StepScaling", {"Ref": target_id})


# Warm windows.


def test_prod_warm_window_raises_min_capacity_on_weekdays(prod: Built) -> None:
    assert prod.scheduled_actions() == [
        ("WarmWindow1End", "cron(0 18 ? * MON-FRI *)", "America/New_York", {"MinCapacity": 0}),
        ("WarmWindow1Start", "cron(0 8 ? * MON-FRI *)", "America/New_York", {"MinCapacity": 1}),
    ]


def test_each_warm_window_ends_back_at_the_configured_minimum(tuned: Built) -> None:
    assert tuned.scheduled_actions() == [
        ("WarmWindow1End", "cron(0 19 ? * MON-FRI *)", "Europe/Berlin", {"MinCapacity": 1}),
        ("WarmWindow1Start", "cron(0 7 ? * MON-FRI *)", "Europe/Berlin", {"MinCapacity": 2}),
        ("WarmWindow2End", "cron(0 14 ? * SAT,SUN *)", "UTC", {"MinCapacity": 1}),
        ("WarmWindow2Start", "cron(0 10 ? * SAT,SUN *)", "UTC", {"MinCapacity": 3}),
    ]


def test_no_warm_window_by_default(one: Built) -> None:
    assert "ScheduledActions" not in one.target()["Properties"]
