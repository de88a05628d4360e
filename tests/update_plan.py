"""What CloudFormation will do to each resource when a stack moves from one template to another.

A property change needs replacement when the property is create-only in the resource type's
registry schema (cfn-lint ships those schemas offline). A property that references a replaced
resource (Ref, Fn::GetAtt, Fn::Sub) changes too, so replacement cascades, as it does in a deploy.
Conservative where CloudFormation can be lenient: a reference to a replaced resource always counts
as a change, even if the referenced name stays the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

ADD, REMOVE, REPLACE, UPDATE, KEEP = "add", "remove", "replace", "update", "keep"
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)[.}]")


def _create_only(resource_type: str, region: str) -> set[str]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    return {path.split("/")[2] for path in schema.get("createOnlyProperties", [])}


def _references(value: Any) -> set[str]:
    """Logical ids a property value points at."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= set(_SUB_REFERENCE.findall(text))
            found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def update_plan(before: dict[str, Any], after: dict[str, Any], region: str = "us-east-1") -> dict[str, str]:
    """Logical id → add, remove, replace, update or keep."""
    old, new = before["Resources"], after["Resources"]
    plan = {logical_id: REMOVE for logical_id in old.keys() - new.keys()}
    plan |= {logical_id: ADD for logical_id in new.keys() - old.keys()}
    changed: dict[str, set[str]] = {}
    for logical_id in old.keys() & new.keys():
        if old[logical_id]["Type"] != new[logical_id]["Type"]:
            plan[logical_id] = REPLACE
            continue
        old_props, new_props = old[logical_id].get("Properties", {}), new[logical_id].get("Properties", {})
        changed[logical_id] = {
            name
            for name in old_props.keys() | new_props.keys()
            if _canonical(old_props.get(name)) != _canonical(new_props.get(name))
        }
    # Replacement cascades through references until nothing more changes.
    while True:
        replaced = {logical_id for logical_id, action in plan.items() if action in (REPLACE, ADD)}
        progressed = False
        for logical_id, names in changed.items():
            if plan.get(logical_id) == REPLACE:
                continue
            properties = new[logical_id].get("Properties", {})
            names |= {name for name, value in properties.items() if _references(value) & replaced}
            create_only = _create_only(new[logical_id]["Type"], region)
            action = REPLACE if names & create_only else (UPDATE if names else KEEP)
            if plan.get(logical_id) != action:
                plan[logical_id] = action
                progressed = True
        if not progressed:
            return plan
