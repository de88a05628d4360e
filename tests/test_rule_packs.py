"""cdk-nag runs on every synth: an unacknowledged finding fails it, and each acknowledgment is at its resource."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from llm_async.environments import ENVIRONMENTS
from stacks.llm_async_app import add_llm_async_stack, register_rule_packs
from tests.conftest import cdk_json_context


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    stack = add_llm_async_stack(app, ENVIRONMENTS["sandbox"]())
    s3.CfnBucket(stack, "DeliberatelyNonCompliant")  # no encryption, no logging, no SSL policy
    register_rule_packs(app)
    with pytest.raises(Exception, match="^ValidationFailed: ERROR"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (pack,) = report["pluginReports"]
    assert (pack["pluginName"], pack["conclusion"]) == ("AwsSolutions", "failure")
    flagged = {c["constructPath"] for v in pack["violations"] for c in v["violatingConstructs"]}
    assert flagged == {"LlmAsyncStack/DeliberatelyNonCompliant"}
    assert {v["ruleName"] for v in pack["violations"]} >= {"AwsSolutions-S1", "AwsSolutions-S10"}


def test_acknowledgments_sit_at_single_resources_with_evidence() -> None:
    app = cdk.App(context=cdk_json_context())
    stack = add_llm_async_stack(app, ENVIRONMENTS["sandbox"]())
    acknowledged: dict[tuple[str, str], str] = {}
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in entry.data.items():
                    acknowledged[(construct.node.path, rule_id.removeprefix("Annotation::"))] = reason
    # Nothing acknowledged for the whole stack: each finding at the construct it concerns.
    assert all(path != "LlmAsyncStack" for path, _ in acknowledged)
    payload_prefixes = [f"AwsSolutions-IAM5[Resource::<Payloads07513F43.Arn>/{p}/*]" for p in ("failure", "input", "output")]
    assert sorted(acknowledged) == sorted(
        [
            ("LlmAsyncStack/Api/FunctionRole", "AwsSolutions-IAM5[Resource::*]"),
            *[("LlmAsyncStack/Api/FunctionRole", finding) for finding in payload_prefixes],
            ("LlmAsyncStack/Api/Resource", "AwsSolutions-APIG3"),
            ("LlmAsyncStack/Api/Resource", "AwsSolutions-COG4"),
            (
                "LlmAsyncStack/Api/Resource/CloudWatchRole",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            ),
            ("LlmAsyncStack/Model/ExecutionRole", "AwsSolutions-IAM5[Resource::*]"),
            *[("LlmAsyncStack/Model/ExecutionRole", finding) for finding in payload_prefixes],
            (
                "LlmAsyncStack/Model/ExecutionRole",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                "/aws/sagemaker/Endpoints/llm-async-sandbox-g5-2xlarge:*]",
            ),
            ("LlmAsyncStack/Payloads/AccessLogs", "AwsSolutions-S1"),
        ]
    )
    assert all(len(reason) > 60 for reason in acknowledged.values())
