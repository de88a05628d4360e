"""Customer-managed KMS keys, with rotation on: the payload key, the log key and the result-queue key."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class RotatingKey(Construct):
    def __init__(self, scope: Construct, id_: str, *, description: str, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Resource",
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )


class LogKey(RotatingKey):
    """Encrypts the stack's log groups: prompts and failure reasons can reach the logs.

    CloudWatch Logs encrypts with the key itself, for log groups of this account and region only
    (the encryption-context condition AWS documents); writers to the groups need no KMS permission.
    """

    def __init__(self, scope: Construct, id_: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, id_, description="llm-async: the stack's CloudWatch log groups", removal_policy=removal_policy)
        stack = cdk.Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccountAndRegion",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
                        )
                    }
                },
            )
        )
