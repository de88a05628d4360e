#!/usr/bin/env python3
"""The CDK app: `LlmAsyncStack` with one environment's configuration (`-c env=sandbox|dev|staging|prod`;
`-c preset=NAME` for another model preset, `-c engine=tgi|vllm` for another engine), and `LlmAsyncPipelineStack`
when the context holds the pipeline's settings (`llm-async:pipeline`)."""

import sys

import aws_cdk as cdk

from llm_async.compliance.rule_packs import register_rule_packs
from llm_async.environments import DEFAULT_ENV, ENVIRONMENTS, with_engine, with_preset
from llm_async.pipeline.config import CONTEXT_KEY, PipelineConfig
from llm_async.validators import ConfigError
from stacks.llm_async_app import add_llm_async_stack
from stacks.pipeline_stack import add_pipeline_stack


def main(app: cdk.App | None = None) -> None:
    """`app`: tests pass one with their context; the CDK CLI passes context through the environment."""
    app = app or cdk.App()
    env_name = app.node.try_get_context("env") or DEFAULT_ENV
    if env_name not in ENVIRONMENTS:
        raise ConfigError(f"env: must be one of {', '.join(ENVIRONMENTS)} (got {env_name!r})")
    config = ENVIRONMENTS[env_name]()
    preset = app.node.try_get_context("preset")
    if preset is not None:  # another model for this synth, without editing environments.py
        config = with_preset(config, preset)
    engine = app.node.try_get_context("engine")
    if engine is not None:  # another engine for the same model
        config = with_engine(config, engine)
    # The pipeline needs an organisation's repository connection and accounts: only when configured.
    pipeline_context = app.node.try_get_context(CONTEXT_KEY)
    pipeline_config = None if pipeline_context is None else PipelineConfig.from_context(pipeline_context)
    add_llm_async_stack(app, config)
    if pipeline_config is not None:
        add_pipeline_stack(app, pipeline_config)
    register_rule_packs(app)
    app.synth()


def cli(app: cdk.App | None = None) -> int:
    try:
        main(app)
    except ConfigError as error:
        # One readable line, not a traceback: the message names the field and the allowed values.
        print(f"llm-async configuration error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
