"""The TGI 3.3.6 stand-in itself: what it accepts and refuses on /invocations, each with the TGI rule behind it (files
at tag v3.3.6 of huggingface/text-generation-inference), and the shapes of its answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from moto import mock_aws

from tests.request_samples import CHAT_NULLABLE, GENERATE_OPTIONS
from tests.tools import stand_in_helpers as s3_side
from tests.tools.engine_stand_in import KINDS, PAYLOAD_LIMIT, TgiStandIn, complete_from_s3, schema_of
from tests.tools.stand_in_helpers import request_body, sse_events, words

MAX_INPUT, MAX_TOTAL = 128, 256  # room for a tool definition and the default tool prompt
PROMPT = "What colour is the sky?"  # 5 tokens for the stand-in (whitespace words)
USER = [{"role": "user", "content": PROMPT}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
COLOUR_SCHEMA = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}


@pytest.fixture
def tgi() -> TgiStandIn:
    return TgiStandIn(max_input_tokens=MAX_INPUT, max_total_tokens=MAX_TOTAL)


# ---- accepted --------------------------------------------------------------------------------------------------------
ACCEPTED: list[tuple[str, Any]] = [
    # Generate: lib.rs CompatGenerateRequest {inputs, parameters = default_parameters(), stream = false}
    ("generate: inputs only", {"inputs": PROMPT}),
    (
        "generate: every Option parameter null (serde: null is None)",
        {"inputs": PROMPT, "parameters": dict.fromkeys(GENERATE_OPTIONS)},
    ),
    (
        "generate: unknown fields ignored (no #[serde(deny_unknown_fields)] in lib.rs)",
        {"inputs": PROMPT, "model": "x", "parameters": {"max_tokens": 5, "unknown": [1]}},
    ),
    (
        "generate: every parameter at a valid value",
        {
            "inputs": PROMPT,
            "parameters": {
                "do_sample": True,
                "temperature": 0.7,
                "top_p": 0.9,
                "top_k": 50,
                "typical_p": 0.9,
                "repetition_penalty": 1.1,
                "frequency_penalty": -2.0,
                "max_new_tokens": 16,
                "stop": ["a", "b", "c", "d"],
                "truncate": MAX_INPUT,
                "details": True,
                "decoder_input_details": True,
                "seed": 0,
                "top_n_tokens": 5,
                "watermark": True,
                "return_full_text": False,
                "adapter_id": "unknown-adapter",
            },
        },
    ),
    (
        "generate: an integer where a float goes (serde f32 takes any number)",
        {"inputs": PROMPT, "parameters": {"temperature": 1, "frequency_penalty": 2}},
    ),
    ("generate: best_of 2 with do_sample", {"inputs": PROMPT, "parameters": {"best_of": 2, "do_sample": True}}),
    (
        "generate: best_of 2, sampling implied by top_k (validation.rs `sampling`)",
        {"inputs": PROMPT, "parameters": {"best_of": 2, "top_k": 10}},
    ),
    ("generate: best_of 0 (only > 1 is checked)", {"inputs": PROMPT, "parameters": {"best_of": 0}}),
    ("generate: best_of 1 with a seed", {"inputs": PROMPT, "parameters": {"best_of": 1, "seed": 7}}),
    (
        "generate: max_new_tokens = max_total_tokens - input tokens",
        {"inputs": PROMPT, "parameters": {"max_new_tokens": MAX_TOTAL - 5}},
    ),
    (
        "generate: json grammar with properties",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json", "value": COLOUR_SCHEMA}}},
    ),
    (
        "generate: json grammar as a string of JSON",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json", "value": json.dumps(COLOUR_SCHEMA)}}},
    ),
    (
        "generate: json_object, the alias of json",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json_object", "value": {"properties": {}}}}},
    ),
    (
        "generate: json_schema grammar",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json_schema", "value": {"name": "c", "schema": COLOUR_SCHEMA}}}},
    ),
    ("generate: regex grammar", {"inputs": PROMPT, "parameters": {"grammar": {"type": "regex", "value": "Blue\\."}}}),
    ("generate: positional array (serde visit_seq)", ["What colour is the sky?"]),
    ("generate: positional array with parameters", [PROMPT, {"max_new_tokens": 5}, False]),
    ("generate: parameters as an empty positional array", {"inputs": PROMPT, "parameters": []}),
    ("generate: stream true (answered as an event stream)", {"inputs": PROMPT, "stream": True}),
    ("generate: generate wins over chat when both fit (sagemaker.rs enum order)", {"inputs": PROMPT, "messages": USER}),
    # Chat: lib.rs ChatRequest
    ("chat: messages only", {"messages": USER}),
    ("chat: no messages at all", {"messages": []}),
    (
        "chat: any role, content chunks, an image url",
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "critic",
                    "content": [
                        {"type": "text", "text": PROMPT},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    ],
                },
            ]
        },
    ),
    (
        "chat: an assistant tool call and the tool's answer",
        {
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                    ],
                },
                {"role": "tool", "content": "sunny", "tool_call_id": "0"},
            ]
        },
    ),
    ("chat: every Option null", {"messages": USER, **dict.fromkeys(CHAT_NULLABLE)}),
    (
        "chat: the OpenAI sampling fields",
        {
            "messages": USER,
            "model": "tgi",
            "temperature": 0,
            "top_p": 0.5,
            "presence_penalty": -1.5,
            "frequency_penalty": 1.0,
            "seed": 3,
            "max_completion_tokens": 8,
            "n": 2,
            "logit_bias": [0.5],
            "logprobs": True,
            "top_logprobs": 5,
            "stop": ["x", "y", "z", "w"],
            "user": "unknown-field",
        },
    ),
    (
        "chat: response_format json_schema",
        {"messages": USER, "response_format": {"type": "json_schema", "value": {"name": "colour", "schema": COLOUR_SCHEMA}}},
    ),
    ("chat: tools, tool_choice auto", {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "auto"}),
    ("chat: tools, tool_choice required", {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "required"}),
    ("chat: tools, tool_choice by name", {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "get_weather"}),
    (
        "chat: tools, OpenAI's typed tool_choice",
        {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    ),
    ("chat: tools, tool_choice none", {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "none"}),
    (
        "chat: serde's other spellings - a variant index as tag, positional chunks, null tool parameters",
        {
            "messages": [{"role": "user", "content": [["text", PROMPT], {"type": 0, "text": "!"}]}],
            "response_format": {"type": 0, "value": COLOUR_SCHEMA},
        },
    ),
    (
        "chat: a tool whose parameters are null",
        {
            "messages": USER,
            "tools": [{"type": "function", "function": {"name": "now", "parameters": None}}],
            "tool_choice": "none",
        },
    ),
    ("chat: stream with usage", {"messages": USER, "stream": True, "stream_options": {"include_usage": True}}),
    # Completion: lib.rs CompletionRequest
    ("completion: one prompt", {"prompt": PROMPT}),
    ("completion: four prompts (max_client_batch_size)", {"prompt": ["a", "b", "c", "d"]}),
    (
        "completion: nulls and sampling",
        {
            "prompt": PROMPT,
            "model": None,
            "seed": None,
            "suffix": None,
            "stop": None,
            "temperature": 0.0,
            "top_p": 0.9,
            "repetition_penalty": 1.2,
            "frequency_penalty": 0.1,
            "max_tokens": 4,
        },
    ),
    ("completion: stream", {"prompt": PROMPT, "stream": True}),
]


@pytest.mark.parametrize(("name", "request_"), ACCEPTED, ids=[name for name, _ in ACCEPTED])
def test_accepted(tgi: TgiStandIn, name: str, request_: Any) -> None:
    answer = tgi.respond(request_body(request_))
    assert answer.status == 200, (answer.body, tgi.diagnose(request_body(request_)))
    assert not answer.refused
    assert tgi.requests == [request_]


def test_trailing_bytes_after_the_json_are_ignored(tgi: TgiStandIn) -> None:
    # axum 0.7.9 axum/src/json.rs Json::from_bytes never calls serde_json's Deserializer::end().
    assert tgi.invoke(b'  {"inputs": "hi"} and more')[0] == 200


def test_a_json_content_type_with_parameters_or_a_suffix(tgi: TgiStandIn) -> None:
    # axum 0.7.9 json.rs json_content_type: application/json, or a +json suffix.
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert tgi.respond(b'{"inputs": "hi"}', content_type=content_type).status == 200


# ---- refused by validation: 422 with TGI's ErrorResponse ---------------------------------------------------------------
REFUSED: list[tuple[str, Any, str, str]] = [
    # (rule, body, error_type, error) - validation.rs Validation::validate unless said otherwise
    (
        "top_p = 1 (must be < 1)",
        {"inputs": PROMPT, "parameters": {"top_p": 1.0}},
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
    ),
    (
        "top_p rounding to 1.0 as an f32",
        {"inputs": PROMPT, "parameters": {"top_p": 0.99999999}},
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
    ),
    (
        "top_p = 0",
        {"inputs": PROMPT, "parameters": {"top_p": 0}},
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
    ),
    (
        "typical_p = 1",
        {"inputs": PROMPT, "parameters": {"typical_p": 1}},
        "validation",
        "Input validation error: `typical_p` must be > 0.0 and < 1.0",
    ),
    (
        "temperature 0 on generate (only chat and completions map 0 to greedy)",
        {"inputs": PROMPT, "parameters": {"temperature": 0}},
        "validation",
        "Input validation error: `temperature` must be strictly positive",
    ),
    (
        "repetition_penalty 0",
        {"inputs": PROMPT, "parameters": {"repetition_penalty": 0}},
        "validation",
        "Input validation error: `repetition_penalty` must be strictly positive",
    ),
    (
        "frequency_penalty outside [-2, 2]",
        {"inputs": PROMPT, "parameters": {"frequency_penalty": 2.5}},
        "validation",
        "Input validation error: `frequency_penalty` must be >= -2.0 and <= 2.0",
    ),
    (
        "top_k 0",
        {"inputs": PROMPT, "parameters": {"top_k": 0}},
        "validation",
        "Input validation error: `top_k` must be strictly positive",
    ),
    (
        "max_new_tokens 0",
        {"inputs": PROMPT, "parameters": {"max_new_tokens": 0}},
        "validation",
        "Input validation error: `max_new_tokens` must be strictly positive",
    ),
    (
        "best_of 2 without sampling (parameters given: do_sample defaults to false)",
        {"inputs": PROMPT, "parameters": {"best_of": 2}},
        "validation",
        "Input validation error: you must use sampling when `best_of` is > 1",
    ),
    (
        "best_of 2 with a seed",
        {"inputs": PROMPT, "parameters": {"best_of": 2, "do_sample": True, "seed": 1}},
        "validation",
        "Input validation error: `seed` must not be set when `best_of` > 1",
    ),
    (
        "best_of above max_best_of (launcher default 2; validate_best_of)",
        {"inputs": PROMPT, "parameters": {"best_of": 3, "do_sample": True}},
        "validation",
        "Input validation error: `best_of` must be > 0 and <= 2. Given: 3",
    ),
    (
        "truncate above max_input_tokens",
        {"inputs": PROMPT, "parameters": {"truncate": MAX_INPUT + 1}},
        "validation",
        f"Input validation error: `truncate` must be strictly positive and less than {MAX_INPUT}. Given: {MAX_INPUT + 1}",
    ),
    (
        "truncate 0",
        {"inputs": PROMPT, "parameters": {"truncate": 0}},
        "validation",
        f"Input validation error: `truncate` must be strictly positive and less than {MAX_INPUT}. Given: 0",
    ),
    (
        "max_new_tokens = max_total_tokens (input + max_new_tokens > max_total_tokens)",
        {"inputs": PROMPT, "parameters": {"max_new_tokens": MAX_TOTAL}},
        "validation",
        f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {MAX_TOTAL}. "
        f"Given: 5 `inputs` tokens and {MAX_TOTAL} `max_new_tokens`",
    ),
    (
        "input above max_input_tokens",
        {"inputs": words(MAX_INPUT + 1)},
        "validation",
        f"Input validation error: `inputs` must have less than {MAX_INPUT} tokens. Given: {MAX_INPUT + 1}",
    ),
    (
        "input above max_total_tokens: reported as total tokens, checked first",
        {"inputs": words(MAX_TOTAL + 1)},
        "validation",
        f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {MAX_TOTAL}. "
        f"Given: {MAX_TOTAL + 1} `inputs` tokens and 0 `max_new_tokens`",
    ),
    (
        "more than 4 stop sequences (launcher max_stop_sequences)",
        {"inputs": PROMPT, "parameters": {"stop": ["a", "b", "c", "d", "e"]}},
        "validation",
        "Input validation error: `stop` supports up to 4 stop sequences. Given: 5",
    ),
    (
        "top_n_tokens above 5 (launcher max_top_n_tokens)",
        {"inputs": PROMPT, "parameters": {"top_n_tokens": 6}},
        "validation",
        "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 6",
    ),
    ("empty inputs", {"inputs": ""}, "validation", "Input validation error: `inputs` cannot be empty"),
    (
        "json grammar without properties",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json", "value": {}}}},
        "validation",
        "Input validation error: grammar is not valid: Grammar must have a 'properties' field",
    ),
    (
        "json grammar that is neither an object nor a string",
        {"inputs": PROMPT, "parameters": {"grammar": {"type": "json", "value": None}}},
        "validation",
        "Input validation error: grammar is not supported",
    ),
    (
        "the first failing check is the one reported (order of validation.rs)",
        {"inputs": "", "parameters": {"top_p": 1.0, "stop": ["a"] * 5}},
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
    ),
    # chat: lib.rs ChatRequest::try_into_generate, then the same validation
    (
        "chat: tools and response_format together",
        {"messages": USER, "tools": [WEATHER_TOOL], "response_format": {"type": "json", "value": COLOUR_SCHEMA}},
        "tool_error",
        "Tool error: Grammar and tools are mutually exclusive",
    ),
    (
        "chat: tool_choice names no tool (tool_grammar.rs)",
        {"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "get_time"},
        "tool_error",
        "Tool error: Tool with name get_time not found",
    ),
    (
        "chat: presence_penalty -2 is repetition_penalty 0",
        {"messages": USER, "presence_penalty": -2.0},
        "validation",
        "Input validation error: `repetition_penalty` must be strictly positive",
    ),
    (
        "chat: negative temperature",
        {"messages": USER, "temperature": -0.5},
        "validation",
        "Input validation error: `temperature` must be strictly positive",
    ),
    ("chat: top_p 1", {"messages": USER, "top_p": 1}, "validation", "Input validation error: `top_p` must be > 0.0 and < 1.0"),
    (
        "chat: top_logprobs above 5",
        {"messages": USER, "top_logprobs": 6},
        "validation",
        "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 6",
    ),
    (
        "chat: max_tokens 0",
        {"messages": USER, "max_tokens": 0},
        "validation",
        "Input validation error: `max_new_tokens` must be strictly positive",
    ),
    (
        "chat: 5 stop sequences",
        {"messages": USER, "stop": ["a", "b", "c", "d", "e"]},
        "validation",
        "Input validation error: `stop` supports up to 4 stop sequences. Given: 5",
    ),
    (
        "chat: response_format schema without properties",
        {"messages": USER, "response_format": {"type": "json_schema", "value": {"schema": {"type": "object"}}}},
        "validation",
        "Input validation error: grammar is not valid: Grammar must have a 'properties' field",
    ),
    # completion: server.rs completions' own checks, then validation per prompt
    (
        "completion: suffix",
        {"prompt": PROMPT, "suffix": "!"},
        "suffix not supported",
        "Suffix is not supported and can be achieved by preprocessing the prompt.",
    ),
    (
        "completion: more prompts than max_client_batch_size (4)",
        {"prompt": ["a", "b", "c", "d", "e"]},
        "batch size exceeded",
        "Number of prompts exceeds the maximum allowed batch size of 4",
    ),
    ("completion: an empty prompt", {"prompt": ["a", ""]}, "validation", "Input validation error: `inputs` cannot be empty"),
    (
        "completion: top_p 1",
        {"prompt": PROMPT, "top_p": 1.0},
        "validation",
        "Input validation error: `top_p` must be > 0.0 and < 1.0",
    ),
]


@pytest.mark.parametrize(("rule", "request_", "error_type", "error"), REFUSED, ids=[rule for rule, *_ in REFUSED])
def test_refused_by_validation(tgi: TgiStandIn, rule: str, request_: Any, error_type: str, error: str) -> None:
    answer = tgi.respond(request_body(request_))
    assert (answer.status, answer.content_type) == (422, "application/json")
    assert json.loads(answer.body) == {"error": error, "error_type": error_type}
    assert tgi.requests == []


def test_max_new_tokens_above_max_total_tokens_can_pass() -> None:
    # validation.rs validate_input: only min(max_new_tokens, 1024) counts against max_total_tokens, so with a budget
    # above 1024 a huge max_new_tokens is accepted (and generated in re-queued chunks, infer.rs generate_stream).
    tgi = TgiStandIn(max_input_tokens=1024, max_total_tokens=2048)
    assert tgi.invoke(request_body({"inputs": PROMPT, "parameters": {"max_new_tokens": 100_000}}))[0] == 200
    status, body = tgi.invoke(request_body({"inputs": words(1025), "parameters": {"max_new_tokens": 100_000}}))
    assert status == 422
    assert "Given: 1025 `inputs` tokens and 1024 `max_new_tokens`" in json.loads(body)["error"]


def test_truncate_keeps_a_long_input_within_max_input_tokens(tgi: TgiStandIn) -> None:
    request = {"inputs": words(MAX_INPUT + 10), "parameters": {"truncate": MAX_INPUT, "max_new_tokens": 4}}
    assert tgi.invoke(request_body(request))[0] == 200


# ---- refused before validation: the body is none of the three kinds (axum's plain-text 422) -------------------------
NOT_A_KIND: list[tuple[str, Any]] = [
    ("null for a #[serde(default)] Vec (generate stop)", {"inputs": PROMPT, "parameters": {"stop": None}}),
    ("null for a #[serde(default)] bool (stream)", {"inputs": PROMPT, "stream": None}),
    ("null for do_sample", {"inputs": PROMPT, "parameters": {"do_sample": None}}),
    ("null for parameters", {"inputs": PROMPT, "parameters": None}),
    ("chat: null stream", {"messages": USER, "stream": None}),
    ("chat: null stream_options", {"messages": USER, "stream_options": None}),
    ("chat: null content and no tool_calls", {"messages": [{"role": "user", "content": None}]}),
    ("chat: a message without role", {"messages": [{"content": PROMPT}]}),
    ("chat: messages as a string", {"messages": PROMPT}),
    (
        "chat: OpenAI's response_format shape (TGI wants {type, value})",
        {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": COLOUR_SCHEMA}}},
    ),
    ("chat: OpenAI's logit_bias map (TGI wants a list)", {"messages": USER, "logit_bias": {"50256": -100}}),
    (
        "chat: a tool without parameters (FunctionDefinition.arguments is required)",
        {"messages": USER, "tools": [{"type": "function", "function": {"name": "now"}}]},
    ),
    (
        "chat: max_tokens and its alias max_completion_tokens together",
        {"messages": USER, "max_tokens": 4, "max_completion_tokens": 4},
    ),
    ("a float for an integer (serde_json reads 10.0 as f64)", {"inputs": PROMPT, "parameters": {"max_new_tokens": 10.0}}),
    ("a negative max_new_tokens (u32)", {"inputs": PROMPT, "parameters": {"max_new_tokens": -1}}),
    ("max_new_tokens above u32", {"inputs": PROMPT, "parameters": {"max_new_tokens": 2**32}}),
    ("a negative seed (u64)", {"inputs": PROMPT, "parameters": {"seed": -1}}),
    ("a boolean for a number", {"inputs": PROMPT, "parameters": {"temperature": True}}),
    ("inputs not a string", {"inputs": ["a"]}),
    ("completion: an empty list of prompts (lib.rs Prompt try_from)", {"prompt": []}),
    ("an empty object", {}),
    ("a JSON string", "hello"),
    ("JSON null", None),
    ("a positional array too long", [PROMPT, {}, False, "extra"]),
    ("a duplicate field (serde: duplicate field)", b'{"inputs": "a", "inputs": "b"}'),
]


@pytest.mark.parametrize(("rule", "request_"), NOT_A_KIND, ids=[rule for rule, _ in NOT_A_KIND])
def test_refused_as_none_of_the_kinds(tgi: TgiStandIn, rule: str, request_: Any) -> None:
    answer = tgi.respond(request_body(request_))
    assert (answer.status, answer.content_type) == (422, "text/plain; charset=utf-8")
    assert answer.body == (
        b"Failed to deserialize the JSON body into the target type: data did not match any variant of untagged enum "
        b"SagemakerRequest"
    )
    assert tgi.requests == []


NOT_JSON: list[tuple[str, bytes]] = [
    ("empty body", b""),
    ("unterminated object", b'{"inputs": "a"'),
    ("NaN", b'{"inputs": "a", "parameters": {"temperature": NaN}}'),
    ("a number out of range", b'{"inputs": "a", "parameters": {"temperature": 1e400}}'),
    ("not UTF-8", b'{"inputs": "\xff"}'),
    ("a lone surrogate", b'{"inputs": "\\ud800"}'),
    ("nested too deep (serde_json recursion limit 128)", b"[" * 128 + b"]" * 128),
]


@pytest.mark.parametrize(("rule", "body"), NOT_JSON, ids=[rule for rule, _ in NOT_JSON])
def test_bytes_that_are_not_json_are_400(tgi: TgiStandIn, rule: str, body: bytes) -> None:
    status, answer = tgi.invoke(body)
    assert status == 400
    assert answer.decode().startswith("Failed to parse the request body as JSON: ")


def test_content_type_and_payload_limit(tgi: TgiStandIn) -> None:
    # axum Json: 415 without a JSON Content-Type; server.rs DefaultBodyLimit (launcher payload_limit 2 MB): 413.
    assert tgi.respond(b'{"inputs": "hi"}', content_type="text/plain").status == 415
    assert tgi.respond(b'{"inputs": "hi"}', content_type=None).status == 415
    big = request_body({"inputs": "a" * PAYLOAD_LIMIT})
    answer = tgi.respond(big)
    assert (answer.status, answer.body) == (413, b"Failed to buffer the request body: length limit exceeded")


# ---- stream: the route answers 200 and the refusal is an event ----------------------------------------------------------
def test_a_refused_generate_stream_is_a_200_event(tgi: TgiStandIn) -> None:
    # server.rs generate_stream_internal: the SSE response is already under way when validation fails.
    for parameters, error in [
        ({"top_p": 1.0}, "Input validation error: `top_p` must be > 0.0 and < 1.0"),
        ({"best_of": 2, "do_sample": True}, "Input validation error: `best_of` != 1 is not supported when streaming tokens"),
        (
            {"decoder_input_details": True},
            "Input validation error: `decoder_input_details` == true is not supported when streaming tokens",
        ),
    ]:
        answer = tgi.respond(request_body({"inputs": PROMPT, "stream": True, "parameters": parameters}))
        assert (answer.status, answer.content_type, answer.refused) == (200, "text/event-stream", True)
        assert sse_events(answer.body) == [{"error": error, "error_type": "validation"}]
    assert tgi.requests == []


def test_a_refused_chat_stream_is_an_openai_error_event(tgi: TgiStandIn) -> None:
    # server.rs chat_completions + infer.rs into_openai_event; try_into_generate's errors still come before, as 422.
    answer = tgi.respond(request_body({"messages": USER, "stream": True, "top_p": 1.0}))
    assert (answer.status, answer.refused) == (200, True)
    assert sse_events(answer.body) == [
        {"error": {"message": "Input validation error: `top_p` must be > 0.0 and < 1.0", "http_status_code": 422}},
        "[DONE]",
    ]
    both = {"messages": USER, "stream": True, "tools": [WEATHER_TOOL], "response_format": {"type": "regex", "value": "."}}
    assert tgi.invoke(request_body(both))[0] == 422


# ---- response shapes ------------------------------------------------------------------------------------------------------
TOKEN = {
    "type": "object",
    "required": ["id", "text", "logprob", "special"],
    "properties": {
        "id": {"type": "integer"},
        "text": {"type": "string"},
        "logprob": {"type": "number"},
        "special": {"type": "boolean"},
    },
    "additionalProperties": False,
}
DETAILS_CORE = {
    "finish_reason": {"enum": ["length", "eos_token", "stop_sequence"]},
    "generated_tokens": {"type": "integer", "minimum": 0},
    "seed": {"type": ["integer", "null"]},
    "prefill": {"type": "array"},
    "tokens": {"type": "array", "items": TOKEN},
    "top_tokens": {"type": "array", "items": {"type": "array", "items": TOKEN}},
}
USAGE = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {k: {"type": "integer", "minimum": 0} for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
    "additionalProperties": False,
}
OPENAI_HEAD = {
    "id": {"type": "string"},
    "created": {"type": "integer"},
    "model": {"type": "string"},
    "system_fingerprint": {"type": "string"},
}
# lib.rs GenerateResponse, wrapped in a list by server.rs compat_generate
GENERATE_RESPONSE = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": {
        "type": "object",
        "required": ["generated_text"],
        "additionalProperties": False,
        "properties": {
            "generated_text": {"type": "string"},
            "details": {
                "type": "object",
                "required": ["finish_reason", "generated_tokens", "seed", "prefill", "tokens"],
                "additionalProperties": False,
                "properties": {
                    **DETAILS_CORE,
                    "best_of_sequences": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["generated_text", "finish_reason", "generated_tokens", "seed", "prefill", "tokens"],
                            "properties": {"generated_text": {"type": "string"}, **DETAILS_CORE},
                        },
                    },
                },
            },
        },
    },
}


def _openai_answer(object_: str, choice: dict[str, Any], **choices: int) -> dict[str, Any]:
    """lib.rs's OpenAI-style answers: `object`, the head and `usage`, and `choices`, each of them with every property
    of `choice` and no other."""
    item = {"type": "object", "additionalProperties": False, "required": list(choice), "properties": choice}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["object", "id", "created", "model", "system_fingerprint", "choices", "usage"],
        "properties": {
            "object": {"const": object_},
            **OPENAI_HEAD,
            "usage": USAGE,
            "choices": {"type": "array", "minItems": 1, **choices, "items": item},
        },
    }


FINISH_REASON = {"enum": ["stop", "length", "stop_sequence"]}
# lib.rs ChatCompletion in CompletionType (tag "object")
CHAT_COMPLETION = _openai_answer(
    "chat.completion",
    {
        "index": {"const": 0},
        "message": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["role", "content"],
                    "additionalProperties": False,
                    "properties": {"role": {"const": "assistant"}, "content": {"type": "string"}},
                },
                {
                    "type": "object",
                    "required": ["role", "tool_calls"],
                    "additionalProperties": False,
                    "properties": {
                        "role": {"const": "assistant"},
                        "tool_calls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "type", "function"],
                                "properties": {
                                    "function": {
                                        "type": "object",
                                        "required": ["description", "name", "arguments"],
                                        "properties": {"arguments": {"type": "string"}},
                                    }
                                },
                            },
                        },
                    },
                },
            ]
        },
        "logprobs": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["content"]}]},
        "finish_reason": FINISH_REASON,
    },
    maxItems=1,
)
# lib.rs CompletionFinal in Completion (tag "object")
COMPLETION_FINAL = _openai_answer(
    "text_completion",
    {"index": {"type": "integer"}, "text": {"type": "string"}, "logprobs": {"type": "null"}, "finish_reason": FINISH_REASON},
)
SHAPES = {"CompatGenerateRequest": GENERATE_RESPONSE, "ChatRequest": CHAT_COMPLETION, "CompletionRequest": COMPLETION_FINAL}


def _kind(request: Any) -> str:
    return next(kind for kind in KINDS if Draft202012Validator(schema_of(kind)).is_valid(request))


@pytest.mark.parametrize(
    ("name", "request_"),
    [(n, r) for n, r in ACCEPTED if not (isinstance(r, dict) and r.get("stream"))],
    ids=[n for n, r in ACCEPTED if not (isinstance(r, dict) and r.get("stream"))],
)
def test_answer_shape_per_kind(tgi: TgiStandIn, name: str, request_: Any) -> None:
    answer = tgi.respond(request_body(request_))
    assert answer.content_type == "application/json"
    Draft202012Validator(SHAPES[_kind(request_)]).validate(json.loads(answer.body))


def test_generate_echoes_the_prompt_unless_asked_not_to(tgi: TgiStandIn) -> None:
    # server.rs: compat_generate sets an absent return_full_text to compat_return_full_text, true for a model without
    # a pipeline tag (a local /opt/ml/model) or tagged "text-generation" on the Hub.
    assert json.loads(tgi.invoke(request_body({"inputs": PROMPT}))[1]) == [{"generated_text": PROMPT + "Blue."}]
    off = {"inputs": PROMPT, "parameters": {"return_full_text": False}}
    assert json.loads(tgi.invoke(request_body(off))[1]) == [{"generated_text": "Blue."}]
    other = TgiStandIn(max_input_tokens=MAX_INPUT, max_total_tokens=MAX_TOTAL, default_return_full_text=False)
    assert json.loads(other.invoke(request_body({"inputs": PROMPT}))[1]) == [{"generated_text": "Blue."}]
    # chat and completions never echo it
    chat = json.loads(tgi.invoke(request_body({"messages": USER}))[1])
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": "Blue."}
    assert json.loads(tgi.invoke(request_body({"prompt": PROMPT}))[1])["choices"][0]["text"] == "Blue."


def test_generate_details_and_finish_reasons() -> None:
    tgi = TgiStandIn(max_input_tokens=MAX_INPUT, max_total_tokens=MAX_TOTAL, answer="The sky is blue. Really.")

    def details(**parameters: Any) -> dict[str, Any]:
        body = {"inputs": PROMPT, "parameters": {"details": True, "return_full_text": False, **parameters}}
        return json.loads(tgi.invoke(request_body(body))[1])[0]

    done = details()
    assert done["generated_text"] == "The sky is blue. Really."
    assert done["details"]["finish_reason"] == "eos_token"
    assert done["details"]["generated_tokens"] == 6  # 5 words and the end-of-sequence token
    assert done["details"]["tokens"][-1]["special"] is True
    assert done["details"]["seed"] is None  # no sampling: flash_causal_lm.py `seed if do_sample else None`
    short = details(max_new_tokens=2)
    assert (short["generated_text"], short["details"]["finish_reason"]) == ("The sky", "length")
    # tokens.py StoppingCriteria: the length check comes before the EOS check
    exact = details(max_new_tokens=6)
    assert (exact["generated_text"], exact["details"]["finish_reason"]) == ("The sky is blue. Really.", "length")
    stop = details(stop=["blue."])
    assert (stop["generated_text"], stop["details"]["finish_reason"]) == ("The sky is blue.", "stop_sequence")
    sampled = details(do_sample=True, seed=42, top_n_tokens=2)
    assert sampled["details"]["seed"] == 42
    assert [len(top) for top in sampled["details"]["top_tokens"]] == [2] * 6
    assert "details" not in json.loads(tgi.invoke(request_body({"inputs": PROMPT}))[1])[0]  # details default false


def test_absent_parameters_mean_sampling(tgi: TgiStandIn) -> None:
    # lib.rs default_parameters(): do_sample true when `parameters` is absent, false when it is given.
    assert tgi.invoke(request_body({"inputs": PROMPT, "parameters": {"best_of": 2}}))[0] == 422
    assert json.loads(tgi.invoke(request_body(["x", {"details": True}]))[1])[0]["details"]["seed"] is None


def test_best_of_sequences(tgi: TgiStandIn) -> None:
    body = {"inputs": PROMPT, "parameters": {"best_of": 2, "do_sample": True, "details": True}}
    details = json.loads(tgi.invoke(request_body(body))[1])[0]["details"]
    assert len(details["best_of_sequences"]) == 1
    assert details["best_of_sequences"][0]["generated_text"] == PROMPT + "Blue."


def test_chat_answer_usage_and_logprobs(tgi: TgiStandIn) -> None:
    answer = json.loads(tgi.invoke(request_body({"messages": USER, "model": "my-model", "logprobs": True, "top_logprobs": 2}))[1])
    assert answer["model"] == "my-model"  # server.rs: a request's model other than "tgi" is echoed
    assert answer["id"] == ""
    assert answer["choices"][0]["finish_reason"] == "stop"  # eos_token, FinishReason::format(true)
    # "<|im_start|>user\nWhat colour is the sky?<|im_end|>\n<|im_start|>assistant\n" is 7 words
    assert answer["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    content = answer["choices"][0]["logprobs"]["content"]
    assert [entry["token"] for entry in content] == ["Blue.", "<|im_end|>"]
    assert all(len(entry["top_logprobs"]) == 2 for entry in content)
    default = json.loads(tgi.invoke(request_body({"messages": USER}))[1])
    assert default["model"] == "/opt/ml/model"
    assert default["choices"][0]["logprobs"] is None


def test_chat_response_format_answers_json_of_the_schema(tgi: TgiStandIn) -> None:
    for response_format in (
        {"type": "json_schema", "value": {"name": "c", "schema": COLOUR_SCHEMA}},
        {"type": "json", "value": COLOUR_SCHEMA},
        {"type": "json", "value": {"type": "object", "properties": {}}},
    ):
        answer = json.loads(tgi.invoke(request_body({"messages": USER, "response_format": response_format}))[1])
        document = json.loads(answer["choices"][0]["message"]["content"])
        schema = response_format["value"].get("schema", response_format["value"])
        Draft202012Validator(schema).validate(document)
    answer = json.loads(
        tgi.invoke(request_body({"messages": USER, "response_format": {"type": "json", "value": COLOUR_SCHEMA}}))[1]
    )
    assert json.loads(answer["choices"][0]["message"]["content"]) == {"colour": "Blue."}


def test_chat_tools(tgi: TgiStandIn) -> None:
    required = json.loads(tgi.invoke(request_body({"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "required"}))[1])
    message = required["choices"][0]["message"]
    assert message["tool_calls"] == [
        {
            "id": "0",
            "type": "function",
            "function": {"description": None, "name": "get_weather", "arguments": json.dumps({"city": "Blue."})},
        }
    ]
    # "auto": the stand-in's model picks no_tool, and TGI generates again without the tools
    auto = json.loads(tgi.invoke(request_body({"messages": USER, "tools": [WEATHER_TOOL]}))[1])
    assert auto["choices"][0]["message"] == {"role": "assistant", "content": "Blue."}
    # the tools and the tool prompt are appended to the last message, so they count as input tokens
    small = TgiStandIn(max_input_tokens=32, max_total_tokens=64)
    assert small.invoke(request_body({"messages": USER, "tool_choice": "required"}))[0] == 200
    status, body = small.invoke(request_body({"messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "required"}))
    assert status == 422
    assert "`inputs` must have less than 32 tokens" in json.loads(body)["error"]


def test_completion_answers(tgi: TgiStandIn) -> None:
    answer = json.loads(tgi.invoke(request_body({"prompt": ["one two", "three"], "max_tokens": 1}))[1])
    assert [(c["index"], c["text"], c["finish_reason"]) for c in answer["choices"]] == [
        (0, "Blue.", "length"),
        (1, "Blue.", "length"),
    ]
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert answer["model"] == "/opt/ml/model"


def test_stream_answers(tgi: TgiStandIn) -> None:
    generate = sse_events(tgi.invoke(request_body({"inputs": PROMPT, "stream": True, "parameters": {"details": True}}))[1])
    assert [event["token"]["text"] for event in generate] == ["Blue.", "<|im_end|>"]
    assert generate[0]["generated_text"] is None and generate[0]["details"] is None
    assert generate[-1]["generated_text"] == PROMPT + "Blue."
    assert generate[-1]["details"]["finish_reason"] == "eos_token"
    chat = sse_events(tgi.invoke(request_body({"messages": USER, "stream": True, "stream_options": {"include_usage": True}}))[1])
    assert [c["choices"][0]["delta"]["content"] for c in chat[:2]] == ["Blue.", ""]
    assert [c["choices"][0]["finish_reason"] for c in chat[:2]] == [None, "stop"]
    assert chat[2]["choices"] == [] and chat[2]["usage"]["completion_tokens"] == 2
    assert chat[3] == "[DONE]"
    completion = sse_events(tgi.invoke(request_body({"prompt": PROMPT, "stream": True}))[1])
    assert [c["choices"][0]["finish_reason"] for c in completion[:2]] == ["", "eos_token"]  # not mapped to "stop"
    assert "usage" in completion[1] and completion[2] == "[DONE]"


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for kind in KINDS:
        Draft202012Validator.check_schema(schema_of(kind))


def test_the_stand_in_reads_nothing_of_the_lambda() -> None:
    from tests.tools import engine_stand_in

    source = open(engine_stand_in.__file__, encoding="utf-8").read()
    assert "inference_api" not in source and "llm_async" not in source


def test_limits_follow_the_launcher() -> None:
    with pytest.raises(ValueError, match="must be <"):
        TgiStandIn(max_input_tokens=64, max_total_tokens=64)


# ---- SageMaker's side -------------------------------------------------------------------------------------------------
@mock_aws
def test_complete_from_s3_writes_the_answer_or_the_error() -> None:
    s3, tgi = s3_side.payloads_bucket(), TgiStandIn(max_input_tokens=MAX_INPUT, max_total_tokens=MAX_TOTAL)
    s3_side.complete_through_s3(s3, complete_from_s3, tgi, {"inputs": PROMPT})
    output = s3_side.written_output(s3)
    assert json.loads(output["Body"].read()) == [{"generated_text": PROMPT + "Blue."}]
    assert output["ContentType"] == "application/json"
    assert tgi.requests == [{"inputs": PROMPT}]

    s3_side.complete_through_s3(s3, complete_from_s3, tgi, {"inputs": PROMPT, "parameters": {"top_p": 1}})
    failure = s3_side.written_failure(s3)
    assert failure == {"error": "Input validation error: `top_p` must be > 0.0 and < 1.0", "error_type": "validation"}
    assert s3.list_objects_v2(Bucket="payloads", Prefix="output/").get("KeyCount") == 0
