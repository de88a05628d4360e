"""The envelope of `POST /invocations`: size, media type, JSON, the shape chosen by its key, the byte limits,
the error shape, `Limits`, and the handler's generate-only entry point. The shapes' fields: test_request_*.py."""

from __future__ import annotations

import dataclasses
import json

import pytest
from inference_api.request import container_payload

from tests.api.runtime.request_cases import LIMITS, USER, message, parse, refusal, refused

SHAPES = '"messages" (chat completions), "prompt" (completions) or "inputs" (generate)'


@pytest.mark.parametrize(
    ("body", "shape"),
    [({"messages": USER}, "chat"), ({"prompt": "x"}, "completions"), ({"inputs": "x"}, "generate")],
)
def test_the_shape_is_chosen_by_its_key(body: dict, shape: str) -> None:
    assert parse(body).shape == shape


@pytest.mark.parametrize(
    ("body", "which", "got"),
    [
        ({}, "one", "[]"),
        ({"text": "x", "parameters": {}}, "one", '["parameters", "text"]'),
        ({"inputs": "x", "prompt": "y"}, "only one", '["prompt", "inputs"]'),
        ({"messages": USER, "inputs": "x"}, "only one", '["messages", "inputs"]'),
    ],
)
def test_a_body_with_none_or_two_shape_keys(body: dict, which: str, got: str) -> None:
    # TGI's untagged enum would try generate, then chat, then completions; we refuse rather than guess (ours).
    assert message(body) == f"body: must be an object with {which} of {SHAPES} (got {got})"


def test_body_byte_limit() -> None:
    assert refused("x" * 10_001) == (413, "PayloadTooLarge", "body: must be at most 10000 bytes (got 10001)")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"inputs": "é" * 2001}, "inputs"),  # 4002 bytes in UTF-8
        ({"prompt": ["é" * 1000, "é" * 1001]}, "prompt"),  # every prompt counts
        (
            {
                "messages": [
                    {"role": "system", "content": "é" * 1000},
                    {"role": "user", "content": [{"type": "text", "text": "é" * 1001}]},
                ]
            },
            "messages[].content",
        ),
    ],
)
def test_prompt_byte_limit(body: dict, where: str) -> None:
    # Ours: no tokenizer in the Lambda; the container still refuses an input over MAX_INPUT_TOKENS.
    assert refused(body) == (413, "PayloadTooLarge", f"{where}: must be at most 4000 bytes (got 4002)")


def test_prompt_at_the_byte_limit() -> None:
    assert parse({"inputs": "é" * 2000}).body["inputs"] == "é" * 2000


def test_the_container_payload_limit_counts_the_forwarded_json() -> None:
    # TGI refuses a body over --payload-limit, 2,000,000 bytes (launcher/src/main.rs, router/src/server.rs): a body
    # just under the API's limit grows past it once the budget and return_full_text are added.
    limits = dataclasses.replace(LIMITS, max_body_bytes=2_000_000, max_inputs_bytes=2_000_000)
    expected = "body: must be at most 2000000 bytes as the container receives it (got 2000079)"
    assert refused({"inputs": "a" * 1_999_980}, limits=limits) == (413, "PayloadTooLarge", expected)


def test_non_ascii_text_is_forwarded_as_utf8_not_escapes() -> None:
    # As ASCII escapes, 400,000 × "é" (800,000 bytes sent) would forward 2.4 MB, over TGI's payload limit.
    limits = dataclasses.replace(LIMITS, max_body_bytes=2_000_000, max_inputs_bytes=2_000_000)
    forwarded = container_payload(parse({"inputs": "é" * 400_000}, limits=limits).body)
    assert len(forwarded) < 900_000 and "é".encode() * 10 in forwarded


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type(content_type: str | None) -> None:
    expected = f"Content-Type: must be application/json (got {content_type!r})"
    assert refused({"inputs": "x"}, content_type) == (415, "UnsupportedMediaType", expected)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_with_parameters_or_case(content_type: str) -> None:
    assert parse({"inputs": "x"}, content_type).shape == "generate"


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "{",
        "[1]",
        '"x"',
        "null",
        '{"inputs": NaN}',
        '{"inputs": "x", "parameters": {"temperature": Infinity}}',
        '{"inputs": "x", "parameters": {"top_k": -Infinity}}',
        b'{"inputs": "\xff"}',
    ],
)
def test_malformed_json(body: object) -> None:
    error = refusal(body)
    assert (error.status, error.code) == (400, "MalformedJson")
    assert error.message.startswith("body: must be a JSON object")


def test_a_number_beyond_float_range_is_refused() -> None:
    # Python reads 1e400 as infinity; serde_json refuses it ("number out of range").
    assert message('{"inputs": "x", "parameters": {"temperature": 1e400}}') == (
        "parameters.temperature: must be a number > 0 (got Infinity)"
    )


@pytest.mark.parametrize(
    ("body", "key"),
    [('{"inputs": "a", "inputs": "b"}', "inputs"), ('{"inputs": "a", "parameters": {"seed": 1, "seed": 2}}', "seed")],
)
def test_a_repeated_key_is_refused(body: str, key: str) -> None:
    # serde refuses a struct field given twice; Python would silently keep the last.
    assert refused(body) == (400, "MalformedJson", f'body: must be a JSON object (key "{key}" repeated)')


NESTING = "body: must be a JSON object nested at most 127 levels deep, TGI's JSON parser limit"


def _nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(("levels", "too_deep"), [(123, False), (124, True)])
def test_nesting_at_the_json_parser_limit(levels: int, too_deep: bool) -> None:
    # serde_json refuses a 128th nested array or object. Here: the body, parameters, grammar, value, then the
    # schema's properties with `levels` objects: 4 + levels.
    body = {"inputs": "x", "parameters": {"grammar": {"type": "json", "value": {"properties": _nested(levels)}}}}
    if too_deep:
        assert refused(body) == (400, "MalformedJson", f"{NESTING} (got 128)")
    else:
        assert parse(body).body["parameters"]["grammar"] == body["parameters"]["grammar"]


def test_absurd_nesting() -> None:
    body = '{"inputs": "x", "parameters": {"stop": ' + "[" * 4_000 + "]" * 4_000 + "}}"
    assert refused(body) == (400, "MalformedJson", NESTING)


@pytest.mark.parametrize(
    "body",
    [
        '{"inputs": "x\\ud800"}',
        '{"inputs": "x", "parameters": {"stop": ["\\udfff"]}}',
        '{"prompt": "\\ud800"}',
        '{"messages": [{"role": "user", "content": "\\udbff"}]}',
    ],
)
def test_unpaired_surrogates(body: str) -> None:
    # serde_json refuses a lone surrogate escape.
    assert refused(body) == (400, "MalformedJson", "body: must be valid Unicode (unpaired surrogate escape)")


def test_paired_surrogates_are_text() -> None:
    assert parse('{"inputs": "\\ud83d\\ude00"}').body["inputs"] == "😀"


def test_bytes_and_text_bodies_are_the_same() -> None:
    text = json.dumps({"inputs": "x"})
    assert parse(text).body == parse(text.encode()).body


def test_error_body_shape() -> None:
    assert refusal({"inputs": ""}).body() == {
        "error": {"code": "InvalidParameter", "message": 'inputs: must be a non-empty string (got "")'}
    }


@pytest.mark.parametrize(
    "change",
    [
        {"max_input_tokens": 2048},  # TGI's launcher refuses MAX_INPUT_TOKENS >= MAX_TOTAL_TOKENS
        {"max_new_tokens": 2048},  # at most MAX_TOTAL_TOKENS − 1
        {"default_max_new_tokens": 1025},  # the default within the ceiling
        {"max_body_bytes": 0},
        {"max_inputs_bytes": True},
    ],
)
def test_inconsistent_limits_are_refused(change: dict) -> None:
    with pytest.raises(ValueError, match="Limits"):
        dataclasses.replace(LIMITS, **change)
