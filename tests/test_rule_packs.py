"""cdk-nag runs on every synth: an unacknowledged finding fails it, and each acknowledgment is at its resource."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.environments import ENVIRONMENTS
from stacks.llm_async_app import add_llm_async_stack
from tests.synths import Synthesized, SynthesizedPipeline, cdk_json_context

PACKS = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless")


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    stack = add_llm_async_stack(app, ENVIRONMENTS["sandbox"]())
    s3.CfnBucket(stack, "DeliberatelyNonCompliant")  # no encryption, no logging, no SSL policy
    register_rule_packs(app)
    with pytest.raises(Exception, match="^ValidationFailed: ERROR"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    packs = {pack["pluginName"]: pack for pack in report["pluginReports"]}
    # Serverless has no rule for a bucket; the other four each flag it.
    for name in ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
        assert packs[name]["conclusion"] == "failure"
        flagged = {c["constructPath"] for v in packs[name]["violations"] for c in v["violatingConstructs"]}
        assert flagged == {"LlmAsyncStack/DeliberatelyNonCompliant"}, name
    assert {v["ruleName"] for v in packs["AwsSolutions"]["violations"]} >= {"AwsSolutions-S1", "AwsSolutions-S10"}
    assert {v["ruleName"] for v in packs["HIPAA.Security"]["violations"]} >= {"HIPAA.Security-S3BucketLoggingEnabled"}


# The batch jobs' (llm_async/batch/): each Lambda role's X-Ray and payload prefixes, the state machine role's log delivery
# and X-Ray, its invoke of each step function's versions and its read of the items, the Distributed Map's own executions,
# and the two dead-letter queues.
_BATCH_PREFIXES = {
    "Api": ("batches", "files"),
    "CheckChunk": ("batches", "input"),
    "Finalize": ("batches", "failure", "files", "output"),
    "MarkFailed": ("batches",),
    "SubmitChunk": ("batches", "input"),
    "Tracker": ("batches", "input"),
    "Validate": ("batches", "files"),
    "Wake": ("input",),
}
_STATE_MACHINE_EXECUTIONS = (
    'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:'
    '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"BatchStateMachineA1FF2995"}]}]}'
)
_BATCH_ACKNOWLEDGMENTS = [
    *[
        (f"LlmAsyncStack/Batch/Functions/{function}Role", finding)
        for function, prefixes in _BATCH_PREFIXES.items()
        for finding in ["AwsSolutions-IAM5[Resource::*]", *[f"AwsSolutions-IAM5[Resource::<Payloads07513F43.Arn>/{p}/*]" for p in prefixes]]
    ],
    ("LlmAsyncStack/Batch/StateMachine/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("LlmAsyncStack/Batch/StateMachine/Role", "AwsSolutions-IAM5[Resource::<Payloads07513F43.Arn>/batches/*]"),
    *[
        ("LlmAsyncStack/Batch/StateMachine/Role", f"AwsSolutions-IAM5[Resource::<BatchFunctions{function}.Arn>:*]")
        for function in (
            "CheckChunk22F119D8", "FinalizeE0CD2FB5", "MarkFailed57F38755", "SubmitChunk81EAFB6E", "Validate16CCC9A3", "Wake523E74E4",
        )
    ],
    ("LlmAsyncStack/Batch/StateMachine/DistributedMapPolicy", f"AwsSolutions-IAM5[Resource::{_STATE_MACHINE_EXECUTIONS}:*]"),
    ("LlmAsyncStack/Batch/StateMachine/DistributedMapPolicy", f"AwsSolutions-IAM5[Resource::{_STATE_MACHINE_EXECUTIONS}/Submit:*]"),
    ("LlmAsyncStack/Batch/DeliveryDeadLetters", "AwsSolutions-SQS3"),
    ("LlmAsyncStack/Batch/TrackerDeadLetters", "AwsSolutions-SQS3"),
]


def test_acknowledgments_sit_at_single_resources_with_evidence(sandbox: Synthesized) -> None:
    acknowledged = sandbox.acknowledgments
    # Nothing acknowledged for the whole stack: each finding at the construct it concerns.
    assert all(path != "LlmAsyncStack" for path, _ in acknowledged)
    acknowledged = {key: reason for key, reason in acknowledged.items() if key[1].startswith("AwsSolutions-")}
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
            *_BATCH_ACKNOWLEDGMENTS,
        ]
    )
    assert all(len(reason) > 60 for reason in acknowledged.values())


# Acknowledgments per rule pack: the pins may only go down. A new finding is fixed, or acknowledged
# at its resource with evidence and the pin raised in the same review.
# Batch jobs (issue 16) added to the sandbox and each stage: per batch Lambda (8) its role's X-Ray (IAM5) and inline
# policy (HIPAA, NIST, PCI), no DLQ (HIPAA, NIST, Serverless), no reserved concurrency (HIPAA, NIST), outside a VPC (HIPAA,
# NIST, PCI); 16 payload-prefix wildcards of their roles (IAM5); the state machine role's log delivery and X-Ray, batches/
# read and 6 function versions (IAM5) and its inline policy, the Distributed Map policy's 2 execution wildcards (IAM5)
# and inline policy; the 2 dead-letter queues (SQS3, Serverless redrive); the tracker's event source mapping has no
# on-failure destination (Serverless). +36 AwsSolutions, +34 HIPAA, +34 NIST, +18 PCI, +11 Serverless.
PINNED = {
    "sandbox": {"AwsSolutions": 49, "HIPAA.Security": 45, "NIST.800.53.R5": 46, "PCI.DSS.321": 28, "Serverless": 12},
    # Each stage: the sandbox's, plus the smoke-test role (IAM5 and inline policy), plus the model role's read of
    # the staged weights' prefix (IAM5), minus reserved concurrency.
    "stage": {"AwsSolutions": 51, "HIPAA.Security": 45, "NIST.800.53.R5": 46, "PCI.DSS.321": 29, "Serverless": 12},
    # Each stage's weights stack: the staging role (IAM5 on its prefix, inline policy), the access-log bucket
    # (S1, SSE-S3), replication of both buckets.
    "weights": {"AwsSolutions": 2, "HIPAA.Security": 4, "NIST.800.53.R5": 4, "PCI.DSS.321": 4, "Serverless": 0},
    # Plus, for the three staging steps: their role's artifact reads and build logs, their projects' source URL.
    "pipeline": {"AwsSolutions": 68, "HIPAA.Security": 20, "NIST.800.53.R5": 11, "PCI.DSS.321": 20, "Serverless": 0},
}


def _per_pack(acknowledged: dict[tuple[str, str], str]) -> dict[str, int]:
    counts = dict.fromkeys(PACKS, 0)
    for _, finding in acknowledged:
        counts[next(pack for pack in PACKS if finding.startswith(f"{pack}-"))] += 1
    return counts


def test_acknowledgment_counts_per_pack_are_pinned(sandbox: Synthesized, pipeline: SynthesizedPipeline) -> None:
    # Read from the cloud assemblies: each stack's metadata holds only its own acknowledgments.
    assert _per_pack(sandbox.acknowledgments) == PINNED["sandbox"]
    for env, stage in pipeline.stages.items():
        assert _per_pack(stage.acknowledgments) == PINNED["stage"], env
        assert stage.weights is not None and _per_pack(stage.weights.acknowledgments) == PINNED["weights"], env
    assert _per_pack(pipeline.acknowledgments) == PINNED["pipeline"]
    print({name: sum(counts.values()) for name, counts in PINNED.items()})
