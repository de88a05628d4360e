"""Builds the app's stacks from a configuration and registers the cdk-nag rule packs on them."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from llm_async.config import DeploymentConfig
from stacks.llm_async_stack import LlmAsyncStack

STACK_ID = "LlmAsyncStack"


def register_rule_packs(app: cdk.App) -> None:
    """An unacknowledged finding anywhere in the app, stacks inside Stages included, makes `app.synth()` raise."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def add_llm_async_stack(
    scope: Construct, config: DeploymentConfig, *, smoke_test_from_account: str | None = None
) -> LlmAsyncStack:
    """To an App (standalone, `cdk deploy LlmAsyncStack`) or to a pipeline's Stage."""
    env = cdk.Environment(account=config.account, region=config.region)
    return LlmAsyncStack(
        scope,
        STACK_ID,
        config=config,
        smoke_test_from_account=smoke_test_from_account,
        env=env,
        description=f"llm-async ({config.env_name}): {config.model.name} on a scale-to-zero SageMaker async endpoint",
    )
