"""The payload bucket, its access-log bucket, the KMS key and the notification topics."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.synths import Synthesized


def _payload_bucket(synth: Synthesized) -> tuple[str, dict]:
    (item,) = [(k, v) for k, v in synth.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" in v["Properties"]]
    return item


def _access_log_bucket(synth: Synthesized) -> tuple[str, dict]:
    (item,) = [(k, v) for k, v in synth.resources("AWS::S3::Bucket").items() if "LoggingConfiguration" not in v["Properties"]]
    return item


def test_payload_bucket_encrypted_with_the_stack_key(sandbox: Synthesized) -> None:
    key_id, _ = sandbox.only("AWS::KMS::Key", "PayloadKey")
    _, bucket = _payload_bucket(sandbox)
    assert bucket["Properties"]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]
    }


def test_key_rotates(sandbox: Synthesized) -> None:
    sandbox.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_buckets_block_public_access(sandbox: Synthesized) -> None:
    for bucket in sandbox.resources("AWS::S3::Bucket").values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }


def test_buckets_refuse_plain_http(sandbox: Synthesized) -> None:
    for bucket_id in sandbox.resources("AWS::S3::Bucket"):
        sandbox.template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "s3:*",
                                    "Principal": {"AWS": "*"},
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_payloads_expire_per_prefix(sandbox: Synthesized, prod: Synthesized) -> None:
    for synth, days in ((sandbox, 3), (prod, 30)):
        rules = _payload_bucket(synth)[1]["Properties"]["LifecycleConfiguration"]["Rules"]
        expiring = {r["Prefix"]: r["ExpirationInDays"] for r in rules if "Prefix" in r}
        assert expiring == {"input/": days, "output/": days, "failure/": days}
        assert {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}, "Id": "AbortIncompleteUploads", "Status": "Enabled"} in rules


def test_server_access_logs_go_to_the_log_bucket(sandbox: Synthesized) -> None:
    log_id, log_bucket = _access_log_bucket(sandbox)
    assert _payload_bucket(sandbox)[1]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_id},
        "LogFilePrefix": "payloads/",
    }
    # S3 log delivery only writes to SSE-S3 buckets.
    assert log_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}


def test_retained_in_prod_only(sandbox: Synthesized, prod: Synthesized) -> None:
    for synth, policy in ((sandbox, "Delete"), (prod, "Retain")):
        for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for resource in synth.resources(resource_type).values():
                assert resource["DeletionPolicy"] == policy, (synth.config.env_name, resource_type)


def test_topics_encrypted_with_the_stack_key(sandbox: Synthesized) -> None:
    key_id, _ = sandbox.only("AWS::KMS::Key", "PayloadKey")
    # The operations topic has a key of its own (test_monitoring.py).
    topics = {k: v for k, v in sandbox.resources("AWS::SNS::Topic").items() if k.startswith("Notifications")}
    assert len(topics) == 2
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_topics_refuse_plain_http_publish(sandbox: Synthesized) -> None:
    for topic_id in sandbox.resources("AWS::SNS::Topic"):
        sandbox.template.has_resource_properties(
            "AWS::SNS::TopicPolicy",
            {
                "Topics": [{"Ref": topic_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "sns:Publish",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
