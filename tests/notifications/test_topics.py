"""NotificationTopics alone (the success and error topics, grant_publish) and the delivery dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from llm_async.notifications.topics import NotificationTopics, delivery_dead_letter_queue
from llm_async.storage.keys import RotatingKey
from tests.compliance.acknowledged import acknowledged
from tests.constructs import bare_stack, template
from tests.helpers import deny_plain_http_to_queue

FOURTEEN_DAYS_S = 14 * 24 * 3600


@dataclass(frozen=True)
class Built:
    template: Template
    key_id: str
    topic_ids: tuple[str, str]
    """Success, error."""
    role_id: str
    queue_id: str
    acknowledged: dict[tuple[str, str], str]


@pytest.fixture(scope="module")
def built() -> Built:
    stack = bare_stack()
    key = RotatingKey(stack, "PayloadKey", description="test", removal_policy=cdk.RemovalPolicy.DESTROY).key
    topics = NotificationTopics(stack, "Notifications", key=key)
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    topics.grant_publish(publisher)
    # RETAIN, unlike the rest: the queue must take the policy it is given.
    queue = delivery_dead_letter_queue(stack, "DeliveryDeadLetters", removal_policy=cdk.RemovalPolicy.RETAIN)
    logical_id = lambda construct: stack.get_logical_id(construct.node.default_child)  # noqa: E731
    return Built(
        template(stack),
        logical_id(key),
        (logical_id(topics.success_topic), logical_id(topics.error_topic)),
        logical_id(publisher),
        logical_id(queue),
        acknowledged(stack),
    )


def _resource(built: Built, logical_id: str) -> dict[str, Any]:
    return built.template.to_json()["Resources"][logical_id]


def _statements(built: Built, policy_type: str, attached_to: str, logical_id: str) -> list[dict[str, Any]]:
    """The statements of the one `policy_type` policy whose `attached_to` list (Roles, Topics…) is that resource."""
    attached = {"Properties": {attached_to: [{"Ref": logical_id}]}}
    (policy,) = built.template.find_resources(policy_type, attached).values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_two_topics_encrypted_with_the_given_key(built: Built) -> None:
    built.template.resource_count_is("AWS::SNS::Topic", 2)
    for topic_id in built.topic_ids:
        assert _resource(built, topic_id)["Properties"] == {"KmsMasterKeyId": {"Fn::GetAtt": [built.key_id, "Arn"]}}


@pytest.mark.parametrize("index", [0, 1], ids=["success", "error"])
def test_each_topic_refuses_publishing_over_plain_http(built: Built, index: int) -> None:
    topic_id = built.topic_ids[index]
    assert _statements(built, "AWS::SNS::TopicPolicy", "Topics", topic_id) == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic_id},
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]


def test_grant_publish_is_publish_on_the_two_topics_and_the_data_key_sse_needs(built: Built) -> None:
    assert _statements(built, "AWS::IAM::Policy", "Roles", built.role_id) == [
        {
            "Action": "sns:Publish",
            "Effect": "Allow",
            "Resource": [{"Ref": topic_id} for topic_id in sorted(built.topic_ids)],
        },
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [built.key_id, "Arn"]},
        },
    ]


def test_delivery_dead_letters_are_kept_14_days_encrypted_by_sqs_without_a_kms_key(built: Built) -> None:
    # SNS writes to a subscription's dead-letter queue without the grants an SSE-KMS queue would need.
    assert _resource(built, built.queue_id)["Properties"] == {
        "MessageRetentionPeriod": FOURTEEN_DAYS_S,
        "SqsManagedSseEnabled": True,
    }


def test_delivery_dead_letter_queue_refuses_plain_http(built: Built) -> None:
    assert _statements(built, "AWS::SQS::QueuePolicy", "Queues", built.queue_id) == [deny_plain_http_to_queue(built.queue_id)]


def test_delivery_dead_letter_queue_takes_the_given_removal_policy(built: Built) -> None:
    assert _resource(built, built.queue_id)["DeletionPolicy"] == "Retain"


def test_delivery_dead_letter_queue_acknowledges_being_a_dead_letter_queue(built: Built) -> None:
    assert {
        finding: reason for (path, finding), reason in built.acknowledged.items() if path == "DeliveryDeadLetters"
    } == {
        "AwsSolutions-SQS3": "It is the dead-letter queue of SNS subscriptions.",
        "Serverless-SQSRedrivePolicy": "It is the dead-letter queue of SNS subscriptions.",
    }


def test_delivery_dead_letter_queue_skips_checkovs_kms_check_with_its_evidence(built: Built) -> None:
    (skip,) = _resource(built, built.queue_id)["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_27"
    assert skip["comment"].startswith("Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled)")


def test_topics_and_grants_acknowledge_nothing(built: Built) -> None:
    assert [key for key in built.acknowledged if key[0] != "DeliveryDeadLetters"] == []
