"""Builds `LlmAsyncStack` from a configuration, in an App or a pipeline Stage, and synthesizes it offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.deployment import DeploymentConfig
from stacks.llm_async_stack import LlmAsyncStack
from stacks.weights_stack import WEIGHTS_STACK_ID, LlmAsyncWeightsStack, needs_weights_stack

STACK_ID = "LlmAsyncStack"
ROOT = Path(__file__).resolve().parent.parent


def add_llm_async_stack(scope: Construct, config: DeploymentConfig, *, pipeline_account: str | None = None) -> LlmAsyncStack:
    """To an App (standalone, `cdk deploy LlmAsyncStack`) or to a pipeline's Stage; with `LlmAsyncWeightsStack` before
    it when the model reads staged weights from the deployment's own bucket (the stack's `weights_store`).

    `pipeline_account`: the pipeline's account, whose smoke test may call the API and whose staging step may stage."""
    env = cdk.Environment(account=config.account, region=config.region)
    weights = None
    if needs_weights_stack(config):
        weights = LlmAsyncWeightsStack(
            scope,
            WEIGHTS_STACK_ID,
            config=config,
            staging_from_account=pipeline_account,
            env=env,
            description=f"llm-async ({config.env_name}): staged weights of {config.model.name}",
        )
    return LlmAsyncStack(
        scope,
        STACK_ID,
        config=config,
        smoke_test_from_account=pipeline_account,
        weights_store=None if weights is None else weights.store,
        env=env,
        description=f"llm-async ({config.env_name}): {config.model.name} on a scale-to-zero SageMaker async endpoint",
    )


def cdk_json_context() -> dict[str, Any]:
    """The feature flags `cdk synth` would pass; without them the app would synthesize differently."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:version-reporting": False}


def synthesize_template(config: DeploymentConfig, outdir: Path, *, rule_packs: bool = True) -> dict[str, Any]:
    """The app as app.py builds it, offline, with the rule packs registered: raises on an unacknowledged finding.

    `rule_packs=False` skips them for a variant whose code paths another synth already validated.
    """
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    add_llm_async_stack(app, config)
    if rule_packs:
        register_rule_packs(app)
    return app.synth().get_stack_by_name(STACK_ID).template
