"""Reading a synthesized CloudWatch dashboard: its body as JSON, and the metrics its graphs plot."""

from __future__ import annotations

import json
from typing import Any


def dashboard_body(dashboard: dict[str, Any]) -> dict[str, Any]:
    """An AWS::CloudWatch::Dashboard resource's body, each CloudFormation reference written as `<LogicalId>`
    (`<AWS::Region>` for the pseudo parameter)."""
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        return f"<{part['Ref'] if 'Ref' in part else part['Fn::GetAtt'][0]}>"

    return json.loads("".join(text(part) for part in parts))


def graph_metrics(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric, dimensions, options) of every metric a graph widget plots, math expressions aside."""
    found = []
    for row in widget["properties"].get("metrics", []):
        if isinstance(row[0], dict):
            continue  # a math expression over metrics listed beside it
        *names, options = row if isinstance(row[-1], dict) else (*row, {})
        namespace, metric, *pairs = names
        found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return found
