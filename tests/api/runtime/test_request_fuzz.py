"""Property tests of parse_request alone: every bad body is a 4xx with the error shape; whatever is forwarded,
TGI 3.3.6 accepts (tgi_oracle.py, written from the source); and requests TGI and our rules both accept pass."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from inference_api.request import EngineRequest, RequestError, parse_request

from tests.api.runtime import tgi_oracle
from tests.api.runtime.bad_requests import content_types, json_values, raw_bodies
from tests.api.runtime.request_cases import HANDLER_LIMITS

# The limits the handler runs with in the handler tests, so the strategies shared with test_fuzz.py are checked here.
LIMITS = HANDLER_LIMITS
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": {"type": "string"}}}}}
SCHEMA = {"properties": {"a": {"type": "integer"}}}

# Values TGI and our rules both accept, field by field (cross-field rules kept out: best_of 2, tools with a format).
VALID = {
    "generate": {
        "best_of": [None, 0, 1],
        "temperature": [None, 0.1, 1, 5.5],
        "repetition_penalty": [None, 0.8, 1.2],
        "frequency_penalty": [None, -2, 0, 1.5],
        "top_k": [None, 1, 40],
        "top_p": [None, 0.5, 0.99],
        "typical_p": [None, 0.2],
        "do_sample": [True, False],
        "max_new_tokens": [None, 1, LIMITS.max_new_tokens],
        "return_full_text": [None, True, False],
        "stop": [[], ["\n"], ["a", "b", "c", "d"]],
        "truncate": [None, 1, LIMITS.max_input_tokens],
        "watermark": [True, False],
        "details": [True, False],
        "decoder_input_details": [True, False],
        "seed": [None, 0, 2**64 - 1],
        "top_n_tokens": [None, 0, 5],
        "grammar": [None, {"type": "regex", "value": "a+"}, {"type": "json", "value": SCHEMA}],
        "adapter_id": [None, "a"],
    },
    "chat": {
        "model": [None, "gpt-4o", "tgi"],
        "frequency_penalty": [None, -1],
        "logit_bias": [None],
        "logprobs": [None, True],
        "top_logprobs": [None, 0, 5],
        "max_tokens": [None, 1, LIMITS.max_new_tokens],
        "n": [None, 1],
        "presence_penalty": [None, -1.9, 0, 2],
        "stop": [None, [], ["x"]],
        "stream": [False],
        "seed": [None, 7],
        "temperature": [None, 0, 0.7],
        "top_p": [None, 0.5, 1],
        "tools": [None, [TOOL]],
        "tool_prompt": [None, "t"],
        "tool_choice": [None, "auto", "none", "required"],
        "stream_options": [{}, {"include_usage": False}],
    },
    "completions": {
        "model": [None, "davinci"],
        "prompt": ["x", ["a", "b"]],
        "max_tokens": [None, 1, LIMITS.max_new_tokens],
        "temperature": [None, 0, 1.5],
        "top_p": [None, 0.5, 1],
        "stream": [False],
        "seed": [None, 3],
        "suffix": [None],
        "repetition_penalty": [None, 1.1],
        "frequency_penalty": [None, 2],
        "stop": [None, ["\n"]],
    },
}
# Values only the mixed requests draw: cross-field rules (best_of 2, tools beside a format, a named tool).
MIXED = {
    "generate": {"best_of": [2, 3]},
    "chat": {
        "response_format": [None, {"type": "json", "value": SCHEMA}],
        "tool_choice": ["f", "g", {"type": "function", "function": {"name": "g"}}],
    },
    "completions": {},
}
# Boundaries and wrong types, beside arbitrary JSON.
EDGES = st.sampled_from(
    [0, 1, -1, -2, 2, 0.0, 1.0, -0.5, 0.5, 6, 1025, 2**31, 2**64, 1e39, "", "x", True, False, None, [], {}, [""], ["a"] * 5]
)
REQUIRED = {"generate": {"inputs": "hello"}, "chat": {"messages": [{"role": "user", "content": "hi"}]}, "completions": {}}


def _requests(shape: str) -> st.SearchStrategy:
    chosen = st.fixed_dictionaries({}, optional={name: st.sampled_from(values) for name, values in VALID[shape].items()})
    if shape == "generate":
        return st.builds(lambda p, wrap: {**REQUIRED[shape], **({"parameters": p} if wrap else {})}, chosen, st.booleans())
    if shape == "completions":
        return chosen.filter(lambda d: "prompt" in d)
    return chosen.map(lambda d: {**REQUIRED[shape], **d})


def _mixed(shape: str) -> st.SearchStrategy:
    """A valid request with one or two fields changed: to a cross-field case, a boundary, or arbitrary JSON."""

    def values(name: str) -> st.SearchStrategy:
        special = MIXED[shape].get(name)
        return st.one_of(EDGES, json_values, *([st.sampled_from(special)] * 8 if special else []))

    names = sorted({*VALID[shape], *MIXED[shape]})
    change = st.sampled_from(names).flatmap(lambda name: st.tuples(st.just(name), values(name)))
    changes = st.lists(change, min_size=1, max_size=2).map(dict)

    def apply(request: dict, fields: dict) -> dict:
        if shape == "generate":
            return {**request, "parameters": {**request.get("parameters", {}), **fields}}
        return {**request, **fields}

    return st.builds(apply, _requests(shape), changes)


valid_requests = st.one_of(*(_requests(shape) for shape in VALID))
mixed_requests = st.one_of(*(_mixed(shape) for shape in VALID))


def _parse(request: dict) -> EngineRequest:
    return parse_request(json.dumps(request), "application/json", LIMITS)


def _assert_forwarded_as_tgi_accepts(forwarded: EngineRequest) -> None:
    body = forwarded.body
    assert tgi_oracle.refusal(body, LIMITS.max_input_tokens, LIMITS.max_total_tokens) is None, body
    if forwarded.shape == "generate":
        budget = body["parameters"]["max_new_tokens"]
        assert isinstance(body["parameters"]["return_full_text"], bool)
    else:
        budget = body["max_tokens"]
        assert body["model"] == "tgi"
    assert 1 <= budget <= LIMITS.max_new_tokens


@settings(max_examples=1500, deadline=None)
@given(body=raw_bodies, content_type=content_types)
def test_bad_requests_are_4xx_with_the_error_shape(body: str, content_type: str) -> None:
    try:
        parse_request(body, content_type, LIMITS)
    except RequestError as error:
        assert 400 <= error.status < 500
        assert set(error.body()) == {"error"} and set(error.body()["error"]) == {"code", "message"}
    else:
        raise AssertionError(f"accepted: {body[:200]!r}")


@settings(max_examples=4000, deadline=None)
@given(request=mixed_requests)
def test_whatever_is_forwarded_tgi_accepts(request: dict) -> None:
    try:
        forwarded = _parse(request)
    except RequestError as error:
        assert 400 <= error.status < 500
        return
    _assert_forwarded_as_tgi_accepts(forwarded)


@settings(max_examples=800, deadline=None)
@given(request=valid_requests)
def test_requests_tgi_and_our_rules_accept_are_forwarded(request: dict) -> None:
    _assert_forwarded_as_tgi_accepts(_parse(request))
