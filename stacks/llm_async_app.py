"""Builds the app's stacks from a configuration and registers the cdk-nag rule packs on them."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from llm_async.config import DeploymentConfig
from stacks.llm_async_stack import LlmAsyncStack

STACK_ID = "LlmAsyncStack"


def register_rule_packs(app: cdk.App) -> None:
    """An unacknowledged finding anywhere in the app makes `app.synth()` raise."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def add_llm_async_stack(app: cdk.App, config: DeploymentConfig) -> LlmAsyncStack:
    env = cdk.Environment(account=config.account, region=config.region)
    return LlmAsyncStack(
        app,
        STACK_ID,
        config=config,
        env=env,
        description=f"llm-async ({config.env_name}): {config.model.name} on a scale-to-zero SageMaker async endpoint",
    )
