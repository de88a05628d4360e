"""Helpers for the vLLM request tests: request_cases.py's, with engine="vllm"."""

from __future__ import annotations

from functools import partial

from tests.api.runtime import request_cases
from tests.api.runtime.request_cases import LIMITS

# LIMITS: max_total_tokens (the container's max_model_len) 2048; budgets 256 by default, 1024 at most.
BUDGET = LIMITS.default_max_new_tokens
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}}

parse = partial(request_cases.parse, engine="vllm")
refusal = partial(request_cases.refusal, engine="vllm")
refused = partial(request_cases.refused, engine="vllm")
message = partial(request_cases.message, engine="vllm")
