"""Reading a synthesized CloudFormation template: shared by the synth summary and the scaling simulator.

Both read what would be deployed, not the configuration, so a missing resource is reported by its type.
"""

from __future__ import annotations

from typing import Any


class TemplateError(ValueError):
    """The template lacks something the reader needs; the message names it in one line."""


def resources_of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id → Properties of every resource of that type."""
    return {k: r.get("Properties", {}) for k, r in resources.items() if r.get("Type") == resource_type}


def only(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The Properties of the one resource of that type."""
    found = list(resources_of_type(resources, resource_type).values())
    if len(found) != 1:
        raise TemplateError(f"template has {len(found)} {resource_type} resources, expected exactly one")
    return found[0]
