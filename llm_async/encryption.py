"""Customer-managed KMS keys, with rotation on: the payload key and the result-queue key."""

from __future__ import annotations

import aws_cdk as cdk
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
