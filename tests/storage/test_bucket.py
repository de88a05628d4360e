"""PayloadBucket alone: the encrypted, expiring payload bucket, its access-log bucket, grants scoped to one prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from llm_async.storage.bucket import BATCHES_PREFIX, FILES_PREFIX, PayloadBucket
from llm_async.storage.keys import RotatingKey
from tests.compliance.acknowledged import acknowledged
from tests.constructs import bare_stack, template
from tests.storage.expected import (
    OWNER_ENFORCED,
    PUBLIC_ACCESS_BLOCKED,
    S3_MANAGED_ENCRYPTION,
    assert_refuses_plain_http,
    kms_encryption,
)

# Not the defaults (7 and 90) nor any environment's: the rules must come from the arguments.
PAYLOAD_DAYS, ACCESS_LOG_DAYS = 5, 45
GRANTS = ("grant_read_inputs", "grant_write_results", "grant_submit_requests", "grant_read_results")
PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


@dataclass(frozen=True)
class Built:
    stack: cdk.Stack
    template: Template
    bucket_id: str
    access_log_id: str
    key_id: str
    role_ids: dict[str, str]
    """The role each grant method was given, by method name."""
    acknowledged: dict[tuple[str, str], str]


def _build(removal_policy: cdk.RemovalPolicy) -> Built:
    stack = bare_stack()
    key = RotatingKey(stack, "PayloadKey", description="test", removal_policy=removal_policy).key
    payloads = PayloadBucket(
        stack,
        "Payloads",
        key=key,
        payload_expiry_days=PAYLOAD_DAYS,
        access_log_expiry_days=ACCESS_LOG_DAYS,
        removal_policy=removal_policy,
    )
    roles = {}
    for grant in GRANTS:
        role = iam.Role(stack, grant, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        getattr(payloads, grant)(role)
        roles[grant] = stack.get_logical_id(role.node.default_child)
    built = template(stack)
    return Built(
        stack,
        built,
        stack.get_logical_id(payloads.bucket.node.default_child),
        stack.get_logical_id(payloads.access_log_bucket.node.default_child),
        stack.get_logical_id(key.node.default_child),
        roles,
        acknowledged(stack),
    )


@pytest.fixture(scope="module")
def built() -> Built:
    return _build(cdk.RemovalPolicy.DESTROY)


@pytest.fixture(scope="module")
def retained() -> Built:
    return _build(cdk.RemovalPolicy.RETAIN)


def _bucket(built: Built, logical_id: str) -> dict[str, Any]:
    return built.template.to_json()["Resources"][logical_id]


def _objects(built: Built, prefix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [built.bucket_id, "Arn"]}, f"/{prefix}/*"]]}


def _key_statement(built: Built, actions: str | list[str]) -> dict[str, Any]:
    return {"Action": actions, "Effect": "Allow", "Resource": {"Fn::GetAtt": [built.key_id, "Arn"]}}


def _statements(built: Built, grant: str) -> list[dict[str, Any]]:
    (policy,) = built.template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": built.role_ids[grant]}]}}
    ).values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_payload_bucket_is_encrypted_with_the_given_key_and_a_bucket_key(built: Built) -> None:
    assert _bucket(built, built.bucket_id)["Properties"]["BucketEncryption"] == kms_encryption(built.key_id)


def test_access_log_bucket_uses_s3_managed_encryption(built: Built) -> None:
    assert _bucket(built, built.access_log_id)["Properties"]["BucketEncryption"] == S3_MANAGED_ENCRYPTION


def test_the_construct_creates_two_buckets_both_blocking_public_access_and_acls(built: Built) -> None:
    built.template.resource_count_is("AWS::S3::Bucket", 2)
    for logical_id in (built.bucket_id, built.access_log_id):
        properties = _bucket(built, logical_id)["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCKED
        assert properties["OwnershipControls"] == OWNER_ENFORCED


@pytest.mark.parametrize("which", ["bucket_id", "access_log_id"])
def test_both_buckets_refuse_plain_http(built: Built, which: str) -> None:
    assert_refuses_plain_http(built.template, getattr(built, which))


def test_payloads_expire_per_prefix_after_the_configured_days(built: Built) -> None:
    rules = _bucket(built, built.bucket_id)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule for rule in rules if "Prefix" in rule] == [
        {"ExpirationInDays": PAYLOAD_DAYS, "Id": f"Expire-{name}", "Prefix": f"{name}/", "Status": "Enabled"}
        for name in ("input", "output", "failure", "files", "batches")
    ]
    # Nothing else expires whole objects: a rule without a prefix would cut every payload short.
    assert [rule["Id"] for rule in rules if "ExpirationInDays" in rule and "Prefix" not in rule] == []


def test_incomplete_uploads_are_aborted_after_a_day(built: Built) -> None:
    rules = _bucket(built, built.bucket_id)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Id": "AbortIncompleteUploads",
        "Status": "Enabled",
    } in rules


def test_access_logs_expire_after_their_own_days(built: Built) -> None:
    rules = _bucket(built, built.access_log_id)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"ExpirationInDays": ACCESS_LOG_DAYS, "Id": "ExpireAccessLogs", "Status": "Enabled"} in rules


@pytest.mark.parametrize("which", ["bucket_id", "access_log_id"])
def test_overwritten_or_deleted_objects_are_recoverable_for_one_day_only(built: Built, which: str) -> None:
    properties = _bucket(built, getattr(built, which))["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert {
        "Id": "ExpireNoncurrentVersions",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        "Status": "Enabled",
    } in rules
    assert {"ExpiredObjectDeleteMarker": True, "Id": "RemoveExpiredDeleteMarkers", "Status": "Enabled"} in rules


def test_server_access_logs_go_to_the_log_bucket_under_payloads(built: Built) -> None:
    assert _bucket(built, built.bucket_id)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": built.access_log_id},
        "LogFilePrefix": "payloads/",
    }
    assert "LoggingConfiguration" not in _bucket(built, built.access_log_id)["Properties"]


def test_buckets_are_deleted_with_the_stack_when_asked(built: Built) -> None:
    for logical_id in (built.bucket_id, built.access_log_id):
        assert _bucket(built, logical_id)["DeletionPolicy"] == "Delete"


def test_buckets_are_retained_when_asked(retained: Built) -> None:
    for logical_id in (retained.bucket_id, retained.access_log_id):
        assert (
            _bucket(retained, logical_id)["DeletionPolicy"],
            _bucket(retained, logical_id)["UpdateReplacePolicy"],
        ) == (
            "Retain",
            "Retain",
        )


def test_s3_uri_names_a_prefix_of_the_payload_bucket(built: Built) -> None:
    payloads = built.stack.node.find_child("Payloads")
    assert built.stack.resolve(payloads.s3_uri("output/")) == {
        "Fn::Join": ["", ["s3://", {"Ref": built.bucket_id}, "/output/"]]
    }


def test_access_log_bucket_acknowledges_sse_s3_and_no_access_logging_of_its_own(built: Built) -> None:
    at_log_bucket = {
        finding: reason for (path, finding), reason in built.acknowledged.items() if path == "Payloads/AccessLogs"
    }
    assert set(at_log_bucket) == {
        *(f"{pack}-S3DefaultEncryptionKMS" for pack in PACKS),
        *(f"{pack}-S3BucketReplicationEnabled" for pack in PACKS),
        "AwsSolutions-S1",
    }
    assert at_log_bucket["HIPAA.Security-S3DefaultEncryptionKMS"].startswith(
        "S3 server access logging delivers only to"
    )


def test_access_logging_is_waived_for_both_scanners_with_the_same_evidence(built: Built) -> None:
    skips = _bucket(built, built.access_log_id)["Metadata"]["checkov"]["skip"]
    assert skips == [{"id": "CKV_AWS_18", "comment": built.acknowledged[("Payloads/AccessLogs", "AwsSolutions-S1")]}]
    assert "checkov" not in _bucket(built, built.bucket_id).get("Metadata", {})


def test_payload_bucket_acknowledges_only_that_it_is_not_replicated(built: Built) -> None:
    at_bucket = {finding for (path, finding) in built.acknowledged if path == "Payloads/Resource"}
    assert at_bucket == {f"{pack}-S3BucketReplicationEnabled" for pack in PACKS}


def test_grant_read_inputs_is_get_object_under_input_only(built: Built) -> None:
    assert _statements(built, "grant_read_inputs") == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": _objects(built, "input")},
        _key_statement(built, "kms:Decrypt"),
    ]


def test_grant_write_results_is_put_object_under_output_and_failure_only(built: Built) -> None:
    assert _statements(built, "grant_write_results") == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": [_objects(built, "failure"), _objects(built, "output")],
        },
        _key_statement(built, "kms:GenerateDataKey"),
    ]


def test_grant_submit_requests_is_put_read_back_and_delete_under_input_only(built: Built) -> None:
    assert _statements(built, "grant_submit_requests") == [
        {
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": _objects(built, "input"),
        },
        _key_statement(built, ["kms:Decrypt", "kms:GenerateDataKey"]),
    ]


def test_grant_read_results_is_get_object_under_output_and_failure_and_list_of_the_bucket(built: Built) -> None:
    assert _statements(built, "grant_read_results") == [
        # ListBucket so that a result not written yet reads as 404, not 403.
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": {"Fn::GetAtt": [built.bucket_id, "Arn"]}},
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": [_objects(built, "failure"), _objects(built, "output")],
        },
        _key_statement(built, "kms:Decrypt"),
    ]


def test_grants_are_on_the_roles_not_in_the_bucket_policy(built: Built) -> None:
    for policy in built.template.find_resources("AWS::S3::BucketPolicy").values():
        principals = [s["Principal"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
        # Only the deny-all-HTTP statement and the log delivery service's write to the log bucket.
        assert all(p in ({"AWS": "*"}, {"Service": "logging.s3.amazonaws.com"}) for p in principals), principals


@pytest.mark.parametrize(
    ("grant", "prefixes"),
    [
        ("grant_read_inputs", ("input",)),
        ("grant_write_results", ("output", "failure")),
        ("grant_submit_requests", ("input",)),
        ("grant_read_results", ("output", "failure")),
    ],
)
def test_each_grant_acknowledges_the_wildcard_of_its_prefixes_at_its_role(
    built: Built, grant: str, prefixes: tuple[str, ...]
) -> None:
    at_role = {finding: reason for (path, finding), reason in built.acknowledged.items() if path == grant}
    assert sorted(at_role) == sorted(
        f"AwsSolutions-IAM5[Resource::<{built.bucket_id}.Arn>/{prefix}/*]" for prefix in prefixes
    )
    for prefix in prefixes:
        assert f"on the {prefix}/ prefix" in at_role[f"AwsSolutions-IAM5[Resource::<{built.bucket_id}.Arn>/{prefix}/*]"]
        assert "object keys are inference ids" in at_role[f"AwsSolutions-IAM5[Resource::<{built.bucket_id}.Arn>/{prefix}/*]"]


def test_a_batch_prefix_grant_acknowledges_its_wildcard_with_what_names_its_objects() -> None:
    stack = bare_stack()
    key = RotatingKey(stack, "PayloadKey", description="test", removal_policy=cdk.RemovalPolicy.DESTROY).key
    payloads = PayloadBucket(stack, "Payloads", key=key, payload_expiry_days=PAYLOAD_DAYS,
                             access_log_expiry_days=ACCESS_LOG_DAYS, removal_policy=cdk.RemovalPolicy.DESTROY)
    role = iam.Role(stack, "Batch", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    payloads.grant_prefix(role, FILES_PREFIX, read=True)
    payloads.grant_prefix(role, BATCHES_PREFIX, write=True)
    bucket_id = stack.get_logical_id(payloads.bucket.node.default_child)
    at_role = {finding: reason for (path, finding), reason in acknowledged(stack).items() if path == "Batch"}
    assert at_role[f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/files/*]"].endswith(
        "on the files/ prefix of this stack's payload bucket only; object keys are file ids that are not known in advance.")
    assert at_role[f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/batches/*]"].endswith(
        "on the batches/ prefix of this stack's payload bucket only; object keys are batch ids that are not known in advance.")
