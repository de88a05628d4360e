"""Request validation: each rule's rejection names the field and the range; valid requests pass unchanged."""

from __future__ import annotations

import json

import pytest
from inference_api.request import Limits, RequestError, parse_generate_request

LIMITS = Limits(max_body_bytes=10_000, max_inputs_bytes=4_000, max_total_tokens=2048)
JSON = "application/json"


def _parse(body: object, content_type: str = JSON) -> dict:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return parse_generate_request(text, content_type, LIMITS)


def _error(body: object, content_type: str = JSON) -> RequestError:
    with pytest.raises(RequestError) as error:
        _parse(body, content_type)
    return error.value


def test_seed_notebook_request_passes_unchanged() -> None:
    request = {"inputs": "Hello, how are you?", "parameters": {"temperature": 0.8}}
    assert _parse(request) == request


def test_every_parameter_at_its_bounds() -> None:
    parameters = {
        "temperature": 1e-9,
        "top_p": 0.999,
        "top_k": 1,
        "typical_p": 0.001,
        "max_new_tokens": 2047,
        "repetition_penalty": 1.2,
        "stop": ["a", "b", "c", "d"],
        "seed": 0,
        "do_sample": True,
        "details": False,
        "return_full_text": False,
        "truncate": 1900,
        "watermark": False,
        "best_of": 1,
    }
    assert _parse({"inputs": "x", "parameters": parameters})["parameters"] == parameters


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("temperature", 0, "parameters.temperature: must be a number > 0 (got 0)"),
        ("temperature", "hot", 'parameters.temperature: must be a number > 0 (got "hot")'),
        ("top_p", 1, "parameters.top_p: must be a number with 0 < value < 1 (got 1)"),
        ("typical_p", 0, "parameters.typical_p: must be a number with 0 < value < 1 (got 0)"),
        ("top_k", 0, "parameters.top_k: must be an integer ≥ 1 (got 0)"),
        ("top_k", 2.5, "parameters.top_k: must be an integer ≥ 1 (got 2.5)"),
        ("max_new_tokens", 2048, "parameters.max_new_tokens: must be an integer 1–2047 (MAX_TOTAL_TOKENS − 1) (got 2048)"),
        ("max_new_tokens", True, "parameters.max_new_tokens: must be an integer 1–2047 (MAX_TOTAL_TOKENS − 1) (got true)"),
        ("repetition_penalty", -1, "parameters.repetition_penalty: must be a number > 0 (got -1)"),
        ("stop", ["a", ""], 'parameters.stop: must be a list of at most 4 non-empty strings (got ["a", ""])'),
        ("stop", ["1", "2", "3", "4", "5"], 'parameters.stop: must be a list of at most 4 non-empty strings (got ["1", "2", "3", "4", "5"])'),
        ("seed", -1, "parameters.seed: must be an integer 0–18446744073709551615 (TGI's u64) (got -1)"),
        ("do_sample", 1, "parameters.do_sample: must be true or false (got 1)"),
        ("truncate", 0, "parameters.truncate: must be true, false or an integer ≥ 1 (got 0)"),
        ("best_of", 0, "parameters.best_of: must be an integer 1–2 (TGI's MAX_BEST_OF) (got 0)"),
        ("best_of", 3, "parameters.best_of: must be an integer 1–2 (TGI's MAX_BEST_OF) (got 3)"),
        ("seed", 2**64, "parameters.seed: must be an integer 0–18446744073709551615 (TGI's u64) (got 18446744073709551616)"),
    ],
)
def test_parameter_rules(parameter: str, value: object, message: str) -> None:
    error = _error({"inputs": "x", "parameters": {parameter: value}})
    assert (error.status, error.code, error.message) == (400, "InvalidParameter", message)


def test_unknown_parameter_lists_the_allowed_ones() -> None:
    error = _error({"inputs": "x", "parameters": {"max_tokens": 5}})
    assert error.message.startswith("parameters.max_tokens: must be one of best_of, details, do_sample,")


def test_unknown_top_level_field() -> None:
    assert _error({"inputs": "x", "prompt": "y"}).message == (
        "body: must be an object with 'inputs' and optional 'parameters' only (got [\"prompt\"])"
    )


@pytest.mark.parametrize("inputs", ["", "   ", None, 5, ["x"]])
def test_inputs_must_be_a_non_empty_string(inputs: object) -> None:
    assert _error({"inputs": inputs}).message.startswith("inputs: must be a non-empty string")


def test_inputs_byte_limit() -> None:
    error = _error({"inputs": "é" * 2001})  # 4002 bytes in UTF-8
    assert (error.status, error.message) == (413, "inputs: must be at most 4000 bytes (got 4002)")


def test_body_byte_limit() -> None:
    error = _error("x" * 10_001)
    assert (error.status, error.code) == (413, "PayloadTooLarge")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type(content_type: str | None) -> None:
    error = _error({"inputs": "x"}, content_type=content_type)  # type: ignore[arg-type]
    assert (error.status, error.code) == (415, "UnsupportedMediaType")


def test_json_content_type_with_charset() -> None:
    assert _parse({"inputs": "x"}, "application/json; charset=utf-8") == {"inputs": "x"}


@pytest.mark.parametrize("body", ["{", "[1]", '"x"', '{"inputs": NaN}', '{"inputs": "x", "parameters": {"temperature": Infinity}}'])
def test_malformed_json(body: str) -> None:
    error = _error(body)
    assert (error.status, error.code) == (400, "MalformedJson")


def test_error_body_shape() -> None:
    assert _error({"inputs": ""}).body() == {
        "error": {"code": "InvalidParameter", "message": 'inputs: must be a non-empty string (got "")'}
    }
