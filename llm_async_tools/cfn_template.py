"""Reading a synthesized CloudFormation template: shared by the synth summary and the scaling simulator.

Both read what would be deployed, not the configuration, so a missing resource is reported by its type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
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


_STATE_MACHINE = "AWS::StepFunctions::StateMachine"


@dataclass(frozen=True)
class MapSettings:
    """What the template's batch state machine says of its Distributed Map."""

    chunk_lines: int
    max_concurrency: int
    poll_s: float


def read_map_settings(template: dict[str, Any]) -> MapSettings | None:
    """The Distributed Map's ItemBatcher MaxItemsPerBatch, MaxConcurrency and its child's Wait, if the template has the
    batch state machine (a DefinitionString that is one JSON string, as llm_async.batch.construct writes it)."""
    for logical_id, machine in resources_of_type(template.get("Resources") or {}, _STATE_MACHINE).items():
        text = machine.get("DefinitionString")
        if not isinstance(text, str):
            continue
        try:
            definition = json.loads(text)
        except json.JSONDecodeError:
            raise TemplateError(f"{logical_id}: DefinitionString is not JSON") from None
        for state in _states(definition):
            batcher = state.get("ItemBatcher")
            if state.get("Type") != "Map" or not isinstance(batcher, dict):
                continue
            waits = [s for s in _states(state.get("ItemProcessor", {})) if s.get("Type") == "Wait" and "Seconds" in s]
            if "MaxItemsPerBatch" not in batcher or "MaxConcurrency" not in state or len(waits) != 1:
                raise TemplateError(f"{logical_id}: the Map with an ItemBatcher needs MaxItemsPerBatch, MaxConcurrency and"
                                    " one Wait of Seconds in its ItemProcessor")
            return MapSettings(int(batcher["MaxItemsPerBatch"]), int(state["MaxConcurrency"]), float(waits[0]["Seconds"]))
    return None


def _states(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a definition, nested ones (Map processors, Parallel branches) included."""
    for state in (node.get("States") or {}).values():
        if isinstance(state, dict):
            yield state
            for inner in [state.get("ItemProcessor"), state.get("Iterator"), *(state.get("Branches") or [])]:
                if isinstance(inner, dict):
                    yield from _states(inner)
