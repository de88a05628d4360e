"""Push delivery of inference outcomes: subscriptions of SQS queues (with DLQs), emails or HTTPS URLs to the topics."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from llm_async.compliance.findings import SERVERLESS, acknowledge, acknowledge_rule
from llm_async.notifications.config import ResultSubscription
from llm_async.notifications.topics import NotificationTopics, delivery_dead_letter_queue
from llm_async.storage.keys import RotatingKey

MAX_RECEIVES_BEFORE_DLQ = 5


class ResultSubscriptions(Construct):
    """One subscription per configured destination, on the success and/or error topic."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        topics: NotificationTopics,
        destinations: tuple[ResultSubscription, ...],
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.queues: list[sqs.Queue] = []
        self.queue_key: kms.Key | None = None
        by_name = {"success": topics.success_topic, "error": topics.error_topic}
        self.delivery_dead_letters = (
            delivery_dead_letter_queue(self, "DeliveryDeadLetters", removal_policy=removal_policy) if destinations else None
        )
        dlq = self.delivery_dead_letters
        for index, destination in enumerate(destinations, start=1):
            selected = [by_name[name] for name in destination.topics]
            if destination.protocol == "sqs":
                key = self._key(removal_policy)
                queue = self._queue(f"Queue{index}", key, removal_policy)
                self.queues.append(queue)
                # SqsSubscription also lets SNS use the queue key, conditioned on each topic's ARN.
                subscription: sns.ITopicSubscription = subscriptions.SqsSubscription(
                    queue, raw_message_delivery=True, dead_letter_queue=dlq
                )
            elif destination.protocol == "email":
                subscription = subscriptions.EmailSubscription(destination.endpoint, dead_letter_queue=dlq)
            else:
                subscription = subscriptions.UrlSubscription(
                    destination.endpoint, protocol=sns.SubscriptionProtocol.HTTPS, dead_letter_queue=dlq
                )
            for topic in selected:
                topic.add_subscription(subscription)

    def _key(self, removal_policy: cdk.RemovalPolicy) -> kms.Key:
        """The queues' own key: the payload key cannot name the topics it already encrypts (a cycle)."""
        if self.queue_key is None:
            self.queue_key = RotatingKey(
                self, "QueueKey", description="llm-async: result queues", removal_policy=removal_policy
            ).key
        return self.queue_key

    def _queue(self, id_: str, key: kms.IKey, removal_policy: cdk.RemovalPolicy) -> sqs.Queue:
        dead_letters = sqs.Queue(
            self,
            f"{id_}DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=removal_policy,
        )
        evidence = (
            f"This queue is the dead-letter queue of {id_}: messages received"
            f" {MAX_RECEIVES_BEFORE_DLQ} times without being deleted end here, kept 14 days."
        )
        acknowledge(dead_letters, "AwsSolutions-SQS3", evidence)
        acknowledge_rule(dead_letters, "SQSRedrivePolicy", (SERVERLESS,), evidence)
        return sqs.Queue(
            self,
            id_,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES_BEFORE_DLQ, queue=dead_letters),
            removal_policy=removal_policy,
        )
