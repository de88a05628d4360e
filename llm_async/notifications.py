"""The success and error SNS topics that an async endpoint publishes each inference's outcome to."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


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
