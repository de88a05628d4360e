"""Application Auto Scaling: wake from zero, scale out on backlog, scale in to zero when idle, warm windows."""

from __future__ import annotations

import pytest

from tests.synths import Synthesized


def _alarm(synth: Synthesized, name: str) -> dict:
    (props,) = [
        r["Properties"] for k, r in synth.resources("AWS::CloudWatch::Alarm").items() if k.startswith(f"Scaling{name}Alarm")
    ]
    return props


def _policy_of(synth: Synthesized, alarm: dict) -> dict:
    (action,) = alarm["AlarmActions"]
    return synth.template_json["Resources"][action["Ref"]]["Properties"]


def test_target_is_the_variant_from_zero_to_max(sandbox: Synthesized, prod: Synthesized) -> None:
    for synth, max_capacity in ((sandbox, 1), (prod, 3)):
        _, target = synth.only("AWS::ApplicationAutoScaling::ScalableTarget")
        props = target["Properties"]
        assert props["ServiceNamespace"] == "sagemaker"
        assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert props["ResourceId"] == f"endpoint/llm-async-{synth.config.env_name}-g5-2xlarge/variant/AllTraffic"
        assert (props["MinCapacity"], props["MaxCapacity"]) == (0, max_capacity)


def test_target_depends_on_the_endpoint(sandbox: Synthesized) -> None:
    endpoint_id, _ = sandbox.only("AWS::SageMaker::Endpoint")
    _, target = sandbox.only("AWS::ApplicationAutoScaling::ScalableTarget")
    assert endpoint_id in target["DependsOn"]


def test_target_acts_through_the_sagemaker_service_linked_role(sandbox: Synthesized) -> None:
    _, target = sandbox.only("AWS::ApplicationAutoScaling::ScalableTarget")
    parts = target["Properties"]["RoleARN"]["Fn::Join"][1]
    assert parts[-1].endswith(
        ":role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )
    assert not [k for k in sandbox.resources("AWS::IAM::Role") if k.startswith("Scaling")]


def test_wake_from_zero_on_backlog_without_capacity(sandbox: Synthesized) -> None:
    alarm = _alarm(sandbox, "Wake")
    assert {k: alarm[k] for k in ("Namespace", "MetricName", "Statistic", "Period", "Threshold", "ComparisonOperator")} == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "HasBacklogWithoutCapacity",
        "Statistic": "Maximum",
        "Period": 60,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    policy = _policy_of(sandbox, alarm)
    assert policy["PolicyType"] == "StepScaling"
    assert policy["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "Cooldown": 1500,  # the startup budget: 300 s provisioning + 600 s download + 600 s health check
        "MetricAggregationType": "Maximum",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }


def test_scale_out_on_backlog_per_instance(prod: Synthesized) -> None:
    alarm = _alarm(prod, "ScaleOut")
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "ApproximateBacklogSizePerInstance",
        "Average",
        8,
        "GreaterThanThreshold",
    )
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 2, 2)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert _policy_of(prod, alarm)["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "Cooldown": 300,
        "MetricAggregationType": "Average",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }


def test_no_scale_out_policy_when_one_instance_is_the_maximum(sandbox: Synthesized) -> None:
    assert not [k for k in sandbox.resources("AWS::CloudWatch::Alarm") if k.startswith("ScalingScaleOut")]
    assert len(sandbox.resources("AWS::ApplicationAutoScaling::ScalingPolicy")) == 2


def test_scale_in_to_zero_after_the_idle_window(sandbox: Synthesized) -> None:
    alarm = _alarm(sandbox, "ScaleInWhenIdle")
    expression, backlog = alarm["Metrics"]
    # Gaps in the backlog metric count as 0: the step policy always has a value to pick its step from.
    assert expression == {"Expression": "FILL(backlog, 0)", "Id": "expr_1", "Label": "ApproximateBacklogSize, gaps as 0", "ReturnData": True}
    assert backlog["Id"] == "backlog" and backlog["ReturnData"] is False
    stat = backlog["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]) == (
        "AWS/SageMaker",
        "ApproximateBacklogSize",
        "Maximum",
        60,
    )
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "LessThanOrEqualToThreshold")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (15, 15)
    assert alarm["TreatMissingData"] == "breaching"
    assert _policy_of(sandbox, alarm)["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ExactCapacity",
        "Cooldown": 300,
        "MetricAggregationType": "Maximum",
        "StepAdjustments": [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}],
    }


@pytest.mark.parametrize("env", ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed"])
def test_every_scaling_alarm_uses_the_endpoint_name_dimension_only(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    alarms = {k: v for k, v in synth.resources("AWS::CloudWatch::Alarm").items() if k.startswith("Scaling")}
    assert len(alarms) == (2 if synth.config.scaling.max_capacity == 1 else 3)
    expected = [{"Name": "EndpointName", "Value": f"llm-async-{synth.config.env_name}-g5-2xlarge"}]
    for alarm in alarms.values():
        props = alarm["Properties"]
        metrics = [props] if "MetricName" in props else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        assert metrics and all(m["Dimensions"] == expected for m in metrics)
        assert props["TreatMissingData"] in {"breaching", "notBreaching"}
        assert len(props["AlarmActions"]) == 1


def test_prod_warm_window_raises_min_capacity_on_weekdays(prod: Synthesized) -> None:
    _, target = prod.only("AWS::ApplicationAutoScaling::ScalableTarget")
    actions = {a["ScheduledActionName"]: a for a in target["Properties"]["ScheduledActions"]}
    assert [
        (a["Schedule"], a["Timezone"], a["ScalableTargetAction"]) for a in sorted(actions.values(), key=lambda a: a["ScheduledActionName"])
    ] == [
        ("cron(0 18 ? * MON-FRI *)", "America/New_York", {"MinCapacity": 0}),
        ("cron(0 8 ? * MON-FRI *)", "America/New_York", {"MinCapacity": 1}),
    ]


def test_no_warm_window_by_default(sandbox: Synthesized) -> None:
    _, target = sandbox.only("AWS::ApplicationAutoScaling::ScalableTarget")
    assert "ScheduledActions" not in target["Properties"]
