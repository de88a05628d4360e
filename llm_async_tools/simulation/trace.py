"""A request trace: a CSV with a header, `arrival_s` (seconds from the trace's start) and optional
`service_s` (processing seconds) or `tokens` (generated tokens, turned into seconds at a token rate).

Rows need not be sorted (they are sorted by arrival); anything else wrong is a `TraceError` naming the row.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path


class TraceError(ValueError):
    """The trace cannot be replayed; the message names the file, row and column."""


@dataclass(frozen=True)
class TracedRequest:
    arrival_s: float
    service_s: float | None = None
    """None: the simulation's default service time applies."""
    tokens: float | None = None


def read_trace(path: Path) -> list[TracedRequest]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "arrival_s" not in columns:
                raise TraceError(f"{path}: no arrival_s column in the header (found: {', '.join(columns) or 'nothing'})")
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise TraceError(f"{path}: cannot read the trace ({error})") from None
    requests = [_request(path, line, row) for line, row in enumerate(rows, start=2)]
    if not requests:
        raise TraceError(f"{path}: the trace has no requests")
    return sorted(requests, key=lambda r: r.arrival_s)


def _request(path: Path, line: int, row: dict[str, str]) -> TracedRequest:
    arrival = _number(path, line, row, "arrival_s")
    if arrival is None or arrival < 0:
        raise TraceError(f"{path}, line {line}: arrival_s must be a number ≥ 0 (got {row.get('arrival_s')!r})")
    service = _number(path, line, row, "service_s")
    tokens = _number(path, line, row, "tokens")
    for name, value in (("service_s", service), ("tokens", tokens)):
        if value is not None and value <= 0:
            raise TraceError(f"{path}, line {line}: {name} must be > 0 (got {row[name]!r})")
    return TracedRequest(arrival, service, tokens)


def _number(path: Path, line: int, row: dict[str, str], column: str) -> float | None:
    text = row.get(column, "")
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{path}, line {line}: {column} must be a number (got {text!r})") from None
    if not math.isfinite(value):
        raise TraceError(f"{path}, line {line}: {column} must be finite (got {text!r})")
    return value
