"""One environment of the promotion pipeline: the same `LlmAsyncStack` (and its weights stack), with that environment's config."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from llm_async.deployment import DeploymentConfig
from stacks.llm_async_app import add_llm_async_stack


def stage_id(env_name: str) -> str:
    """'dev' → 'Dev': the stack deploys as `Dev-LlmAsyncStack`."""
    return env_name.capitalize()


class LlmAsyncStage(cdk.Stage):
    def __init__(self, scope: Construct, *, config: DeploymentConfig, pipeline_account: str) -> None:
        super().__init__(scope, stage_id(config.env_name), env=cdk.Environment(account=config.account, region=config.region))
        self.config = config
        self.stack = add_llm_async_stack(self, config, pipeline_account=pipeline_account)
        store = self.stack.weights_store
        # The stack of the deployment's own weights bucket, deployed first: the pipeline stages into it in between.
        self.weights_stack = None if store is None else cdk.Stack.of(store)
