"""The one adapter between the simulator and the CDK app: `--stage NAME` synthesizes that environment in-process.

The only module of `llm_async_tools` that imports aws-cdk-lib (through the app's stack builder), and only
when `--stage` is used: `--template` needs nothing but the template file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from llm_async.environments import ENVIRONMENTS


class UnknownStage(ValueError):
    """The name is not one of the app's environments."""


def synthesize_stage(stage: str) -> dict[str, Any]:
    """The stage's template as `cdk synth -c env=STAGE` would write it, synthesized offline, rule packs on."""
    if stage not in ENVIRONMENTS:
        raise UnknownStage(f"unknown stage {stage!r}: must be one of {', '.join(ENVIRONMENTS)}")
    from stacks.llm_async_app import synthesize_template  # jsii starts only when a synth is really needed

    with tempfile.TemporaryDirectory(prefix="llm-async-simulate-") as outdir:
        return synthesize_template(ENVIRONMENTS[stage](), Path(outdir))
