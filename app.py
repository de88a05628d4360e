#!/usr/bin/env python3
"""The CDK app: picks one environment's configuration (`-c env=sandbox|dev|staging|prod`) and synthesizes it."""

import sys

import aws_cdk as cdk

from llm_async.config import ConfigError
from llm_async.environments import DEFAULT_ENV, ENVIRONMENTS
from stacks.llm_async_app import add_llm_async_stack, register_rule_packs


def main() -> None:
    app = cdk.App()
    env_name = app.node.try_get_context("env") or DEFAULT_ENV
    if env_name not in ENVIRONMENTS:
        raise ConfigError(f"env: must be one of {', '.join(ENVIRONMENTS)} (got {env_name!r})")
    config = ENVIRONMENTS[env_name]()
    add_llm_async_stack(app, config)
    register_rule_packs(app)
    app.synth()


def cli() -> int:
    try:
        main()
    except ConfigError as error:
        # One readable line, not a traceback: the message names the field and the allowed values.
        print(f"llm-async configuration error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
