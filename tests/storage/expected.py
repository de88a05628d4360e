"""What every bucket of the deployment's is, as its template writes it: the payload bucket (tests/storage/test_bucket.py)
and the weights bucket (tests/weights/test_construct.py) assert the same properties, each from its own construct, since
both are built with storage.bucket's defaults (an access-log sibling, SSL only, private, KMS with a bucket key)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}
OWNER_ENFORCED = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
# S3 log delivery only writes to SSE-S3 buckets.
S3_MANAGED_ENCRYPTION = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def kms_encryption(key_logical_id: str) -> dict[str, Any]:
    """BucketEncryption with the key of that logical id, and a bucket key (fewer KMS calls)."""
    by_default = {"KMSMasterKeyID": {"Fn::GetAtt": [key_logical_id, "Arn"]}, "SSEAlgorithm": "aws:kms"}
    return {"ServerSideEncryptionConfiguration": [{"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": by_default}]}


def assert_refuses_plain_http(template: Template, bucket_logical_id: str) -> None:
    """The bucket's policy denies every s3 action to anyone over a connection without TLS (enforce_ssl)."""
    deny_http = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Principal": {"AWS": "*"},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": {"Ref": bucket_logical_id}, "PolicyDocument": {"Statement": Match.array_with([Match.object_like(deny_http)])}},
    )
