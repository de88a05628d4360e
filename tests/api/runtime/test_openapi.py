"""The API's OpenAPI documents (docs/openapi/<engine>.json, llm_async_tools/openapi.py) against the Lambda: each is a fresh
generation; it names every field the parser takes; what the parser accepts it accepts, and what it refuses for its type
the parser refuses too; the handler's answers are ones it declares. The routes: tests/api/test_openapi_routes.py."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.stub import Stubber
from inference_api import gateway, handler
from inference_api.request import SHAPES, RequestError, parse_request, shape_rules
from jsonschema import Draft202012Validator

from llm_async_tools import openapi
from tests.api.runtime import test_request_chat as tgi_chat
from tests.api.runtime import test_request_completions as tgi_completions
from tests.api.runtime import test_request_fuzz as fuzz
from tests.api.runtime import test_request_generate as tgi_generate
from tests.api.runtime import test_request_vllm_chat as vllm_chat
from tests.api.runtime import test_request_vllm_completions as vllm_completions
from tests.api.runtime import test_request_vllm_generate as vllm_generate
from tests.api.runtime.conftest import api_event, call
from tests.api.runtime.request_cases import USER
from tests.conftest import ROOT

ENGINES = openapi.ENGINES
MODELS = {"chat": "ChatRequest", "completions": "CompletionsRequest", "generate": "GenerateRequest"}
# The smallest body of each shape, to which a test adds the field it is about (generate's go into its parameters).
MINIMAL = {"chat": {"messages": USER}, "completions": {"prompt": "Once upon a time"}, "generate": {"inputs": "Hello"}}


@cache
def _document(engine: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi" / f"{engine}.json").read_text(encoding="utf-8"))


@cache
def _limits(engine: str) -> Any:
    return openapi.default_limits(engine)[0]


def _schemas(engine: str) -> dict[str, Any]:
    return _document(engine)["components"]["schemas"]


@cache
def _validator(engine: str, path: str, method: str, status: str | None = None) -> Draft202012Validator:
    """The document's request body schema of an operation, or of its answer with `status`, refs resolved in the document."""
    operation = _document(engine)["paths"][path][method]
    content = operation["requestBody"] if status is None else operation["responses"][status]
    schema = content["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": _document(engine)["components"]})


def _body_validator(engine: str) -> Draft202012Validator:
    return _validator(engine, "/invocations", "post")


def _parse(engine: str, body: dict[str, Any]) -> Any:
    return parse_request(json.dumps(body), "application/json", _limits(engine), engine=engine)


def _in_parameters(shape: str, field: str) -> bool:
    return shape == "generate" and field not in ("inputs", "parameters", "stream")


def _with(shape: str, field: str, value: Any) -> dict[str, Any]:
    """The smallest body of `shape` with `field` (a generate parameter in its parameters)."""
    if _in_parameters(shape, field):
        return {**MINIMAL[shape], "parameters": {field: value}}
    return {**MINIMAL[shape], field: value}


# The document ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_the_checked_in_document_is_a_fresh_generation(engine: str) -> None:
    # Regenerate with `python -m llm_async_tools.openapi --engine <engine> -o docs/openapi/<engine>.json`.
    assert openapi.render(openapi.document(engine)) == (ROOT / "docs" / "openapi" / f"{engine}.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_schema_is_valid_json_schema(engine: str) -> None:
    for schema in _schemas(engine).values():
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(("engine", "shape"), [(engine, shape) for engine in ENGINES for shape in MODELS])
def test_every_rule_of_the_shape_is_a_property_described_by_what_it_allows(engine: str, shape: str) -> None:
    rules = shape_rules(engine, _limits(engine))[shape]
    model = _schemas(engine)[MODELS[shape]]
    properties = model["properties"]
    assert list(properties) == list(rules.fields)
    assert {name: p["description"] for name, p in properties.items()} == {name: c.allowed for name, c in rules.fields.items()}
    assert (model["required"], model["additionalProperties"]) == (list(rules.required), False)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_generate_parameter_is_a_property_described_by_what_it_allows(engine: str) -> None:
    rules = shape_rules(engine, _limits(engine))["generate"]
    parameters = _schemas(engine)["GenerateParameters"]
    assert {name: p["description"] for name, p in parameters["properties"].items()} == {
        name: c.allowed for name, c in rules.parameters.items()
    }
    assert ("required" not in parameters, parameters["additionalProperties"]) == (True, False)
    assert _schemas(engine)["GenerateRequest"]["properties"]["parameters"]["$ref"] == "#/components/schemas/GenerateParameters"


@pytest.mark.parametrize(("engine", "shape"), [(engine, shape) for engine in ENGINES for shape in MODELS])
def test_the_parser_takes_exactly_the_documented_fields(engine: str, shape: str) -> None:
    # The parser's own refusal of an unknown field lists the fields it takes: the document's, whatever feeds both.
    documented = sorted(_schemas(engine)[MODELS[shape]]["properties"])
    with pytest.raises(RequestError) as refused:
        _parse(engine, {**MINIMAL[shape], "unknown": 1})
    assert refused.value.message == f"unknown: must be one of {', '.join(documented)} (got \"unknown\")"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_parser_takes_exactly_the_documented_generate_parameters(engine: str) -> None:
    documented = sorted(_schemas(engine)["GenerateParameters"]["properties"])
    with pytest.raises(RequestError) as refused:
        _parse(engine, {"inputs": "x", "parameters": {"unknown": 1}})
    assert refused.value.message == f"parameters.unknown: must be one of {', '.join(documented)} (got \"unknown\")"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_token_budget_is_the_default_configurations(engine: str) -> None:
    limits = _limits(engine)
    budget = "max_completion_tokens" if engine == "vllm" else "max_tokens"
    (schema, null) = _schemas(engine)["ChatRequest"]["properties"][budget]["anyOf"]
    assert (schema, null) == ({"maximum": limits.max_new_tokens, "minimum": 1, "type": "integer"}, {"type": "null"})


def test_integer_bounds_are_exact() -> None:
    # A u64's maximum is no float: 2^64 − 1, not 1.8446744073709552e+19.
    seed = _schemas("tgi")["GenerateParameters"]["properties"]["seed"]["anyOf"][0]
    assert seed == {"maximum": 2**64 - 1, "minimum": 0, "type": "integer"}


def test_the_idempotency_header_is_the_handlers() -> None:
    (header,) = _document("tgi")["paths"]["/invocations"]["post"]["parameters"]
    assert (header["in"], header["name"].lower()) == ("header", gateway.IDEMPOTENCY_HEADER.lower())


# Requests ------------------------------------------------------------------------------------------------------------


def _cases(shape: str, *tables: dict[str, list[Any]]) -> list[tuple[str, str, Any]]:
    return [(shape, field, value) for table in tables for field, values in table.items() for value in values]


# The accepted values of the request tests (each shape's ACCEPTED table, and the values both TGI and our rules accept
# in the property tests), one field at a time on the smallest body; and accepted conversations.
ACCEPTED = {
    "tgi": [
        *_cases("chat", tgi_chat.ACCEPTED, fuzz.VALID["chat"]),
        *_cases("completions", tgi_completions.ACCEPTED, fuzz.VALID["completions"]),
        *_cases("generate", tgi_generate.ACCEPTED, fuzz.VALID["generate"]),
    ],
    "vllm": [
        *_cases("chat", vllm_chat.ACCEPTED),
        *_cases("completions", vllm_completions.ACCEPTED),
        *[("generate", field, value) for parameters, _ in vllm_generate.TRANSLATED for field, value in parameters.items()],
    ],
}
MESSAGES = [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "Ann"}],
    [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]}],
    [{"role": "user", "content": "Weather?"},
     {"role": "assistant", "content": None,
      "tool_calls": [{"id": "0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
     {"role": "tool", "content": "Sunny", "tool_call_id": "0"}],
    [*USER, {"role": "assistant", "content": "Hi!", "refusal": None, "annotations": [], "audio": None}, *USER],
]  # fmt: skip


@pytest.mark.parametrize(
    ("engine", "shape", "field", "value"),
    [(engine, *case) for engine, cases in ACCEPTED.items() for case in cases]
    + [(engine, "chat", "messages", messages) for engine in ENGINES for messages in MESSAGES],
)
def test_a_request_the_lambda_accepts_the_document_accepts(engine: str, shape: str, field: str, value: Any) -> None:
    body = _with(shape, field, value)
    _parse(engine, body)  # accepted with the document's limits, or this raises
    assert list(_body_validator(engine).iter_errors(body)) == []


@pytest.mark.parametrize(("engine", "shape"), [(engine, shape) for engine in ENGINES for shape in MODELS])
def test_an_unknown_field_is_refused_by_the_document_as_by_the_lambda(engine: str, shape: str) -> None:
    body = {**MINIMAL[shape], "temprature": 0.5}
    with pytest.raises(RequestError):
        _parse(engine, body)
    assert not _body_validator(engine).is_valid(body)


def test_an_unknown_generate_parameter_is_refused_by_the_document_as_by_the_lambda() -> None:
    body = {"inputs": "x", "parameters": {"max_tokens": 5}}
    with pytest.raises(RequestError):
        _parse("tgi", body)
    assert not _body_validator("tgi").is_valid(body)


@pytest.mark.parametrize(("engine", "shape"), [(engine, shape) for engine in ENGINES for shape in MODELS])
def test_a_body_without_its_shape_key_is_refused_by_the_document(engine: str, shape: str) -> None:
    key = next(key for key, name in SHAPES.items() if name == shape)
    assert not _body_validator(engine).is_valid({name: value for name, value in MINIMAL[shape].items() if name != key})


# Values of every JSON type: for each typed field, those its schema refuses are the wrong types (and ranges) for it.
PROBES = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"x": 1}]


def _typed_fields() -> list[tuple[str, str, str]]:
    typed = []
    for engine in ENGINES:
        for shape, rules in shape_rules(engine, _limits(engine)).items():
            checks = {**rules.fields, **rules.parameters}
            typed += [(engine, shape, field) for field, check in checks.items() if check.schema is not None]
    return typed


@pytest.mark.parametrize(("engine", "shape", "field"), _typed_fields())
def test_a_value_the_document_refuses_for_a_field_the_lambda_refuses_naming_it(engine: str, shape: str, field: str) -> None:
    refused = [value for value in PROBES if not _body_validator(engine).is_valid(_with(shape, field, value))]
    assert refused, "the schema refuses some JSON type"
    named = re.escape(f"parameters.{field}" if _in_parameters(shape, field) else field)
    for value in refused:
        with pytest.raises(RequestError) as error:
            _parse(engine, _with(shape, field, value))
        assert error.value.status == 400 and re.match(rf"{named}[:.\[]", error.value.message), (value, error.value)


# Answers ---------------------------------------------------------------------------------------------------------------

PROMPT = {"inputs": "What are cookies?"}


def _submitted() -> dict[str, Any]:
    return call(api_event("POST", "/invocations", PROMPT))[2]


def _put(location: str, body: bytes, aws: dict[str, Any]) -> None:
    parsed = urlparse(location)
    aws["s3"].put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=body)


def _clear(accepted: dict[str, Any], aws: dict[str, Any]) -> None:
    """moto answers at once: remove its result to see the inference still in progress."""
    for location in (accepted["outputLocation"], accepted["failureLocation"]):
        parsed = urlparse(location)
        aws["s3"].delete_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))


def _status(aws: dict[str, Any], result: bytes | None = None, failure: bytes | None = None) -> tuple[int, dict, Any]:
    accepted = _submitted()
    _clear(accepted, aws)
    if result is not None:
        _put(accepted["outputLocation"], result, aws)
    if failure is not None:
        _put(accepted["failureLocation"], failure, aws)
    return call(api_event("GET", f"/invocations/{accepted['inferenceId']}"))


def _unavailable(aws: dict[str, Any]) -> tuple[int, dict, Any]:
    with Stubber(handler._inferences()._runtime) as stub:
        stub.add_client_error("invoke_endpoint_async", service_error_code="ServiceUnavailable", http_status_code=503)
        return call(api_event("POST", "/invocations", PROMPT))


def _reused_key(aws: dict[str, Any]) -> tuple[int, dict, Any]:
    key = {gateway.IDEMPOTENCY_HEADER: "order-1"}
    call(api_event("POST", "/invocations", PROMPT, key))
    return call(api_event("POST", "/invocations", {"inputs": "another"}, key))


POST, GET = ("/invocations", "post"), ("/invocations/{inferenceId}", "get")
ANSWERS = {
    "accepted": (POST, lambda aws: call(api_event("POST", "/invocations", PROMPT))),
    "in progress": (GET, lambda aws: _status(aws)),
    "completed": (GET, lambda aws: _status(aws, result=b'[{"generated_text": "Small files."}]')),
    "completed, not JSON": (GET, lambda aws: _status(aws, result=b"plain text")),
    "failed": (GET, lambda aws: _status(aws, failure=b"CUDA out of memory")),
    "invalid parameter": (POST, lambda aws: call(api_event("POST", "/invocations", {"inputs": ""}))),
    "malformed JSON": (POST, lambda aws: call(api_event("POST", "/invocations", "{"))),
    "invalid header": (POST, lambda aws: call(api_event("POST", "/invocations", PROMPT, {gateway.IDEMPOTENCY_HEADER: "a b"}))),
    "unknown id": (GET, lambda aws: call(api_event("GET", f"/invocations/{'0' * 32}"))),
    "too large": (POST, lambda aws: call(api_event("POST", "/invocations", {"inputs": "x" * 20_001}))),
    "not JSON": (POST, lambda aws: call(api_event("POST", "/invocations", PROMPT, {"Content-Type": "text/plain"}))),
    "key reused": (POST, _reused_key),
    "unavailable": (POST, _unavailable),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_handlers_answer_is_one_the_document_declares(aws: dict[str, Any], answer: str) -> None:
    (path, method), act = ANSWERS[answer]
    status, headers, body = act(aws)
    declared = _document("tgi")["paths"][path][method]["responses"]
    assert str(status) in declared
    assert list(_validator("tgi", path, method, str(status)).iter_errors(body)) == []
    assert {name.lower() for name in declared[str(status)].get("headers", {})} <= set(headers)
