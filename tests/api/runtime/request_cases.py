"""Helpers for the request tests: the limits they run with, a parse that succeeds and one that is refused, with the TGI
engine unless another is named (vllm_cases.py names vLLM)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from inference_api.request import EngineRequest, Limits, RequestError, parse_request

from tests.api.runtime.conftest import API_ENVIRONMENT

# The handler tests' limits (conftest.API_ENVIRONMENT), as the handler reads them.
HANDLER_LIMITS = Limits.of(API_ENVIRONMENT)
# The same container and budgets with smaller byte limits, for the tests of parse_request alone.
LIMITS = dataclasses.replace(HANDLER_LIMITS, max_body_bytes=10_000, max_inputs_bytes=4_000)
JSON = "application/json"
USER = [{"role": "user", "content": "What is Deep Learning?"}]
# Conversations both engines forward unchanged: system and named user turns, text content parts, a tool call and its
# answer (TGI's Message, router/src/lib.rs; vLLM's OpenAI message types, vllm/entrypoints/chat_utils.py).
FORWARDED_MESSAGES = [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "Ann"}],
    [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]}],
    [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        },
        {"role": "tool", "content": "Sunny", "tool_call_id": "0"},
    ],
]


def parse(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS, engine: str = "tgi") -> EngineRequest:
    text = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body, ensure_ascii=False)
    return parse_request(text, content_type, limits, engine=engine)


def refusal(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS, engine: str = "tgi") -> RequestError:
    with pytest.raises(RequestError) as error:
        parse(body, content_type, limits, engine)
    return error.value


def refused(body: Any, content_type: str | None = JSON, limits: Limits = LIMITS, engine: str = "tgi") -> tuple[int, str, str]:
    """The refusal's status, code and message."""
    error = refusal(body, content_type, limits, engine)
    return error.status, error.code, error.message


def message(body: Any, engine: str = "tgi") -> str:
    """The message of a 400 InvalidParameter."""
    error = refusal(body, engine=engine)
    assert (error.status, error.code) == (400, "InvalidParameter"), error
    return error.message
