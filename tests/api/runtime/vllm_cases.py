"""Helpers for the vLLM request tests: request_cases.py's, with engine="vllm"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from inference_api.request import EngineRequest, Limits, RequestError, parse_request

from tests.api.runtime.request_cases import JSON, LIMITS

# LIMITS: max_total_tokens (the container's max_model_len) 2048; budgets 256 by default, 1024 at most.
BUDGET = LIMITS.default_max_new_tokens
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}}


def parse(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS) -> EngineRequest:
    text = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body, ensure_ascii=False)
    return parse_request(text, content_type, limits, engine="vllm")


def refusal(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS) -> RequestError:
    with pytest.raises(RequestError) as error:
        parse(body, content_type, limits)
    return error.value


def refused(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS) -> tuple[int, str, str]:
    """The refusal's status, code and message."""
    error = refusal(body, content_type, limits)
    return error.status, error.code, error.message


def message(body: Any) -> str:
    """The message of a 400 InvalidParameter."""
    error = refusal(body)
    assert (error.status, error.code) == (400, "InvalidParameter"), error
    return error.message
