"""A request trace: a CSV with a header, `arrival_s` (seconds from the trace's start) and optional `tokens` (output
tokens generated), `prompt_tokens` (input tokens) and `service_s` (the request's time alone on an idle instance).

What the batching model runs is tokens: a row's `tokens` when given; else its `service_s` (else the simulation's
default service time) turned into the output tokens that take that long alone on an idle instance after the prompt's
prefill. Under batching a request shares the GPU, so it may take longer than its `service_s`. A row without
`prompt_tokens` has the simulation's default prompt length.
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
    """Time alone on an idle instance; None: the simulation's default service time applies (unless tokens is given)."""
    tokens: float | None = None
    """Output tokens; given, they decide the work and service_s is not used."""
    prompt_tokens: float | None = None
    """Input tokens; None: the simulation's default prompt length."""


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
    prompt = _number(path, line, row, "prompt_tokens")
    for name, value in (("service_s", service), ("tokens", tokens), ("prompt_tokens", prompt)):
        if value is not None and value <= 0:
            raise TraceError(f"{path}, line {line}: {name} must be > 0 (got {row[name]!r})")
    return TracedRequest(arrival, service, tokens, prompt)


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
