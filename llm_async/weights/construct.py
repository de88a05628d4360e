"""`WeightsStore`: the deployment's own bucket of staged Hub weights (docs/weights.md), with grants scoped to one prefix.

It lives in a stack of its own (stacks/weights_stack.py), deployed before the endpoint's: the weights must be staged
between the two, since an endpoint whose instance finds no weights fails to start.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_async.compliance.findings import acknowledge_prefix_grant
from llm_async.model import staged
from llm_async.storage.bucket import access_log_bucket, private_bucket
from llm_async.storage.keys import RotatingKey

# What the staging command calls (llm_async_tools.weights): HeadObject needs GetObject, and ListBucket turns a
# missing object's 403 into the 404 a resumed run expects; multipart uploads need both KMS actions
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
STAGE_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
STAGE_KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


class WeightsStore(Construct):
    """KMS-encrypted (a rotating key of its own), versioned, SSL-only, private; server access logs to a sibling bucket."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        access_log_expiry_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        """`name_prefix`: the deployment's (endpoint.name_prefix); the bucket is named by staged.own_bucket_name."""
        super().__init__(scope, id_)
        # Account and region as pseudo parameters: they resolve in whichever stack uses the name, so the model's
        # role names the bucket without a cross-stack reference (and so without an export to keep in step).
        self.bucket_name = staged.own_bucket_name(name_prefix, cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION)
        self.key = RotatingKey(self, "Key", description="llm-async: staged model weights", removal_policy=removal_policy).key
        self.access_log_bucket = access_log_bucket(
            self, expiry_days=access_log_expiry_days, removal_policy=removal_policy, of_what="the weights bucket"
        )
        self.bucket = private_bucket(
            self,
            key=self.key,
            access_logs=self.access_log_bucket,
            access_logs_prefix="weights/",
            expiry_rules=[],  # kept until deleted: a revision stays staged while a model reads it
            removal_policy=removal_policy,
            replication_evidence="Staged weights are a verified copy of a public or licensed Hub commit that the staging"
            " command can make again (docs/weights.md); a replica would add nothing the Hub and the manifest do not give.",
            bucket_name=self.bucket_name,
        )

    def s3_uri(self, prefix: str) -> str:
        return f"s3://{self.bucket_name}/{prefix}"

    def grant_read(self, grantee: iam.IGrantable, prefix: str) -> None:
        """What SageMaker needs to copy `prefix` to /opt/ml/model: list that prefix, get its objects, decrypt them."""
        self._grant(grantee, prefix, ["s3:GetObject"], ["kms:Decrypt"], "read")

    def grant_stage(self, grantee: iam.IGrantable, prefix: str) -> None:
        """What the staging command needs under `prefix` (the revision's model files and manifest), and no more."""
        self._grant(grantee, prefix, STAGE_ACTIONS, STAGE_KMS_ACTIONS, "stage")

    def _grant(self, grantee: iam.IGrantable, prefix: str, actions: list[str], kms_actions: list[str], what: str) -> None:
        bucket_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_name}"
        objects_arn = f"{bucket_arn}/{prefix}*"
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[objects_arn])
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
        self.key.grant(grantee, *kms_actions)
        acknowledge_prefix_grant(
            grantee,
            objects_arn,
            f"The objects under {prefix} of this stack's weights bucket only ({what}): one revision of one model,"
            " whose file names come from the Hub repository.",
        )
