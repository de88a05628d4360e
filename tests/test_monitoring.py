"""Monitoring: the operations alarms (metric, dimensions, statistic, threshold, period, action), their
topic and key, the dashboard's metrics and dimensions, and log retention."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.synths import OPS_QUEUE_ARN, Synthesized

ENVS = ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed"]
# SageMaker publishes its queue metrics per endpoint, everything else per endpoint and variant.
QUEUE_METRICS = {
    "ApproximateBacklogSize",
    "ApproximateBacklogSizePerInstance",
    "ApproximateAgeOfOldestRequest",
    "HasBacklogWithoutCapacity",
}


def _ops_alarm(synth: Synthesized, name: str) -> dict[str, Any]:
    return synth.only("AWS::CloudWatch::Alarm", f"Monitoring{name}Alarm")[1]["Properties"]


def _ops_topic_ref(synth: Synthesized) -> dict[str, str]:
    return {"Ref": synth.only("AWS::SNS::Topic", "MonitoringOpsTopic")[0]}


def _endpoint_dimensions(synth: Synthesized, *, variant: bool) -> list[dict[str, str]]:
    dimensions = [{"Name": "EndpointName", "Value": f"llm-async-{synth.config.env_name}-g5-2xlarge"}]
    return [*dimensions, {"Name": "VariantName", "Value": "AllTraffic"}] if variant else dimensions


def _shape(alarm: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "Namespace",
        "MetricName",
        "Dimensions",
        "Statistic",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
    )
    return {k: alarm[k] for k in keys}


def _count_alarm(namespace: str, metric: str, dimensions: list, threshold: int = 1) -> dict[str, Any]:
    """Any event in 5 minutes; no datapoint means no event (these counts are only published when one happens)."""
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }


@pytest.mark.parametrize("env", ["sandbox", "subscribed"])
def test_stuck_at_zero_when_a_request_waits_longer_than_a_cold_start(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    alarm = _ops_alarm(synth, "StuckAtZero")
    assert _shape(alarm) == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "ApproximateAgeOfOldestRequest",
        "Dimensions": _endpoint_dimensions(synth, variant=False),
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        # Startup budget (300 s provisioning + 600 s download + 600 s health check) + the margin.
        "Threshold": {"sandbox": 1500 + 300, "subscribed": 1500 + 600}[env],
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    # Named after the endpoint's name prefix, which a change of instance type keeps.
    assert alarm["AlarmName"] == f"llm-async-{synth.config.env_name}-stuck-at-zero"


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("InvocationFailures", "InvocationFailures"),
        ("NotificationFailures", "NotificationFailures"),
        ("ExpiredRequests", "ExpiredRequests"),
    ],
)
def test_sagemaker_failure_alarms_fire_on_any_failure(sandbox: Synthesized, name: str, metric: str) -> None:
    alarm = _ops_alarm(sandbox, name)
    assert _shape(alarm) == _count_alarm("AWS/SageMaker", metric, _endpoint_dimensions(sandbox, variant=True))


@pytest.mark.parametrize(("env", "threshold"), [("sandbox", 1), ("subscribed", 5)])
def test_api_5xx_alarm_on_the_stage(synthesized: dict[str, Synthesized], env: str, threshold: int) -> None:
    synth = synthesized[env]
    stage_id = synth.only("AWS::ApiGateway::Stage")[0]
    dimensions = [{"Name": "ApiName", "Value": "llm-async-sandbox-api"}, {"Name": "Stage", "Value": {"Ref": stage_id}}]
    assert _shape(_ops_alarm(synth, "Api5xx")) == _count_alarm("AWS/ApiGateway", "5XXError", dimensions, threshold)


def test_lambda_errors_alarm(sandbox: Synthesized) -> None:
    function_id = sandbox.only("AWS::Lambda::Function")[0]
    dimensions = [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
    assert _shape(_ops_alarm(sandbox, "LambdaErrors")) == _count_alarm("AWS/Lambda", "Errors", dimensions)


@pytest.mark.parametrize("env", ENVS)
def test_every_ops_alarm_pages_and_clears_through_the_ops_topic(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    ops = {k: v["Properties"] for k, v in synth.resources("AWS::CloudWatch::Alarm").items() if k.startswith("Monitoring")}
    prefix = f"llm-async-{synth.config.env_name}-"
    assert sorted(a["AlarmName"].removeprefix(prefix) for a in ops.values()) == [
        "api-5xx",
        "expired-requests",
        "invocation-failures",
        "lambda-errors",
        "notification-failures",
        "stuck-at-zero",
    ]
    topic = _ops_topic_ref(synth)
    for alarm in ops.values():
        assert (alarm["AlarmActions"], alarm["OKActions"]) == ([topic], [topic])
        assert "First check" in alarm["AlarmDescription"]


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_in_every_template_has_an_action(synthesized: dict[str, Synthesized], env: str) -> None:
    alarms = synthesized[env].resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 8  # 6 operations alarms + the scaling alarms
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props.get("ActionsEnabled", True) is True, logical_id
        assert len(props.get("AlarmActions", [])) >= 1, logical_id
        assert props["TreatMissingData"] in {"breaching", "notBreaching", "ignore", "missing"}, logical_id


def test_ops_topic_has_its_own_rotating_key_and_refuses_plain_http(sandbox: Synthesized) -> None:
    _, topic = sandbox.only("AWS::SNS::Topic", "MonitoringOpsTopic")
    key_id, key = sandbox.only("AWS::KMS::Key", "MonitoringOpsKey")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    _, policy = sandbox.only("AWS::SNS::TopicPolicy", "MonitoringOpsTopic")
    deny, allow = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Condition"]) == ("Deny", "sns:Publish", {"Bool": {"aws:SecureTransport": "false"}})
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == ("Allow", {"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")


def test_cloudwatch_may_use_topic_and_key_for_this_endpoints_alarms_only(sandbox: Synthesized) -> None:
    _, policy = sandbox.only("AWS::SNS::TopicPolicy", "MonitoringOpsTopic")
    _, key = sandbox.only("AWS::KMS::Key", "MonitoringOpsKey")
    (key_statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarmsUseKey"]
    assert key_statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert key_statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    topic_statement = policy["Properties"]["PolicyDocument"]["Statement"][1]
    for statement in (topic_statement, key_statement):
        conditions = statement["Condition"]
        assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        alarm_arn = conditions["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
        assert alarm_arn[-1] == ":alarm:llm-async-sandbox-*"


def test_the_payload_key_is_not_opened_to_cloudwatch(sandbox: Synthesized) -> None:
    _, key = sandbox.only("AWS::KMS::Key", "PayloadKey")
    assert "cloudwatch.amazonaws.com" not in json.dumps(key["Properties"]["KeyPolicy"])


def test_ops_subscriptions_from_config(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["subscribed"]
    topic = _ops_topic_ref(synth)
    ops = sorted(
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"], s["Properties"].get("RawMessageDelivery"))
        for s in synth.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == topic
    )
    assert ops == [
        ("email", "llm-oncall@example.com", None),
        ("https", "https://pager.example.com/hooks/llm", None),
        ("sqs", OPS_QUEUE_ARN, True),
    ]


def test_no_ops_subscription_unless_configured(sandbox: Synthesized) -> None:
    assert sandbox.resources("AWS::SNS::Subscription") == {}
    assert "OpsTopicArn" in sandbox.template_json["Outputs"]


def _dashboard_body(synth: Synthesized) -> dict[str, Any]:
    """The dashboard JSON with each CloudFormation reference written as `<LogicalId>`."""
    _, dashboard = synth.only("AWS::CloudWatch::Dashboard")
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        return f"<{part['Ref'] if 'Ref' in part else part['Fn::GetAtt'][0]}>"

    return json.loads("".join(text(part) for part in parts))


def _dashboard_metrics(synth: Synthesized) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(namespace, metric, dimensions, statistic) of every metric the dashboard graphs."""
    found = []
    for widget in _dashboard_body(synth)["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                continue  # a math expression over metrics listed beside it
            *names, options = row if isinstance(row[-1], dict) else (*row, {})
            namespace, metric, *pairs = names
            found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options.get("stat")))
    return found


def test_dashboard_graphs_what_the_issue_asks_with_correct_dimensions(prod: Synthesized) -> None:
    metrics = _dashboard_metrics(prod)
    endpoint = {"EndpointName": "llm-async-prod-g5-2xlarge"}
    per_variant = {**endpoint, "VariantName": "AllTraffic"}
    sagemaker = {(m, frozenset(d.items())) for ns, m, d, _ in metrics if ns == "AWS/SageMaker"}
    assert sagemaker == {(m, frozenset(endpoint.items())) for m in QUEUE_METRICS} | {
        (m, frozenset(per_variant.items()))
        for m in (
            "InvocationsProcessed",
            "InvocationsProcesssed",  # the AWS docs' spelling; see monitoring.py
            "InvocationFailures",
            "NotificationFailures",
            "RequestDownloadFailures",
            "ResponseUploadFailures",
            "ExpiredRequests",
            "ModelLatency",
            "TotalProcessingTime",
        )
    }
    # Running instances: AWS's documented count, CPUUtilization's per-minute SampleCount.
    assert ("/aws/sagemaker/Endpoints", "CPUUtilization", per_variant, "SampleCount") in metrics
    stage_id = prod.only("AWS::ApiGateway::Stage")[0]
    api = {"ApiName": "llm-async-prod-api", "Stage": f"<{stage_id}>"}
    assert {(m, s) for ns, m, d, s in metrics if ns == "AWS/ApiGateway" and d == api} == {
        ("Count", "Sum"),
        ("4XXError", "Sum"),
        ("5XXError", "Sum"),
        ("Latency", "p50"),
        ("Latency", "p99"),
        ("IntegrationLatency", "p99"),
    }
    function = {"FunctionName": f"<{prod.only('AWS::Lambda::Function')[0]}>"}
    assert {(m, s) for ns, m, d, s in metrics if ns == "AWS/Lambda" and d == function} == {
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
        ("Duration", "p50"),
        ("Duration", "Maximum"),
    }
    assert {ns for ns, *_ in metrics} == {"AWS/SageMaker", "/aws/sagemaker/Endpoints", "AWS/ApiGateway", "AWS/Lambda"}


def test_dashboard_shows_every_alarm_and_the_stuck_threshold(prod: Synthesized) -> None:
    widgets = _dashboard_body(prod)["widgets"]
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    alarm_ids = {k for k in prod.resources("AWS::CloudWatch::Alarm")}
    assert {a.strip("<>") for a in status["properties"]["alarms"]} == alarm_ids
    (age,) = [w for w in widgets if w["properties"].get("title") == "Age of oldest request (s)"]
    assert age["properties"]["annotations"]["horizontal"][0]["value"] == 1800


def test_dashboard_name_is_unique_per_endpoint_and_region(sandbox: Synthesized, prod: Synthesized) -> None:
    assert prod.only("AWS::CloudWatch::Dashboard")[1]["Properties"]["DashboardName"] == "llm-async-prod-us-east-1"
    # The sandbox is environment-agnostic: the region is resolved at deploy time.
    assert sandbox.only("AWS::CloudWatch::Dashboard")[1]["Properties"]["DashboardName"] == {
        "Fn::Join": ["", ["llm-async-sandbox-", {"Ref": "AWS::Region"}]]
    }


@pytest.mark.parametrize("env", ENVS)
def test_every_log_group_has_the_configured_retention(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) == 3  # the endpoint's, the Lambda's, the API's access logs
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {synth.config.monitoring.log_retention_days}


def test_endpoint_log_group_exists_before_the_endpoint_and_matches_the_role_grant(prod: Synthesized) -> None:
    log_id, log_group = prod.only("AWS::Logs::LogGroup", "EndpointLogs")
    assert log_group["Properties"]["LogGroupName"] == "/aws/sagemaker/Endpoints/llm-async-prod-g5-2xlarge"
    assert log_group["DeletionPolicy"] == "Retain"  # prod keeps what it logged
    assert log_group["UpdateReplacePolicy"] == "Retain"  # a new instance type's endpoint gets a new group
    _, endpoint = prod.only("AWS::SageMaker::Endpoint")
    assert log_id in endpoint["DependsOn"]
    _, policy = prod.only("AWS::IAM::Policy", "ModelExecutionRole")
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "WriteEndpointLogs"]
    # The pipeline's prod stage has a concrete account and region.
    assert statement["Resource"] == "arn:aws:logs:us-east-1:444444444444:log-group:/aws/sagemaker/Endpoints/llm-async-prod-g5-2xlarge:*"


def test_outputs_name_the_ops_topic_and_the_dashboard(sandbox: Synthesized) -> None:
    outputs = sandbox.template_json["Outputs"]
    assert outputs["OpsTopicArn"]["Value"] == _ops_topic_ref(sandbox)
    assert outputs["DashboardName"]["Value"] == {"Ref": sandbox.only("AWS::CloudWatch::Dashboard")[0]}
