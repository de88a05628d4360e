"""The batch state machine's definition as a synthesized template holds it, read back as JSON: each reference CDK joined
into the DefinitionString becomes a `${LogicalId}` or `${LogicalId.Attribute}` placeholder, or a value given for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def placeholder(reference: dict[str, Any]) -> str:
    if "Ref" in reference:
        return "${%s}" % reference["Ref"]
    if "Fn::GetAtt" in reference:
        return "${%s}" % ".".join(reference["Fn::GetAtt"])
    raise ValueError(f"no placeholder for {reference!r}")


def definition(
    state_machine: dict[str, Any], resolve: Callable[[dict[str, Any]], str] = placeholder
) -> dict[str, Any]:
    """The ASL document of an AWS::StepFunctions::StateMachine resource, its `${Name}` placeholders substituted as
    CloudFormation does from DefinitionSubstitutions; `resolve` renders each reference among their values."""
    properties = state_machine["Properties"]
    text = properties["DefinitionString"]
    assert isinstance(text, str), "the definition is one string (see BatchJobs._substitute_references)"
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        rendered = value if isinstance(value, str) else resolve(value)
        text = text.replace(f"${{{name}}}", rendered)
    return json.loads(text)


def states(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, the Distributed Map's child workflow's included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in document["States"].items():
        found[name] = state
        if "ItemProcessor" in state:
            found |= states(state["ItemProcessor"])
    return found
