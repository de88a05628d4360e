"""Whole-app operations properties, over the session's synth of every configuration: every alarm acts and is
watched, the stack pages through one operations topic with the configured thresholds, only that topic's key is
opened to CloudWatch, every log group keeps the configured retention, and the outputs operators read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_async.network.config import NewVpc
from tests.monitoring.dashboard import dashboard_body
from tests.synths import Synthesized

ENVS = ["sandbox", "dev", "staging", "prod", "s3-weights", "subscribed", "vpc-new", "vpc-nat", "vpc-existing", "vllm"]
OPS_ALARMS = [
    "api-5xx",
    "expired-requests",
    "invocation-failures",
    "lambda-errors",
    "notification-failures",
    "stuck-at-zero",
]
# The batch jobs' (monitoring.sections.batch_section), in every configuration with batch.enabled.
BATCH_ALARMS = ["batch-executions-failed", "batch-lambda-errors", "batch-tracker-dead-letters"]


def _ops_topic_ref(synth: Synthesized) -> dict[str, Any]:
    return synth.template_json["Outputs"]["OpsTopicArn"]["Value"]


def _ops_alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The alarms that page, by name without the deployment's prefix."""
    prefix = f"{synth.config.endpoint.name_prefix}-"
    topic = _ops_topic_ref(synth)
    return {
        a["Properties"]["AlarmName"].removeprefix(prefix): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if topic in a["Properties"].get("AlarmActions", [])
    }


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_in_every_template_has_an_action(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    # The operations alarms (the batch jobs' three among them), and the scaling alarms (wake, idle scale-in, and
    # above one instance scale-out and gradual scale-in).
    assert len(alarms) == 6 + (3 if synth.config.batch.enabled else 0) + (2 if synth.config.scaling.max_capacity == 1 else 4)
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props.get("ActionsEnabled", True) is True, logical_id
        assert len(props.get("AlarmActions", [])) >= 1, logical_id
        # Each alarm states how a gap in its metric counts (CloudWatch's default, missing, is never chosen by omission).
        assert "TreatMissingData" in props, logical_id


@pytest.mark.parametrize("env", ENVS)
def test_the_stack_pages_through_the_ops_topic_with_its_alarms(synthesized: dict[str, Synthesized], env: str) -> None:
    ops = _ops_alarms(synthesized[env])
    assert sorted(ops) == sorted(OPS_ALARMS + (BATCH_ALARMS if synthesized[env].config.batch.enabled else []))
    topic = _ops_topic_ref(synthesized[env])
    assert all(alarm["OKActions"] == [topic] for alarm in ops.values())


@pytest.mark.parametrize(("env", "stuck_s", "api_5xx"), [("sandbox", 1500 + 300, 1), ("subscribed", 1500 + 600, 5)])
def test_the_stack_passes_the_configured_thresholds(
    synthesized: dict[str, Synthesized], env: str, stuck_s: int, api_5xx: int
) -> None:
    # Stuck at zero: the startup budget (300 s provisioning + 600 s download + 600 s health check) + the margin.
    ops = _ops_alarms(synthesized[env])
    assert (ops["stuck-at-zero"]["Threshold"], ops["api-5xx"]["Threshold"]) == (stuck_s, api_5xx)


def test_the_dashboard_shows_every_alarm_of_the_stack(prod: Synthesized) -> None:
    (dashboard,) = prod.resources("AWS::CloudWatch::Dashboard").values()
    (status,) = [w for w in dashboard_body(dashboard)["widgets"] if w["type"] == "alarm"]
    assert sorted(a.strip("<>") for a in status["properties"]["alarms"]) == sorted(
        prod.resources("AWS::CloudWatch::Alarm")
    )


@pytest.mark.parametrize("env", ["sandbox", "prod", "subscribed"])
def test_only_the_ops_topics_key_is_opened_to_cloudwatch(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    (ops_topic,) = [
        t
        for logical_id, t in synth.resources("AWS::SNS::Topic").items()
        if _ops_topic_ref(synth) == {"Ref": logical_id}
    ]
    ops_key_id = ops_topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    opened = {
        logical_id
        for logical_id, key in synth.resources("AWS::KMS::Key").items()
        if "cloudwatch.amazonaws.com" in json.dumps(key["Properties"]["KeyPolicy"])
    }
    # The payload key, which encrypts prompts and results, stays closed to CloudWatch.
    assert opened == {ops_key_id}


def test_the_ops_topic_and_the_dashboard_are_outputs(sandbox: Synthesized) -> None:
    outputs = sandbox.template_json["Outputs"]
    (topic_id,) = [
        logical_id
        for logical_id, topic in sandbox.resources("AWS::SNS::Topic").items()
        if topic["Properties"].get("DisplayName") == "llm-async-sandbox operations"
    ]
    assert outputs["OpsTopicArn"]["Value"] == {"Ref": topic_id}
    assert outputs["DashboardName"]["Value"] == {"Ref": next(iter(sandbox.resources("AWS::CloudWatch::Dashboard")))}
    # With no destination configured, the output is how the on-call subscribes (the batch tracker's queue subscribes
    # to the success and error topics, not to this one).
    assert [s for s in sandbox.resources("AWS::SNS::Subscription").values() if s["Properties"]["TopicArn"] == outputs["OpsTopicArn"]["Value"]] == []


def test_the_api_url_output_is_the_deployed_stage(sandbox: Synthesized) -> None:
    # The URL the client and the pipeline's smoke test read (InferenceApi.url, tests/api/test_construct.py).
    (api_id,) = sandbox.resources("AWS::ApiGateway::RestApi")
    (stage_id,) = sandbox.resources("AWS::ApiGateway::Stage")
    url = sandbox.template_json["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    assert (url[0], url[1], url[-3:]) == ("https://", {"Ref": api_id}, ["/", {"Ref": stage_id}, "/"])


@pytest.mark.parametrize("env", ENVS)
def test_every_log_group_has_the_configured_retention(synthesized: dict[str, Synthesized], env: str) -> None:
    synth = synthesized[env]
    groups = synth.resources("AWS::Logs::LogGroup")
    # The endpoint's, the Lambda's, the API's access logs, the flow logs of a VPC the stack creates, and the batch
    # jobs' (each of their 8 Lambdas' and the state machine's).
    batch = 9 if synth.config.batch.enabled else 0
    assert len(groups) == (4 if isinstance(synth.config.network, NewVpc) else 3) + batch
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {synth.config.monitoring.log_retention_days}
    # Prod keeps what it logged.
    expected = "Retain" if synth.config.storage.retain_on_delete else "Delete"
    assert {g["DeletionPolicy"] for g in groups.values()} == {expected}
