"""The success and error SNS topics that an async endpoint publishes each inference's outcome to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from llm_async.compliance.findings import SERVERLESS, acknowledge, acknowledge_rule, skip_checkov


class NotificationTopics(Construct):
    """Two KMS-encrypted topics whose policies refuse publishing over plain HTTP."""

    def __init__(self, scope: Construct, id_: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.key = key
        self.success_topic = sns.Topic(self, "Success", master_key=key, enforce_ssl=True)
        self.error_topic = sns.Topic(self, "Error", master_key=key, enforce_ssl=True)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """sns:Publish on the two topics, and the data-key use SNS server-side encryption needs."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sns:Publish"],
            resource_arns=[self.success_topic.topic_arn, self.error_topic.topic_arn],
        )
        self.key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
        return grant


def delivery_dead_letter_queue(scope: Construct, id_: str, *, removal_policy: cdk.RemovalPolicy) -> sqs.Queue:
    """Where SNS keeps a message it could not deliver to a subscription, for 14 days, instead of dropping it.

    SQS-managed encryption, not a KMS key: SNS writes to a subscription's dead-letter queue without the
    key grants an SSE-KMS queue would need. CDK adds the queue policy that lets each topic send.
    """
    queue = sqs.Queue(
        scope,
        id_,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
        removal_policy=removal_policy,
    )
    acknowledge(queue, "AwsSolutions-SQS3", "It is the dead-letter queue of SNS subscriptions.")
    acknowledge_rule(queue, "SQSRedrivePolicy", (SERVERLESS,), "It is the dead-letter queue of SNS subscriptions.")
    skip_checkov(
        queue,
        "CKV_AWS_27",
        "Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled); the check only looks for a"
        " KmsMasterKeyId, and SNS delivers to this queue without the key grants SSE-KMS would need.",
    )
    return queue
