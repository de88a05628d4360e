"""The outcome of a run as numbers: one row a policy, as a table for people or JSON for tools.

Percentiles are nearest-rank over completed requests; expired requests count only in `expired`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from llm_async_tools.simulation.engine import SimulationResult


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def summary_row(result: SimulationResult) -> dict[str, Any]:
    """The JSON object of one policy, keys in the order the CLI documents."""
    ttr = result.ttr_s
    rounded = [None if v is None else round(v, 1) for v in (percentile(ttr, 0.5), percentile(ttr, 0.95), max(ttr, default=None))]
    return {
        "name": result.name,
        "gpu_hours": round(result.gpu_hours, 3),
        "cost_usd": round(result.cost_usd, 2),
        "ttr_p50_s": rounded[0],
        "ttr_p95_s": rounded[1],
        "ttr_max_s": rounded[2],
        "expired": result.expired,
        "scale_events": result.scale_events,
    }


def to_json(results: Sequence[SimulationResult]) -> str:
    return json.dumps({"policies": [summary_row(r) for r in results]})


def ratio(value: float | None, ours: float | None) -> str:
    """value ÷ ours as '2.5×'; '–' when either is missing or ours is zero."""
    if value is None or ours is None or ours == 0:
        return "–"
    return f"{value / ours:.2f}×"


def render_table(results: Sequence[SimulationResult]) -> str:
    rows = [summary_row(r) for r in results]
    compare = len(rows) > 1
    header = ["policy", "GPU h", "cost $", "TTR p50 s", "p95 s", "max s", "expired", "scale events"]
    if compare:
        header += ["cost vs ours", "p95 vs ours"]
    body = []
    for row in rows:
        cells = [row["name"], f"{row['gpu_hours']:.2f}", f"{row['cost_usd']:.2f}"]
        cells += ["–" if row[k] is None else f"{row[k]:.0f}" for k in ("ttr_p50_s", "ttr_p95_s", "ttr_max_s")]
        cells += [str(row["expired"]), str(row["scale_events"])]
        if compare:
            cells += [ratio(row["cost_usd"], rows[0]["cost_usd"]), ratio(row["ttr_p95_s"], rows[0]["ttr_p95_s"])]
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))) for line in [header, *body]]
    return "\n".join(line.rstrip() for line in lines)
