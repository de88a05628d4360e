"""`LlmAsyncWeightsStack`: the deployment's own bucket of staged weights. Composes only.

Deployed before `LlmAsyncStack` (which depends on it): the weights are staged in between, by an operator
(`python -m llm_async_tools.weights stage --bucket <WeightsBucketName>`) or by the pipeline's staging step.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from llm_async.deployment import DeploymentConfig
from llm_async.model import staged
from llm_async.model.config import StagedWeights
from llm_async.weights.construct import WeightsStore
from llm_async.weights.staging_access import WeightsStagingAccess

WEIGHTS_STACK_ID = "LlmAsyncWeightsStack"


def needs_weights_stack(config: DeploymentConfig) -> bool:
    """Staged weights read from the deployment's own bucket (StagedWeights without a bucket name)."""
    return isinstance(config.model.weights, StagedWeights) and config.model.weights.own_bucket


class LlmAsyncWeightsStack(cdk.Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: DeploymentConfig, staging_from_account: str | None = None, **kwargs: Any
    ) -> None:
        """`staging_from_account`: the pipeline account whose staging step may write this model's revision."""
        super().__init__(scope, id_, **kwargs)
        weights = config.model.weights
        if not isinstance(weights, StagedWeights):
            raise ValueError(f"{id_}: the model's weights are not StagedWeights")
        removal = cdk.RemovalPolicy.RETAIN if config.storage.retain_on_delete else cdk.RemovalPolicy.DESTROY
        self.store = WeightsStore(
            self,
            "Weights",
            name_prefix=config.endpoint.name_prefix,
            access_log_expiry_days=config.storage.access_log_expiry_days,
            removal_policy=removal,
        )
        self.bucket_name_output = cdk.CfnOutput(self, "WeightsBucketName", value=self.store.bucket.bucket_name)
        cdk.CfnOutput(self, "ManifestUri", value=self.store.s3_uri(weights.manifest_key))
        self.staging_role_output: cdk.CfnOutput | None = None
        if staging_from_account is not None:
            access = WeightsStagingAccess(
                self,
                "Staging",
                store=self.store,
                prefix=staged.revision_prefix(weights.model_id, weights.revision),
                env_name=config.env_name,
                pipeline_account=staging_from_account,
            )
            self.staging_role_output = cdk.CfnOutput(self, "StagingRoleArn", value=access.role.role_arn)
