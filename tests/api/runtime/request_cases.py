"""Helpers for the request tests: the limits they run with, a parse that succeeds and one that is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from inference_api.request import EngineRequest, Limits, RequestError, parse_request

# A container with MAX_INPUT_TOKENS 1024 and MAX_TOTAL_TOKENS 2048; budgets 256 by default, 1024 at most.
LIMITS = Limits(
    max_body_bytes=10_000,
    max_inputs_bytes=4_000,
    max_input_tokens=1024,
    max_total_tokens=2048,
    default_max_new_tokens=256,
    max_new_tokens=1024,
)
JSON = "application/json"
USER = [{"role": "user", "content": "What is Deep Learning?"}]


def parse(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS) -> EngineRequest:
    text = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body, ensure_ascii=False)
    return parse_request(text, content_type, limits)


def refusal(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS) -> RequestError:
    with pytest.raises(RequestError) as error:
        parse(body, content_type, limits)
    return error.value


def message(body: Any) -> str:
    """The message of a 400 InvalidParameter."""
    error = refusal(body)
    assert (error.status, error.code) == (400, "InvalidParameter"), error
    return error.message
