"""ResultSubscriptions alone: SQS queues (with DLQs and their own key), emails and HTTPS URLs on the chosen topics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

from llm_async.notifications.config import ResultSubscription
from llm_async.notifications.subscriptions import ResultSubscriptions
from tests.compliance.acknowledged import acknowledged
from tests.constructs import Parts, bare_stack, template
from tests.helpers import BuiltStack, deny_plain_http_to_queue, queue_policy_statements
from tests.synths import subscribed_config

FOURTEEN_DAYS_S = 14 * 24 * 3600


@dataclass(frozen=True)
class Built(BuiltStack):
    construct: ResultSubscriptions
    success_id: str
    error_id: str
    payload_key_id: str
    acknowledged: dict[tuple[str, str], str]

    @property
    def queue_key_id(self) -> str:
        assert self.construct.queue_key is not None
        return self.logical_id(self.construct.queue_key)

    @property
    def delivery_dead_letters_id(self) -> str:
        assert self.construct.delivery_dead_letters is not None
        return self.logical_id(self.construct.delivery_dead_letters)


def _build(destinations: tuple[ResultSubscription, ...], removal_policy: cdk.RemovalPolicy) -> Built:
    stack = bare_stack(region=None, account=None)
    parts = Parts(stack, subscribed_config())
    construct = ResultSubscriptions(
        stack, "ResultSubscriptions", topics=parts.topics, destinations=destinations, removal_policy=removal_policy
    )
    logical_id = lambda c: stack.get_logical_id(c.node.default_child)  # noqa: E731
    return Built(
        stack,
        template(stack),
        construct,
        logical_id(parts.topics.success_topic),
        logical_id(parts.topics.error_topic),
        logical_id(parts.key),
        acknowledged(stack),
    )


@pytest.fixture(scope="module")
def subscribed() -> Built:
    """The session's subscribed configuration: a queue on both topics, an email on errors, a URL on successes."""
    return _build(subscribed_config().api.result_subscriptions, cdk.RemovalPolicy.DESTROY)


@pytest.fixture(scope="module")
def two_queues() -> Built:
    return _build((ResultSubscription("sqs"), ResultSubscription("sqs", topics=("error",))), cdk.RemovalPolicy.RETAIN)


@pytest.fixture(scope="module")
def unsubscribed() -> Built:
    return _build((), cdk.RemovalPolicy.DESTROY)


def _main_queues(built: Built) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in built.resources("AWS::SQS::Queue").items() if "RedrivePolicy" in v["Properties"]}


def _subscriptions(built: Built) -> list[tuple[str, str, str]]:
    """(protocol, topic logical id, endpoint) of every subscription."""
    return sorted(
        (s["Properties"]["Protocol"], s["Properties"]["TopicArn"]["Ref"], str(s["Properties"]["Endpoint"]))
        for s in built.resources("AWS::SNS::Subscription").values()
    )


def test_no_destination_creates_nothing(unsubscribed: Built) -> None:
    for resource_type in ("AWS::SNS::Subscription", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy"):
        unsubscribed.template.resource_count_is(resource_type, 0)
    unsubscribed.template.resource_count_is("AWS::KMS::Key", 1)  # the payload key only
    assert (
        unsubscribed.construct.queues,
        unsubscribed.construct.queue_key,
        unsubscribed.construct.delivery_dead_letters,
    ) == (
        [],
        None,
        None,
    )


def test_subscriptions_on_the_configured_topics(subscribed: Built) -> None:
    (queue_id,) = _main_queues(subscribed)
    queue_arn = str({"Fn::GetAtt": [queue_id, "Arn"]})
    assert _subscriptions(subscribed) == sorted(
        [
            ("email", subscribed.error_id, "ml-platform@example.com"),
            ("https", subscribed.success_id, "https://hooks.example.com/llm"),
            ("sqs", subscribed.error_id, queue_arn),
            ("sqs", subscribed.success_id, queue_arn),
        ]
    )


def test_queues_receive_the_raw_message_and_pushed_destinations_the_sns_envelope(subscribed: Built) -> None:
    raw = {
        s["Properties"]["Protocol"]: s["Properties"].get("RawMessageDelivery")
        for s in subscribed.resources("AWS::SNS::Subscription").values()
    }
    assert raw == {"sqs": True, "email": None, "https": None}


def test_a_queue_subscription_waits_for_the_policy_that_lets_the_topic_send(subscribed: Built) -> None:
    (queue_id,) = _main_queues(subscribed)
    (policy_id,) = subscribed.template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}}
    )
    for subscription in subscribed.resources("AWS::SNS::Subscription").values():
        if subscription["Properties"]["Protocol"] == "sqs":
            assert subscription["DependsOn"] == [policy_id]


def test_queue_has_a_dlq_after_5_receives_kept_14_days(subscribed: Built) -> None:
    ((queue_id, queue),) = _main_queues(subscribed).items()
    (dlq_id,) = [
        k for k in subscribed.resources("AWS::SQS::Queue") if k.startswith("ResultSubscriptionsQueue1DeadLetters")
    ]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert subscribed.template.to_json()["Resources"][dlq_id]["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS_S


def test_queue_and_its_dlq_are_encrypted_with_a_rotating_key_of_their_own(subscribed: Built) -> None:
    queue_key = {"Fn::GetAtt": [subscribed.queue_key_id, "Arn"]}
    encrypted = [q["Properties"].get("KmsMasterKeyId") for q in subscribed.resources("AWS::SQS::Queue").values()]
    # The queue and its DLQ; the delivery DLQ is SQS-managed (test_topics.py).
    assert encrypted.count(queue_key) == 2
    assert subscribed.queue_key_id != subscribed.payload_key_id
    assert subscribed.resources("AWS::KMS::Key")[subscribed.queue_key_id]["Properties"]["EnableKeyRotation"] is True


def test_only_the_result_topics_may_use_the_queue_key(subscribed: Built) -> None:
    key = subscribed.resources("AWS::KMS::Key")[subscribed.queue_key_id]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for_sns = [s for s in statements if s["Principal"] == {"Service": "sns.amazonaws.com"}]
    assert [s["Action"] for s in for_sns] == [["kms:Decrypt", "kms:GenerateDataKey"]] * 2
    assert sorted(s["Condition"]["ArnEquals"]["aws:SourceArn"]["Ref"] for s in for_sns) == sorted(
        [subscribed.success_id, subscribed.error_id]
    )
    # Besides SNS, only the account's own administrators (the key's default statement).
    assert len(statements) == len(for_sns) + 1


def test_every_queue_refuses_plain_http(subscribed: Built) -> None:
    queues = subscribed.resources("AWS::SQS::Queue")
    assert len(queues) == 3  # the queue, its DLQ, and the subscriptions' delivery DLQ
    for queue_id in queues:
        assert deny_plain_http_to_queue(queue_id) in queue_policy_statements(subscribed.template, queue_id)


def test_every_subscription_keeps_undeliverable_messages_in_the_delivery_dlq(subscribed: Built) -> None:
    """SNS moves a message it cannot deliver (a bounced email, a failing webhook) to a queue for 14 days."""
    subscriptions = subscribed.resources("AWS::SNS::Subscription").values()
    assert len(subscriptions) == 4
    dlq_id = subscribed.delivery_dead_letters_id
    assert {str(s["Properties"]["RedrivePolicy"]) for s in subscriptions} == {
        str({"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}})
    }
    dlq = subscribed.resources("AWS::SQS::Queue")[dlq_id]["Properties"]
    assert (dlq["SqsManagedSseEnabled"], dlq["MessageRetentionPeriod"]) == (True, FOURTEEN_DAYS_S)


def test_queue_dlq_acknowledges_being_a_dead_letter_queue_with_its_redrive_rule(subscribed: Built) -> None:
    at_dlq = {
        finding: reason
        for (path, finding), reason in subscribed.acknowledged.items()
        if path == "ResultSubscriptions/Queue1DeadLetters"
    }
    evidence = (
        "This queue is the dead-letter queue of Queue1: messages received 5 times without being deleted end here,"
        " kept 14 days."
    )
    assert at_dlq == {"AwsSolutions-SQS3": evidence, "Serverless-SQSRedrivePolicy": evidence}


def test_only_the_dead_letter_queues_acknowledge_anything(subscribed: Built) -> None:
    assert sorted({path for path, _ in subscribed.acknowledged}) == [
        "ResultSubscriptions/DeliveryDeadLetters",
        "ResultSubscriptions/Queue1DeadLetters",
    ]


def test_each_sqs_destination_gets_its_queue_and_dlq_and_all_share_one_key(two_queues: Built) -> None:
    main = _main_queues(two_queues)
    assert [two_queues.logical_id(q) for q in two_queues.construct.queues] == sorted(
        main
    )  # Queue1, Queue2: the outputs' order
    two_queues.template.resource_count_is("AWS::SQS::Queue", 5)  # two queues, two DLQs, one delivery DLQ
    two_queues.template.resource_count_is("AWS::KMS::Key", 2)  # the payload key and the queue key
    queue_key = {"Fn::GetAtt": [two_queues.queue_key_id, "Arn"]}
    assert [q["Properties"].get("KmsMasterKeyId") for q in two_queues.resources("AWS::SQS::Queue").values()].count(
        queue_key
    ) == 4


def test_a_queue_is_subscribed_to_its_own_topics_only(two_queues: Built) -> None:
    first, second = (str({"Fn::GetAtt": [two_queues.logical_id(q), "Arn"]}) for q in two_queues.construct.queues)
    assert _subscriptions(two_queues) == sorted(
        [
            ("sqs", two_queues.success_id, first),
            ("sqs", two_queues.error_id, first),
            ("sqs", two_queues.error_id, second),
        ]
    )


def test_queues_and_their_key_take_the_given_removal_policy(two_queues: Built) -> None:
    for resource_type in ("AWS::SQS::Queue", "AWS::KMS::Key"):
        for logical_id, resource in two_queues.resources(resource_type).items():
            if logical_id != two_queues.payload_key_id:  # Parts' own, not this construct's
                assert resource["DeletionPolicy"] == "Retain", logical_id
