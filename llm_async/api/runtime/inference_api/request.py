"""Validation of a TGI generate request (`{"inputs": "...", "parameters": {...}}`) before anything is written.

Every rejection names the field and the allowed range; the rules follow TGI's `GenerateParameters`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestError(Exception):
    """A client error: answered with `status` and `{"error": {"code", "message"}}`, nothing written."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def _invalid(field: str, allowed: str, got: Any) -> RequestError:
    return RequestError(400, "InvalidParameter", f"{field}: must be {allowed} (got {json.dumps(got)[:80]})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _positive_number(field: str, value: Any) -> None:
    if not _is_number(value) or value <= 0:
        raise _invalid(field, "a number > 0", value)


def _open_unit_interval(field: str, value: Any) -> None:
    if not _is_number(value) or not 0 < value < 1:
        raise _invalid(field, "a number with 0 < value < 1", value)


def _int_at_least(low: int, high: int | None = None, why: str = "") -> Callable[[str, Any], None]:
    allowed = (f"an integer {low}–{high}" if high is not None else f"an integer ≥ {low}") + why

    def check(field: str, value: Any) -> None:
        if not _is_int(value) or value < low or (high is not None and value > high):
            raise _invalid(field, allowed, value)

    return check


def _boolean(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _invalid(field, "true or false", value)


def _truncate(field: str, value: Any) -> None:
    if not isinstance(value, bool) and not (_is_int(value) and value >= 1):
        raise _invalid(field, "true, false or an integer ≥ 1", value)


MAX_STOP_SEQUENCES = 4


def _stop(field: str, value: Any) -> None:
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOP_SEQUENCES
        or not all(isinstance(s, str) and s for s in value)
    ):
        raise _invalid(field, f"a list of at most {MAX_STOP_SEQUENCES} non-empty strings", value)


_PARAMETER_RULES: dict[str, Callable[[str, Any], None]] = {
    "temperature": _positive_number,
    "top_p": _open_unit_interval,
    "top_k": _int_at_least(1),
    "typical_p": _open_unit_interval,
    "repetition_penalty": _positive_number,
    "stop": _stop,
    "seed": _int_at_least(0, 2**64 - 1, " (TGI's u64)"),
    "do_sample": _boolean,
    "details": _boolean,
    "return_full_text": _boolean,
    "truncate": _truncate,
    "watermark": _boolean,
    # TGI refuses best_of above its MAX_BEST_OF launcher setting, 2 unless the model env raises it.
    "best_of": _int_at_least(1, 2, " (TGI's MAX_BEST_OF)"),
}
ALLOWED_PARAMETERS = tuple(sorted([*_PARAMETER_RULES, "max_new_tokens"]))


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_inputs_bytes: int
    max_total_tokens: int


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_generate_request(body: str | bytes | None, content_type: str | None, limits: Limits) -> dict[str, Any]:
    """The request as the TGI container will receive it, or a `RequestError` (413, 415 or 400)."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    if len(raw) > limits.max_body_bytes:
        raise RequestError(413, "PayloadTooLarge", f"body: must be at most {limits.max_body_bytes} bytes (got {len(raw)})")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(415, "UnsupportedMediaType", f"Content-Type: must be application/json (got {content_type!r})")
    try:
        request = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object ({error})") from None
    except RecursionError:
        raise RequestError(400, "MalformedJson", "body: must be a JSON object nested less deeply") from None
    if not isinstance(request, dict):
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object (got {type(request).__name__})")
    unknown = sorted(set(request) - {"inputs", "parameters"})
    if unknown:
        raise _invalid("body", "an object with 'inputs' and optional 'parameters' only", unknown)
    inputs = request.get("inputs")
    if not isinstance(inputs, str) or not inputs.strip():
        raise _invalid("inputs", "a non-empty string", inputs)
    size = len(inputs.encode(errors="surrogatepass"))
    if size > limits.max_inputs_bytes:
        raise RequestError(413, "PayloadTooLarge", f"inputs: must be at most {limits.max_inputs_bytes} bytes (got {size})")
    parameters = request.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _invalid("parameters", "an object", parameters)
    for name, value in parameters.items():
        if name == "max_new_tokens":
            _max_new_tokens(value, limits.max_total_tokens)
        elif name in _PARAMETER_RULES:
            _PARAMETER_RULES[name](f"parameters.{name}", value)
        else:
            raise _invalid(f"parameters.{name}", f"one of {', '.join(ALLOWED_PARAMETERS)}", name)
    validated = {"inputs": inputs, "parameters": parameters} if "parameters" in request else {"inputs": inputs}
    try:
        json.dumps(validated, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise RequestError(400, "MalformedJson", "body: must be valid Unicode (unpaired surrogate escape)") from None
    return validated


def _max_new_tokens(value: Any, max_total_tokens: int) -> None:
    highest = max_total_tokens - 1
    if not _is_int(value) or not 1 <= value <= highest:
        raise _invalid("parameters.max_new_tokens", f"an integer 1–{highest} (MAX_TOTAL_TOKENS − 1)", value)
