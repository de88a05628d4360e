"""compliance.findings: acknowledging a cdk-nag finding, skipping a checkov check, at one resource with its evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from llm_async.compliance.findings import (
    HIPAA,
    NIST,
    PCI,
    SERVERLESS,
    acknowledge,
    acknowledge_rule,
    rule_ids,
    skip_checkov,
    waive,
    wildcard_resource_finding,
)
from stacks.llm_async_app import cdk_json_context
from tests.compliance.acknowledged import acknowledged
from tests.constructs import bare_stack, template


@dataclass(frozen=True)
class Built:
    resources: dict[str, dict[str, Any]]
    """By construct id (each test resource is a direct child of the stack)."""
    acknowledged: dict[tuple[str, str], str]

    def at(self, path: str) -> dict[str, str]:
        return {finding: reason for (p, finding), reason in self.acknowledged.items() if p == path}

    def checkov(self, construct_id: str) -> list[dict[str, str]]:
        return self.resources[construct_id].get("Metadata", {}).get("checkov", {}).get("skip", [])


@pytest.fixture(scope="module")
def built() -> Built:
    stack = bare_stack()
    acknowledge(sns.Topic(stack, "Topic"), "AwsSolutions-SNS3", "topic evidence")
    acknowledge(
        iam.Role(stack, "Role", assumed_by=iam.AccountRootPrincipal()),
        "AwsSolutions-IAM5[Resource::*]",
        "role evidence",
    )
    acknowledge_rule(sqs.Queue(stack, "Queue"), "SQSRedrivePolicy", (SERVERLESS, HIPAA), "queue evidence")
    waive(s3.Bucket(stack, "Bucket"), nag="AwsSolutions-S1", checkov="CKV_AWS_18", evidence="bucket evidence")
    waive(
        s3.CfnBucket(stack, "CfnBucket"),
        nag=rule_ids("S3BucketLoggingEnabled", (HIPAA, NIST, PCI)),
        checkov="CKV_AWS_18",
        evidence="cfn bucket evidence",
    )
    resources = template(stack).to_json()["Resources"]
    by_id = {
        name: resources[stack.get_logical_id(_cfn(stack.node.find_child(name)))]
        for name in ("Topic", "Role", "Queue", "Bucket", "CfnBucket")
    }
    return Built(by_id, acknowledged(stack))


def _cfn(construct: Any) -> cdk.CfnResource:
    return construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child


def test_acknowledge_records_the_finding_and_its_evidence_at_that_construct(built: Built) -> None:
    assert built.at("Topic") == {"AwsSolutions-SNS3": "topic evidence"}


def test_acknowledge_takes_one_finding_of_a_rule_verbatim(built: Built) -> None:
    assert built.at("Role") == {"AwsSolutions-IAM5[Resource::*]": "role evidence"}


def test_nothing_is_acknowledged_for_the_whole_stack(built: Built) -> None:
    assert {path for path, _ in built.acknowledged} == {"Topic", "Role", "Queue", "Bucket", "CfnBucket"}


def test_rule_ids_are_the_rule_prefixed_by_each_pack_in_order() -> None:
    assert rule_ids("LambdaDLQ", (HIPAA, NIST, SERVERLESS)) == (
        "HIPAA.Security-LambdaDLQ",
        "NIST.800.53.R5-LambdaDLQ",
        "Serverless-LambdaDLQ",
    )
    assert rule_ids("LambdaDLQ", ()) == ()


def test_acknowledge_rule_records_the_rule_once_per_pack_with_the_same_evidence(built: Built) -> None:
    assert built.at("Queue") == {
        "Serverless-SQSRedrivePolicy": "queue evidence",
        "HIPAA.Security-SQSRedrivePolicy": "queue evidence",
    }


def test_waive_acknowledges_the_finding_and_skips_the_check_with_the_same_evidence(built: Built) -> None:
    assert built.at("Bucket") == {"AwsSolutions-S1": "bucket evidence"}
    # On the L2's CloudFormation resource, where checkov reads it.
    assert built.checkov("Bucket") == [{"id": "CKV_AWS_18", "comment": "bucket evidence"}]


def test_waive_takes_several_findings_of_one_property_and_an_l1(built: Built) -> None:
    assert built.at("CfnBucket") == {
        f"{pack}-S3BucketLoggingEnabled": "cfn bucket evidence" for pack in (HIPAA, NIST, PCI)
    }
    assert built.checkov("CfnBucket") == [{"id": "CKV_AWS_18", "comment": "cfn bucket evidence"}]


def test_acknowledging_alone_leaves_checkov_alone(built: Built) -> None:
    assert [built.checkov(name) for name in ("Topic", "Role", "Queue")] == [[], [], []]


# skip_checkov.


def _topic() -> sns.Topic:
    return sns.Topic(cdk.Stack(cdk.App(), "Test"), "Topic")


def test_skips_accumulate_on_the_resource_whether_given_the_l2_or_the_l1() -> None:
    topic = _topic()
    skip_checkov(topic, "CKV_AWS_26", "first reason")
    skip_checkov(topic.node.default_child, "CKV_AWS_999", "second reason")
    assert topic.node.default_child.get_metadata("checkov") == {
        "skip": [{"id": "CKV_AWS_26", "comment": "first reason"}, {"id": "CKV_AWS_999", "comment": "second reason"}]
    }


@pytest.mark.parametrize("evidence", ["", "  \n"])
def test_a_skip_needs_its_evidence(evidence: str) -> None:
    topic = _topic()
    with pytest.raises(ValueError, match=r"^a checkov skip of CKV_AWS_26 needs its evidence$"):
        skip_checkov(topic, "CKV_AWS_26", evidence)
    assert topic.node.default_child.get_metadata("checkov") is None


def test_a_check_is_skipped_once_per_resource() -> None:
    topic = _topic()
    skip_checkov(topic, "CKV_AWS_26", "reason")
    with pytest.raises(ValueError, match=r"^CKV_AWS_26 is already skipped on Test/Topic$"):
        skip_checkov(topic, "CKV_AWS_26", "another reason")
    # The L2 and its L1 carry one list: the L1 cannot skip the check a second time either.
    with pytest.raises(ValueError, match=r"^CKV_AWS_26 is already skipped on Test/Topic/Resource$"):
        skip_checkov(topic.node.default_child, "CKV_AWS_26", "another reason")
    assert topic.node.default_child.get_metadata("checkov") == {"skip": [{"id": "CKV_AWS_26", "comment": "reason"}]}


def test_a_construct_without_a_cloudformation_resource_cannot_carry_a_skip() -> None:
    group = Construct(cdk.Stack(cdk.App(), "Test"), "Group")
    with pytest.raises(TypeError, match=r"^Test/Group has no CloudFormation resource to carry a checkov skip$"):
        skip_checkov(group, "CKV_AWS_26", "reason")


# wildcard_resource_finding: the id cdk-nag gives an IAM5 finding, tokens in their <Ref> form.


@pytest.fixture(scope="module")
def agnostic() -> cdk.Stack:
    return bare_stack(region=None, account=None)


def test_a_literal_arn_is_the_finding_as_is(agnostic: cdk.Stack) -> None:
    assert (
        wildcard_resource_finding(agnostic, "arn:aws:s3:::weights/models/*")
        == "AwsSolutions-IAM5[Resource::arn:aws:s3:::weights/models/*]"
    )


def test_an_attribute_becomes_logical_id_dot_attribute(agnostic: cdk.Stack) -> None:
    bucket = s3.Bucket(agnostic, "Payloads")
    logical_id = agnostic.get_logical_id(bucket.node.default_child)
    assert (
        wildcard_resource_finding(agnostic, bucket.arn_for_objects("input/*"))
        == f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/input/*]"
    )


def test_pseudo_parameters_and_references_become_their_names(agnostic: cdk.Stack) -> None:
    interfaces = agnostic.format_arn(service="ec2", resource="network-interface", resource_name="*")
    assert wildcard_resource_finding(agnostic, interfaces) == (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]"
    )
    name = cdk.CfnParameter(agnostic, "BucketName")
    assert (
        wildcard_resource_finding(agnostic, f"arn:aws:s3:::{name.value_as_string}/*")
        == "AwsSolutions-IAM5[Resource::arn:aws:s3:::<BucketName>/*]"
    )


def test_an_arn_with_another_intrinsic_is_written_as_compact_json(agnostic: cdk.Stack) -> None:
    # cdk-nag's own form for a function other than Ref and GetAtt (the batch map's Fn::Select passes the rule packs).
    imported = cdk.Fn.import_value("SharedBucketArn")
    assert wildcard_resource_finding(agnostic, f"{imported}/*") == 'AwsSolutions-IAM5[Resource::{"Fn::ImportValue":"SharedBucketArn"}/*]'


def test_cdk_nag_reports_a_wildcard_under_that_id(tmp_path: Path) -> None:
    """Two roles with the same wildcard resource: only the one not acknowledged under that id is flagged."""
    app = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "Test")
    name = cdk.CfnParameter(stack, "BucketName")
    objects = f"arn:{cdk.Aws.PARTITION}:s3:::{name.value_as_string}/input/*"
    for role_id in ("Acknowledged", "Flagged"):
        role = iam.Role(stack, role_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
    finding = wildcard_resource_finding(stack, objects)
    acknowledge(stack.node.find_child("Acknowledged"), finding, "the test's evidence")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (pack,) = report["pluginReports"]
    flagged = {(v["ruleName"], c["constructPath"]) for v in pack["violations"] for c in v["violatingConstructs"]}
    # cdk-nag names the finding with exactly the id the helper computed.
    assert flagged == {(finding, "Test/Flagged/DefaultPolicy/Resource")}
    assert finding == "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BucketName>/input/*]"
