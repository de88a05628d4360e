"""parse_request's engine: "tgi" (the default, unchanged) or "vllm" (vLLM 0.30.0). The envelope is shared; the
normalisations are vLLM's. The shapes' fields: test_request_vllm_chat.py, _completions.py, _generate.py."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inference_api.request import RequestError, container_payload, parse_request

from tests.api.runtime import request_cases
from tests.api.runtime.bad_requests import json_values
from tests.api.runtime.request_cases import JSON, LIMITS, USER
from tests.api.runtime.vllm_cases import BUDGET, message, parse, refused
from tests.request_samples import GENERATE_PARAMETERS

BODIES = [
    {"messages": USER, "model": "gpt-4o", "top_p": 1, "presence_penalty": 0},
    {"prompt": "x", "max_tokens": 5},
    {"inputs": "x"},
    {"inputs": "x", "parameters": {"top_n_tokens": 5, "details": True, "frequency_penalty": 1.5}},
]


@pytest.mark.parametrize("body", BODIES)
def test_the_default_engine_is_tgi_unchanged(body: dict) -> None:
    text = json.dumps(body)
    assert parse_request(text, JSON, LIMITS) == parse_request(text, JSON, LIMITS, engine="tgi") == request_cases.parse(body)


def test_the_engines_differ() -> None:
    # TGI: model "tgi", top_p 1 and presence_penalty 0 dropped; vLLM: no model, its own values kept.
    assert request_cases.parse(BODIES[0]).body == {"messages": USER, "model": "tgi", "max_tokens": BUDGET}
    assert parse(BODIES[0]).body == {"messages": USER, "top_p": 1, "presence_penalty": 0, "max_completion_tokens": BUDGET}


@pytest.mark.parametrize("engine", ["TGI", "vLLM", "", None, "djl-lmi"])
def test_an_unknown_engine_is_a_programming_error(engine: object) -> None:
    with pytest.raises(ValueError, match="engine must be one of tgi, vllm"):
        parse_request('{"inputs": "x"}', JSON, LIMITS, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "shape", "forwarded"),
    [
        ({"messages": USER}, "chat", {"messages": USER, "max_completion_tokens": BUDGET}),
        ({"prompt": "x"}, "completions", {"prompt": "x", "max_tokens": BUDGET}),
        ({"inputs": "x"}, "generate", {"prompt": "x", "max_tokens": BUDGET}),  # a completions body
    ],
)
def test_the_shape_is_chosen_by_its_key(body: dict, shape: str, forwarded: dict) -> None:
    assert (parse(body).shape, parse(body).body) == (shape, forwarded)


def test_a_body_with_two_shape_keys() -> None:
    # vLLM would try chat, then completions (api_router.py:82-88): we refuse rather than guess (ours), as for TGI.
    shapes = '"messages" (chat completions), "prompt" (completions) or "inputs" (generate)'
    assert (
        message({"messages": USER, "prompt": "x"})
        == f'body: must be an object with only one of {shapes} (got ["messages", "prompt"])'
    )


@pytest.mark.parametrize("body", [{"messages": USER}, {"prompt": "x"}])
@pytest.mark.parametrize("model", [None, "gpt-4o", "Qwen/Qwen2.5-7B-Instruct"])
def test_the_model_is_dropped(body: dict, model: object) -> None:
    # /invocations sets `model` from the adapter header, null without one (api_router.py:65, MHCS inject_adapter_id):
    # the container receives "model": null whatever is sent, and the base model answers.
    assert "model" not in parse({**body, "model": model}).body


@pytest.mark.parametrize(
    ("body", "field"),
    [({"messages": USER}, "max_completion_tokens"), ({"prompt": "x"}, "max_tokens"), ({"inputs": "x"}, "max_tokens")],
)
def test_every_request_names_its_budget_within_max_model_len(body: dict, field: str) -> None:
    # vLLM refuses a budget over max_model_len (renderers/params.py:237-249); ours ≤ max_total_tokens − 1 holds it.
    assert parse(body).body[field] == BUDGET and LIMITS.max_new_tokens <= LIMITS.max_total_tokens - 1


@pytest.mark.parametrize("body", [{"messages": USER}, {"prompt": "x"}, {"inputs": "x"}])
def test_no_sampling_default_is_added(body: dict) -> None:
    # vLLM fills what a request omits from generation_config.json unless the container runs --generation-config vllm
    # (config/model.py:1728-1781): the infrastructure sets SM_VLLM_GENERATION_CONFIG=vllm (docs/request-contract.md).
    forwarded = parse(body).body
    assert not {"temperature", "top_p", "top_k", "min_p", "repetition_penalty"} & set(forwarded)


@pytest.mark.parametrize("body", [{"messages": USER}, {"prompt": "x"}, {"inputs": "x"}])
def test_stream_true_is_refused_in_every_shape(body: dict) -> None:
    assert (
        message({**body, "stream": True})
        == "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}"
    )


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"inputs": "é" * 2001}, "inputs"),
        ({"prompt": ["é" * 1000, "é" * 1001]}, "prompt"),
        ({"messages": [{"role": "system", "content": "é" * 1000},
                       {"role": "user", "content": [{"type": "text", "text": "é" * 1001}]}]},
         "messages[].content"),
    ],
)  # fmt: skip
def test_the_prompt_byte_limit_is_shared(body: dict, where: str) -> None:
    assert refused(body) == (413, "PayloadTooLarge", f"{where}: must be at most 4000 bytes (got 4002)")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("x" * 10_001, 413, "PayloadTooLarge"),
        ('{"prompt": NaN}', 400, "MalformedJson"),  # Python's json.loads would read NaN: ours
        ('{"prompt": "a", "prompt": "b"}', 400, "MalformedJson"),  # json.loads keeps the last: ours
        ('{"prompt": "\\ud800"}', 400, "MalformedJson"),  # json.loads reads a lone surrogate: ours
        ("[1]", 400, "MalformedJson"),
    ],
)
def test_the_envelope_is_shared(body: str, status: int, code: str) -> None:
    assert refused(body)[:2] == (status, code)


def test_the_media_type_is_shared() -> None:
    # vLLM's /invocations also takes application/json only (serve/utils/api_utils.py:350-356).
    assert refused({"prompt": "x"}, "text/plain") == (
        415,
        "UnsupportedMediaType",
        "Content-Type: must be application/json (got 'text/plain')",
    )


def test_the_nesting_limit_is_ours_and_names_no_tgi() -> None:
    nested: dict = {}
    for _ in range(125):
        nested = {"a": nested}
    body = {"prompt": "x", "structured_outputs": {"json": nested}}  # the body, structured_outputs, then 126 objects
    assert refused(body) == (400, "MalformedJson", "body: must be a JSON object nested at most 127 levels deep (got 128)")


def test_the_payload_limit_is_shared_and_utf8() -> None:
    limits = dataclasses.replace(LIMITS, max_body_bytes=2_000_000, max_inputs_bytes=2_000_000)
    forwarded = container_payload(parse({"prompt": "é" * 400_000}, limits=limits).body)
    assert len(forwarded) < 900_000 and "é".encode() * 10 in forwarded
    expected = "body: must be at most 2000000 bytes as the container receives it (got 2000013)"
    assert refused({"inputs": "a" * 1_999_980}, limits=limits) == (413, "PayloadTooLarge", expected)


FIELDS = {
    "messages": ["model", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "max_tokens", "max_completion_tokens",
                 "n", "presence_penalty", "response_format", "seed", "stop", "stream", "stream_options", "temperature", "top_p",
                 "tools", "tool_choice", "parallel_tool_calls", "user", "top_k", "min_p", "repetition_penalty",
                 "structured_outputs"],
    "prompt": ["model", "echo", "logprobs", "max_tokens", "n", "suffix", "truncate_prompt_tokens", "truncation_side", "stop",
               "response_format", "structured_outputs", "seed", "temperature"],
    "inputs": ["parameters", "stream"],
}  # fmt: skip
PARAMETERS = [*GENERATE_PARAMETERS, "max_tokens"]
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "tool", "x"])}, optional={
    "content": json_values, "tool_calls": json_values, "name": json_values})  # fmt: skip


def _bodies(key: str) -> st.SearchStrategy:
    first = {"messages": st.lists(MESSAGE | json_values, max_size=3), "prompt": json_values, "inputs": json_values}[key]
    fields = st.dictionaries(st.sampled_from(FIELDS[key]), json_values, max_size=4)
    if key == "inputs":
        fields = fields | st.fixed_dictionaries(
            {"parameters": st.dictionaries(st.sampled_from(PARAMETERS), json_values, max_size=4)}
        )
    return st.builds(lambda head, rest: {key: head, **rest}, first, fields)


@settings(max_examples=300, deadline=None)
@given(body=st.sampled_from(list(FIELDS)).flatmap(_bodies))
def test_any_body_is_forwarded_or_refused_with_the_error_shape(body: dict) -> None:
    # No body makes the rules raise anything but a RequestError (a KeyError or TypeError would be a 500).
    try:
        request = parse(body)
    except RequestError as error:
        assert error.status in (400, 413) and error.body()["error"]["message"]
    else:
        assert request.shape in ("chat", "completions", "generate") and "model" not in request.body
