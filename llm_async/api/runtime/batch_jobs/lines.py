"""Validation of a batch's input file, line by line, before anything is invoked (docs/design/batch-jobs.md, "Line
rules"): OpenAI's request input object (`custom_id`, `method`, `url`, `body`; OpenAI's openapi.yaml
BatchRequestInput), every body checked by `inference_api.request.parse_request`, the very function `POST /invocations`
uses, with the deployment's engine and limits, so a line is refused exactly when and with the message the same request
sent alone would be.

A valid line becomes an `Item`: its number, custom_id, inference id and the body as the container receives it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# parse_request's own strict reading of JSON (no NaN, no key given twice), for the line around the body.
from inference_api.request import Limits, RequestError, _reject_constant, _without_repeats, parse_request

from batch_jobs.records import ENDPOINTS, SHAPE_OF_ENDPOINT, line_inference_id

MAX_ERRORS = 1000
"""The most errors a failed batch reports (the design's "first 1,000"); validation stops there."""
CUSTOM_ID_MAX = 512
LINE_FIELDS = ("body", "custom_id", "method", "url")
_SHAPE_NAMES = {"chat": 'a chat completions request ("messages")', "completions": 'a completions request ("prompt")',
                "generate": 'a TGI generate request ("inputs")'}  # fmt: skip


@dataclass(frozen=True)
class LineError:
    """One entry of the batch's `errors.data` (openai-python src/openai/types/batch_error.py)."""

    line: int | None
    """1-based; None for an error of the whole file (too large, empty)."""
    code: str
    message: str
    param: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


@dataclass(frozen=True)
class Item:
    line: int
    custom_id: str
    inference_id: str
    payload: bytes
    """The body as the container receives it (inference_api.request.container_payload): what input/<id>.json holds."""


@dataclass
class Validation:
    total: int = 0
    """Lines read (all of them when the file is valid)."""
    errors: list[LineError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


class _LineRefused(Exception):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class _Reader:
    """The lines of a JSONL byte stream, without their "\\n" (or "\\r\\n"), a final newline ending the last line;
    it stops once the stream exceeds `max_bytes` and says so."""

    def __init__(self, chunks: Iterable[bytes], max_bytes: int) -> None:
        self._chunks, self._max_bytes = chunks, max_bytes
        self.size, self.too_large = 0, False

    def lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._chunks:
            self.size += len(chunk)
            if self.size > self._max_bytes:
                self.too_large = True
                return
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.removesuffix(b"\r")
        if pending:
            yield pending.removesuffix(b"\r")


def validate_file(
    chunks: Iterable[bytes],
    *,
    batch_id: str,
    endpoint: str,
    limits: Limits,
    engine: str,
    max_lines: int,
    max_bytes: int,
    accept: Callable[[Item], None],
) -> Validation:
    """Checks every line of the file (`chunks`, its bytes as read) against the rules; `accept` receives each valid
    line's item, in line order (the caller keeps them only if the whole file turns out valid). Stops at MAX_ERRORS
    errors, past `max_lines` lines or past `max_bytes`."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)} (got {endpoint!r})")
    result = Validation()
    seen: dict[str, int] = {}
    reader = _Reader(chunks, max_bytes)
    for number, raw in enumerate(reader.lines(), start=1):
        if number > max_lines:
            message = f"file: must have at most {max_lines} lines (line {number} is one too many)"
            result.errors.append(LineError(number, "too_many_lines", message))
            break
        result.total = number
        try:
            accept(_item(raw, number, batch_id=batch_id, endpoint=endpoint, limits=limits, engine=engine, seen=seen))
        except _LineRefused as refused:
            result.errors.append(LineError(number, refused.code, refused.message, refused.param))
            if len(result.errors) >= MAX_ERRORS:
                break
    if reader.too_large:
        result.errors.append(LineError(None, "file_too_large", f"file: must be at most {max_bytes} bytes"))
    elif result.total == 0 and not result.errors:
        result.errors.append(LineError(None, "empty_file", "file: must have at least one line"))
    return result


def _item(raw: bytes, number: int, *, batch_id: str, endpoint: str, limits: Limits, engine: str, seen: dict[str, int]) -> Item:
    request = _line_object(raw)
    unknown = sorted(set(request) - set(LINE_FIELDS))
    if unknown:
        got = json.dumps(unknown[0], ensure_ascii=False)
        raise _LineRefused("unknown_parameter", f"{unknown[0]}: must be one of {', '.join(LINE_FIELDS)} (got {got})", unknown[0])
    for name in ("custom_id", "method", "url", "body"):
        if name not in request:
            raise _LineRefused("missing_required_parameter", f"{name}: is required", name)
    custom_id = request["custom_id"]
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
        raise _LineRefused("invalid_custom_id", f"custom_id: must be a string of 1–{CUSTOM_ID_MAX} characters (got {_shown(custom_id)})", "custom_id")
    if custom_id in seen:
        message = f"custom_id: must be unique in the file (got {_shown(custom_id)}, also on line {seen[custom_id]})"
        raise _LineRefused("duplicate_custom_id", message, "custom_id")
    seen[custom_id] = number
    if request["method"] != "POST":
        raise _LineRefused("invalid_method", f"method: must be POST (got {_shown(request['method'])})", "method")
    if request["url"] != endpoint:
        message = f"url: must be {endpoint}, the batch's endpoint (got {_shown(request['url'])})"
        raise _LineRefused("invalid_url", message, "url")
    body = request["body"]
    if not isinstance(body, dict):
        raise _LineRefused("invalid_body", f"body: must be a JSON object (got {type(body).__name__})", "body")
    try:
        # The body as POST /invocations would have received it: the line's own JSON of it, re-encoded without ASCII
        # escapes (the size limits count UTF-8 bytes, as they do for a request sent alone).
        engine_request = parse_request(json.dumps(body, ensure_ascii=False), "application/json", limits, engine=engine)
    except RequestError as error:
        raise _LineRefused("invalid_body", error.message, "body") from None
    wanted = SHAPE_OF_ENDPOINT[endpoint]
    if engine_request.shape != wanted:
        message = f"body: must be {_SHAPE_NAMES[wanted]} for url {endpoint} (got {_SHAPE_NAMES[engine_request.shape]})"
        raise _LineRefused("invalid_body", message, "body")
    return Item(number, custom_id, line_inference_id(batch_id, number), engine_request.payload)


def _line_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise _LineRefused("invalid_json_line", "line: must be a JSON object (got an empty line)")
    try:
        # As strict as parse_request's reading of a body: no NaN or Infinity, no key given twice (serde refuses both).
        request = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_without_repeats)
    except (ValueError, UnicodeDecodeError) as error:
        raise _LineRefused("invalid_json_line", f"line: must be a JSON object ({error})") from None
    except RecursionError:
        raise _LineRefused("invalid_json_line", "line: must be a JSON object nested less deeply") from None
    if not isinstance(request, dict):
        raise _LineRefused("invalid_json_line", f"line: must be a JSON object (got {type(request).__name__})")
    return request


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else f"{text[:77]}..."
