"""The cdk-nag acknowledgments a bare stack records, read from its cloud assembly as the security report reads them."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from llm_async_tools.security_report import acknowledgments
from tests.synths import stack_metadata

# aws-cdk-lib acknowledges its own template validation (literal AZs, FlowLog's camelCase): not the project's.
_CDK_OWN = "CloudFormation-Validate::"


def acknowledged(stack: cdk.Stack) -> dict[tuple[str, str], str]:
    """(construct path below the stack, finding id) → evidence, for every acknowledgment made in `stack`.

    Synthesizes the stack's App (a no-op once `Template.from_stack` has) and reads the assembly's metadata.
    """
    assembly = stack.node.root.synth()
    metadata = stack_metadata(Path(assembly.directory), stack.artifact_id)
    prefix = f"/{stack.node.path}/"
    return {
        (path.removeprefix(prefix), finding): reason
        for (path, finding), reason in acknowledgments(metadata).items()
        if not finding.startswith(_CDK_OWN)
    }


def under(acknowledgments_: dict[tuple[str, str], str], construct_path: str) -> dict[tuple[str, str], str]:
    """Those at `construct_path` or below it."""
    return {
        (path, finding): reason
        for (path, finding), reason in acknowledgments_.items()
        if path == construct_path or path.startswith(f"{construct_path}/")
    }
