"""The customer-managed KMS key that encrypts async payloads, results and notifications."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct


class PayloadKey(Construct):
    """One rotating key per stack: the bucket, the async output and both SNS topics use it."""

    def __init__(self, scope: Construct, id_: str, *, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Resource",
            description="llm-async: async inference payloads, results and notifications",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
