"""WeightsStore alone: the deployment's own bucket of staged weights, its key and access-log bucket, grants on one prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from llm_async.weights.construct import STAGE_ACTIONS, STAGE_KMS_ACTIONS, WeightsStore
from tests.compliance.acknowledged import acknowledged
from tests.constructs import bare_stack, template
from tests.helpers import BuiltStack
from tests.storage.expected import (
    OWNER_ENFORCED,
    PUBLIC_ACCESS_BLOCKED,
    S3_MANAGED_ENCRYPTION,
    assert_refuses_plain_http,
    kms_encryption,
)
from tests.weights.grants import prefix_statements
from tests.weights.rendered import rendered

# Not any environment's values: the name and the log expiry must come from the arguments.
NAME_PREFIX, ACCESS_LOG_DAYS = "llm-async-test", 45
BUCKET_NAME = "llm-async-test-weights-${AWS::AccountId}-${AWS::Region}"
BUCKET_ARN = f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}"
REVISION_PREFIX = "hub/Qwen/Qwen2.5-7B-Instruct/a09a35458c702b33eeacc393d103063234e8bc28/"
MODEL_PREFIX = f"{REVISION_PREFIX}model/"
PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


@dataclass(frozen=True)
class Built(BuiltStack):
    store: WeightsStore
    reader: iam.Role
    """Given grant_read(MODEL_PREFIX)."""
    stager: iam.Role
    """Given grant_stage(REVISION_PREFIX)."""
    acknowledged: dict[tuple[str, str], str]

    def resource(self, construct: Any) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.logical_id(construct)]

    def bucket(self) -> dict[str, Any]:
        return self.resource(self.store.bucket)

    def statements(self, role: iam.Role) -> list[dict[str, Any]]:
        """The role's statements, each resource rendered as one string."""
        (policy,) = self.template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": self.logical_id(role)}]}}).values()
        return [{**s, "Resource": rendered(s["Resource"])} for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def _build(removal_policy: cdk.RemovalPolicy) -> Built:
    stack = bare_stack()
    store = WeightsStore(stack, "Weights", name_prefix=NAME_PREFIX, access_log_expiry_days=ACCESS_LOG_DAYS, removal_policy=removal_policy)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    store.grant_read(reader, MODEL_PREFIX)
    stager = iam.Role(stack, "Stager", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    store.grant_stage(stager, REVISION_PREFIX)
    return Built(stack, template(stack), store, reader, stager, acknowledged(stack))


@pytest.fixture(scope="module")
def built() -> Built:
    return _build(cdk.RemovalPolicy.DESTROY)


@pytest.fixture(scope="module")
def retained() -> Built:
    return _build(cdk.RemovalPolicy.RETAIN)


# The bucket.


def test_bucket_is_named_from_the_prefix_with_the_account_and_region_as_pseudo_parameters(built: Built) -> None:
    # Pseudo parameters resolve in whichever stack names the bucket: the model's role names it without an import.
    assert rendered(built.bucket()["Properties"]["BucketName"]) == BUCKET_NAME
    assert rendered(built.ref(built.store.bucket_name)) == BUCKET_NAME


def test_bucket_name_is_lowercased() -> None:
    stack = bare_stack()
    store = WeightsStore(stack, "Weights", name_prefix="LLM-Async-Test", access_log_expiry_days=1, removal_policy=cdk.RemovalPolicy.DESTROY)
    assert rendered(stack.resolve(store.bucket_name)) == BUCKET_NAME


def test_s3_uri_names_a_prefix_of_the_bucket(built: Built) -> None:
    assert rendered(built.ref(built.store.s3_uri(MODEL_PREFIX))) == f"s3://{BUCKET_NAME}/{MODEL_PREFIX}"


def test_bucket_is_versioned(built: Built) -> None:
    assert built.bucket()["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_bucket_is_encrypted_with_its_own_key_and_a_bucket_key(built: Built) -> None:
    assert built.bucket()["Properties"]["BucketEncryption"] == kms_encryption(built.logical_id(built.store.key))


def test_the_key_rotates_and_is_the_stores_only_key(built: Built) -> None:
    (key_id,) = built.resources("AWS::KMS::Key")
    assert key_id == built.logical_id(built.store.key)
    properties = built.resources("AWS::KMS::Key")[key_id]["Properties"]
    assert (properties["EnableKeyRotation"], properties["Description"]) == (True, "llm-async: staged model weights")


def test_the_store_creates_two_buckets_both_blocking_public_access_and_acls(built: Built) -> None:
    assert set(built.resources("AWS::S3::Bucket")) == {built.logical_id(built.store.bucket), built.logical_id(built.store.access_log_bucket)}
    for bucket in built.resources("AWS::S3::Bucket").values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCKED
        assert bucket["Properties"]["OwnershipControls"] == OWNER_ENFORCED


@pytest.mark.parametrize("which", ["bucket", "access_log_bucket"])
def test_both_buckets_refuse_plain_http(built: Built, which: str) -> None:
    assert_refuses_plain_http(built.template, built.logical_id(getattr(built.store, which)))


def test_server_access_logs_go_to_the_sibling_bucket_under_weights(built: Built) -> None:
    assert built.bucket()["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": built.logical_id(built.store.access_log_bucket)},
        "LogFilePrefix": "weights/",
    }


def test_access_log_bucket_uses_s3_managed_encryption_and_expires_logs_after_the_given_days(built: Built) -> None:
    properties = built.resource(built.store.access_log_bucket)["Properties"]
    assert properties["BucketEncryption"] == S3_MANAGED_ENCRYPTION
    assert {"ExpirationInDays": ACCESS_LOG_DAYS, "Id": "ExpireAccessLogs", "Status": "Enabled"} in properties["LifecycleConfiguration"]["Rules"]


def test_lifecycle_aborts_incomplete_uploads_and_cleans_up_noncurrent_versions(built: Built) -> None:
    assert built.bucket()["Properties"]["LifecycleConfiguration"]["Rules"] == [
        {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}, "Id": "AbortIncompleteUploads", "Status": "Enabled"},
        {"Id": "ExpireNoncurrentVersions", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}, "Status": "Enabled"},
        {"ExpiredObjectDeleteMarker": True, "Id": "RemoveExpiredDeleteMarkers", "Status": "Enabled"},
    ]


def test_current_weights_never_expire(built: Built) -> None:
    # An endpoint that wakes must find its weights however long it slept.
    rules = built.bucket()["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule["Id"] for rule in rules if "ExpirationInDays" in rule or "ExpirationDate" in rule] == []


def test_buckets_and_key_are_deleted_with_the_stack_when_asked(built: Built) -> None:
    for construct in (built.store.bucket, built.store.access_log_bucket, built.store.key):
        resource = built.resource(construct)
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_buckets_and_key_are_retained_when_asked(retained: Built) -> None:
    for construct in (retained.store.bucket, retained.store.access_log_bucket, retained.store.key):
        resource = retained.resource(construct)
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


# The grants: on the grantee's policy, one prefix.


def test_stage_actions_are_what_the_staging_command_calls() -> None:
    assert (STAGE_ACTIONS, STAGE_KMS_ACTIONS) == (
        ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
        ["kms:Decrypt", "kms:GenerateDataKey"],
    )


def test_grant_stage_is_the_stage_actions_on_the_prefix_a_listing_of_it_and_the_key(built: Built) -> None:
    key_id = built.logical_id(built.store.key)
    assert built.statements(built.stager) == prefix_statements(BUCKET_ARN, REVISION_PREFIX, STAGE_ACTIONS, STAGE_KMS_ACTIONS, key_id)


def test_grant_read_is_get_object_on_the_prefix_a_listing_of_it_and_decrypt(built: Built) -> None:
    key_id = built.logical_id(built.store.key)
    assert built.statements(built.reader) == prefix_statements(BUCKET_ARN, MODEL_PREFIX, "s3:GetObject", "kms:Decrypt", key_id)


def test_grants_leave_the_key_policy_to_the_account(built: Built) -> None:
    (key,) = built.resources("AWS::KMS::Key").values()
    assert key["Properties"]["KeyPolicy"]["Statement"] == [
        {"Action": "kms:*", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Resource": "*"}
    ]


def test_grants_leave_the_bucket_policies_alone(built: Built) -> None:
    for policy in built.resources("AWS::S3::BucketPolicy").values():
        principals = [s["Principal"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
        # Only the deny-all-HTTP statement and the log delivery service's write to the log bucket.
        assert all(p in ({"AWS": "*"}, {"Service": "logging.s3.amazonaws.com"}) for p in principals), principals


@pytest.mark.parametrize(("grantee", "prefix", "what"), [("Reader", MODEL_PREFIX, "read"), ("Stager", REVISION_PREFIX, "stage")])
def test_each_grant_acknowledges_its_prefix_wildcard_at_the_grantee(built: Built, grantee: str, prefix: str, what: str) -> None:
    finding = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::llm-async-test-weights-<AWS::AccountId>-<AWS::Region>"
        f"/{prefix}*]"
    )
    assert {f for (path, f) in built.acknowledged if path == grantee} == {finding}
    assert f"under {prefix} of this stack's weights bucket only ({what})" in built.acknowledged[(grantee, finding)]


@pytest.mark.parametrize("path", ["Weights/Resource", "Weights/AccessLogs"])
def test_both_buckets_acknowledge_that_they_are_not_replicated(built: Built, path: str) -> None:
    for pack in PACKS:
        assert "the Hub and the manifest" in built.acknowledged[(path, f"{pack}-S3BucketReplicationEnabled")]


def test_the_weights_bucket_acknowledges_nothing_else(built: Built) -> None:
    assert {finding for (path, finding) in built.acknowledged if path == "Weights/Resource"} == {
        f"{pack}-S3BucketReplicationEnabled" for pack in PACKS
    }
    assert "checkov" not in built.bucket().get("Metadata", {})
