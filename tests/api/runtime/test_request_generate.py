"""The generate shape, `{"inputs", "parameters"}`: TGI 3.3.6's CompatGenerateRequest and GenerateParameters
(router/src/lib.rs) as router/src/validation.rs checks them. Expectations from the source, not the code."""

from __future__ import annotations

import pytest

from tests.api.runtime.request_cases import message, parse
from tests.request_samples import GENERATE_OPTIONS

# What the container receives besides the caller's parameters: an explicit budget and return_full_text false.
FORWARDED = {"max_new_tokens": 256, "return_full_text": False}


def _forwarded(parameters: dict) -> dict:
    return parse({"inputs": "x", "parameters": parameters}).body["parameters"]


def test_the_seed_notebook_request_keeps_its_parameters() -> None:
    request = parse({"inputs": "Hello, how are you?", "parameters": {"temperature": 0.8}})
    assert (request.shape, request.body) == (
        "generate",
        {"inputs": "Hello, how are you?", "parameters": {"temperature": 0.8, **FORWARDED}},
    )


def test_without_parameters_tgi_samples_so_do_sample_is_forwarded() -> None:
    # default_parameters() has do_sample: true (lib.rs); an explicit `{}` reads do_sample false.
    assert parse({"inputs": "x"}).body == {"inputs": "x", "parameters": {"do_sample": True, **FORWARDED}}
    assert _forwarded({}) == FORWARDED


def test_return_full_text_true_is_kept() -> None:
    assert _forwarded({"return_full_text": True})["return_full_text"] is True


@pytest.mark.parametrize("value", [None, False])
def test_return_full_text_defaults_to_false(value: object) -> None:
    # compat_generate sets TGI's default (true for a text-generation model or one without a pipeline tag).
    assert _forwarded({"return_full_text": value})["return_full_text"] is False


@pytest.mark.parametrize(("given", "forwarded"), [(None, 256), (1, 1), (1024, 1024)])
def test_the_budget_is_always_explicit(given: object, forwarded: int) -> None:
    assert _forwarded({"max_new_tokens": given})["max_new_tokens"] == forwarded


ACCEPTED = {
    "temperature": [1e-9, 0.7, 100],
    "repetition_penalty": [1e-9, 1.2],
    "frequency_penalty": [-2, 0, 2, 1.5],  # validation.rs: -2.0..=2.0
    "top_k": [1, 50, 2**31 - 1],  # i32, > 0
    "top_p": [0.001, 0.95, 0.999],
    "typical_p": [0.001, 0.999],
    "do_sample": [True, False],
    "stop": [[], ["a", "b", "c", "d"], [" "]],
    "truncate": [1, 1024],  # <= MAX_INPUT_TOKENS
    "watermark": [True, False],
    "details": [True, False],
    "decoder_input_details": [True, False],
    "seed": [0, 42, 2**64 - 1],
    "top_n_tokens": [0, 5],  # <= MAX_TOP_N_TOKENS
    "best_of": [0, 1],  # best_of <= 1 never reaches validate_best_of (server.rs)
    "adapter_id": ["my-adapter"],
    "grammar": [
        {"type": "json", "value": {"properties": {"a": {"type": "string"}}}},
        {"type": "json_object", "value": {"properties": {}}},  # an alias of json
        {"type": "json", "value": '{"properties": {"a": {"type": "integer"}}}'},  # a string is parsed again
        {"type": "regex", "value": "[0-9]+"},
        {"type": "json_schema", "value": {"name": "p", "schema": {"properties": {}}, "strict": True}},
        {"type": "json_schema", "value": {"name": None, "schema": {"properties": {}}}},
    ],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, values in ACCEPTED.items() for v in values])
def test_accepted_parameters_are_forwarded_unchanged(name: str, value: object) -> None:
    assert _forwarded({name: value})[name] == value


@pytest.mark.parametrize("name", GENERATE_OPTIONS)
def test_a_null_option_is_dropped(name: str) -> None:
    # Option<…> fields: serde reads null as absent (so max_new_tokens and return_full_text get their defaults).
    assert _forwarded({name: None}) == FORWARDED


@pytest.mark.parametrize(
    "parameters",
    [
        {"best_of": 2, "do_sample": True},
        {"best_of": 2, "temperature": 0.5},  # a sampling parameter is sampling (validation.rs)
        {"best_of": 2, "top_k": 5},
        {"best_of": 2, "top_p": 0.9},
        {"best_of": 2, "typical_p": 0.9},
        {"best_of": 1, "seed": 3},
        {"best_of": 2, "do_sample": True, "seed": None},
    ],
)
def test_best_of_with_sampling(parameters: dict) -> None:
    assert _forwarded(parameters) == {**{k: v for k, v in parameters.items() if v is not None}, **FORWARDED}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"top_p": 0.99999999}, "parameters.top_p: must be a number with 0 < value < 1 (got 0.99999999)"),
        ({"temperature": 1e-50}, "parameters.temperature: must be a number > 0 (got 1e-50)"),
    ],
)
def test_floats_are_checked_as_the_f32_serde_reads(parameters: dict, expected: str) -> None:
    # serde rounds to an f32 before validation.rs compares: 0.99999999 is 1.0, 1e-50 is 0.0.
    assert message({"inputs": "x", "parameters": parameters}) == expected


def test_a_float_rounding_into_range_is_accepted() -> None:
    assert _forwarded({"frequency_penalty": 2.00000001})["frequency_penalty"] == 2.00000001  # 2.0 as an f32


def test_whitespace_inputs_are_accepted() -> None:
    assert parse({"inputs": "  \n"}).body["inputs"] == "  \n"  # only "" is EmptyInput


def test_stream_false_is_forwarded() -> None:
    assert parse({"inputs": "x", "stream": False}).body["stream"] is False


def _each(name: str, rule: str, *values: tuple[object, str]) -> list[tuple[dict, str]]:
    """One parameter refused, value by value: the message names it, says the rule and shows the value as sent."""
    return [({name: value}, f"parameters.{name}: {rule} (got {shown})") for value, shown in values]


POSITIVE = "must be a number > 0"
BETWEEN_0_AND_1 = "must be a number with 0 < value < 1"
BUDGET = "must be an integer 1–1024"
U64 = "must be an integer 0–18446744073709551615 (a u64)"
STOP = "must be a list of at most 4 non-empty strings"
SAMPLING = "must be at most 1 without sampling (do_sample, temperature, top_k, top_p or typical_p)"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # 1e39 is beyond an f32.
        *_each("temperature", POSITIVE, (0, "0"), (-1, "-1"), ("hot", '"hot"'), (True, "true"), (1e39, "1e+39")),
        *_each("top_p", BETWEEN_0_AND_1, (1, "1"), (0, "0"), (1.5, "1.5")),
        *_each("typical_p", BETWEEN_0_AND_1, (1, "1")),
        *_each("top_k", "must be an integer 1–2147483647", (0, "0"), (2.0, "2.0"), (2**31, "2147483648")),
        *_each("repetition_penalty", POSITIVE, (0, "0")),
        *_each("frequency_penalty", "must be a number with -2 ≤ value ≤ 2", (-2.5, "-2.5"), (2.1, "2.1")),
        *_each("max_new_tokens", BUDGET, (0, "0"), (1025, "1025"), (2048, "2048"), (True, "true"), (10.0, "10.0")),
        *_each("stop", STOP, (["a", ""], '["a", ""]'), (list("abcde"), '["a", "b", "c", "d", "e"]'), ("a", '"a"')),
        *_each("stop", STOP, (None, "null")),  # a Vec, not an Option
        *_each("seed", U64, (-1, "-1"), (2**64, "18446744073709551616")),
        *_each("do_sample", "must be true or false", (None, "null"), (1, "1")),  # a bool, not an Option
        *_each("details", "must be true or false", (None, "null")),
        *_each("watermark", "must be true or false", ("no", '"no"')),
        *_each("decoder_input_details", "must be true or false", (None, "null")),
        *_each("return_full_text", "must be true or false", ("no", '"no"')),
        *_each("truncate", "must be an integer 1–1024 (MAX_INPUT_TOKENS)", (0, "0"), (1025, "1025"), (True, "true")),
        ({"best_of": 3, "do_sample": True}, "parameters.best_of: must be an integer 0–2 (TGI's MAX_BEST_OF) (got 3)"),
        *_each("best_of", "must be an integer 0–2 (TGI's MAX_BEST_OF)", (-1, "-1")),
        *_each("best_of", SAMPLING, (2, "2")),
        ({"best_of": 2, "do_sample": False}, f"parameters.best_of: {SAMPLING} (got 2)"),
        ({"best_of": 2, "temperature": None}, f"parameters.best_of: {SAMPLING} (got 2)"),
        ({"best_of": 2, "do_sample": True, "seed": 7}, "parameters.seed: must be null or absent when best_of > 1 (got 7)"),
        *_each("top_n_tokens", "must be an integer 0–5 (TGI's MAX_TOP_N_TOKENS)", (6, "6")),
        *_each("adapter_id", "must be a string", (5, "5")),
        (
            {"grammar": {"type": "json", "value": {}}},
            "parameters.grammar.value: must be a JSON Schema object with 'properties' (got {})",
        ),
        (
            {"grammar": {"type": "json", "value": [1]}},
            "parameters.grammar.value: must be a JSON Schema object with 'properties' (got [1])",
        ),
        (
            {"grammar": {"type": "json", "value": "{"}},
            'parameters.grammar.value: must be a JSON Schema object, or a string holding one (got "{")',
        ),
        ({"grammar": {"type": "json"}}, "parameters.grammar.value: must be present"),
        ({"grammar": {"type": "regex", "value": 5}}, "parameters.grammar.value: must be a string (got 5)"),
        (
            {"grammar": {"type": "xml", "value": "a"}},
            'parameters.grammar.type: must be one of json, json_object, json_schema, regex (got "xml")',
        ),
        (
            {"grammar": {"type": "json_schema", "value": {"schema": {"type": "object"}}}},
            'parameters.grammar.value.schema: must be a JSON Schema object with \'properties\' (got {"type": "object"})',
        ),
        (
            {"grammar": {"type": "json_schema", "value": {"name": "x"}}},
            "parameters.grammar.value.schema: must be a JSON Schema object with 'properties'",
        ),
        *_each("grammar", "must be an object", ("json", '"json"')),
        ({"grammar": {"type": "regex", "value": "a", "x": 1}}, 'parameters.grammar.x: must be one of type, value (got "x")'),
    ],
)
def test_refused_parameters(parameters: dict, expected: str) -> None:
    assert message({"inputs": "x", "parameters": parameters}) == expected


def test_an_unknown_parameter_lists_the_known_ones() -> None:
    # serde would ignore it silently; refused (ours), e.g. an OpenAI name in a generate request.
    assert message({"inputs": "x", "parameters": {"max_tokens": 5}}) == (
        "parameters.max_tokens: must be one of adapter_id, best_of, decoder_input_details, details, do_sample, "
        "frequency_penalty, grammar, max_new_tokens, repetition_penalty, return_full_text, seed, stop, temperature, "
        'top_k, top_n_tokens, top_p, truncate, typical_p, watermark (got "max_tokens")'
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"inputs": ""}, 'inputs: must be a non-empty string (got "")'),
        ({"inputs": None}, "inputs: must be a non-empty string (got null)"),
        ({"inputs": 5}, "inputs: must be a non-empty string (got 5)"),
        ({"inputs": ["x"]}, 'inputs: must be a non-empty string (got ["x"])'),
        ({"inputs": "x", "parameters": None}, "parameters: must be an object (got null)"),  # a struct, not Option
        ({"inputs": "x", "parameters": []}, "parameters: must be an object (got [])"),
        ({"inputs": "x", "stream": None}, "stream: must be false or absent (got null)"),
        (
            {"inputs": "x", "stream": True},
            "stream: must be false or absent: an async endpoint cannot stream; poll GET /invocations/{id}",
        ),
        ({"inputs": "x", "options": {}}, 'options: must be one of inputs, parameters, stream (got "options")'),
    ],
)
def test_refused_bodies(body: dict, expected: str) -> None:
    assert message(body) == expected


def test_stream_is_not_a_parameter() -> None:
    # CompatGenerateRequest has `stream` beside `parameters`, not in it.
    assert message({"inputs": "x", "parameters": {"stream": False}}).startswith("parameters.stream: must be one of adapter_id,")
