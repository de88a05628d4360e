"""Line validation (docs/design/batch-jobs.md, "Line rules"): a file of valid lines becomes items in line order; every
kind of invalid line is named by its 1-based number and message, the body's with the very message POST /invocations
gives the same body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from batch_jobs import lines
from batch_jobs.lines import MAX_ERRORS, Item, Validation, validate_file
from batch_jobs.records import line_inference_id
from inference_api.request import parse_request

from tests.api.runtime.events import CHAT, COMPLETIONS, chat_line, completions_line, jsonl
from tests.api.runtime.conftest import api_event, call
from tests.api.runtime.request_cases import HANDLER_LIMITS

BATCH_ID = "batch_" + "0" * 32


def _validate(content: bytes | list[Any], *, endpoint: str = CHAT, engine: str = "tgi", max_lines: int = 100,
              max_bytes: int = 1_000_000, chunk: int = 1 << 20) -> tuple[Validation, list[Item]]:  # fmt: skip
    data = content if isinstance(content, bytes) else jsonl(content)
    accepted: list[Item] = []
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    result = validate_file(chunks, batch_id=BATCH_ID, endpoint=endpoint, limits=HANDLER_LIMITS, engine=engine,
                           max_lines=max_lines, max_bytes=max_bytes, accept=accepted.append)  # fmt: skip
    return result, accepted


def _errors(content: bytes | list[Any], **options: Any) -> list[dict[str, Any]]:
    result, _ = _validate(content, **options)
    return [error.as_dict() for error in result.errors]


def _only_error(content: bytes | list[Any], **options: Any) -> dict[str, Any]:
    (error,) = _errors(content, **options)
    return error


# Valid files ----------------------------------------------------------------------------------------------------------


def test_a_valid_chat_file_becomes_its_items_in_line_order() -> None:
    result, accepted = _validate([chat_line("a", "one"), chat_line("b", "two", temperature=0.5)])
    assert (result.valid, result.total) == (True, 2)
    assert [(item.line, item.custom_id, item.inference_id) for item in accepted] == [
        (1, "a", line_inference_id(BATCH_ID, 1)), (2, "b", line_inference_id(BATCH_ID, 2))
    ]  # fmt: skip


def test_an_items_payload_is_what_post_invocations_writes_for_the_body() -> None:
    line = chat_line("a", "Grüße", temperature=0.5)
    _, (item,) = _validate([line])
    assert item.payload == parse_request(json.dumps(line["body"]), "application/json", HANDLER_LIMITS).payload


def test_a_valid_completions_file_is_accepted() -> None:
    result, accepted = _validate([completions_line("a"), completions_line("b", max_tokens=5)], endpoint=COMPLETIONS)
    assert (result.valid, [item.custom_id for item in accepted]) == (True, ["a", "b"])


def test_crlf_line_ends_and_a_missing_final_newline_are_accepted() -> None:
    content = json.dumps(chat_line("a")).encode() + b"\r\n" + json.dumps(chat_line("b")).encode()
    result, accepted = _validate(content)
    assert (result.valid, [item.custom_id for item in accepted]) == (True, ["a", "b"])


def test_lines_split_across_read_chunks_are_read_whole() -> None:
    result, accepted = _validate([chat_line(f"id-{n}") for n in range(5)], chunk=7)
    assert (result.valid, len(accepted)) == (True, 5)


def test_the_engines_rules_apply() -> None:
    line = chat_line("a", top_k=5)  # vLLM takes top_k in chat; TGI's chat route has no such field
    assert _validate([line], engine="vllm")[0].valid
    assert _only_error([line], engine="tgi")["message"].startswith("top_k: must be one of ")


# Invalid lines ---------------------------------------------------------------------------------------------------------


def test_a_line_that_is_not_json_is_named_with_its_number() -> None:
    error = _only_error([chat_line("a"), b"{not json"])
    assert (error["line"], error["code"]) == (2, "invalid_json_line")
    assert error["message"].startswith("line: must be a JSON object (Expecting property name")


@pytest.mark.parametrize(("raw", "got"), [(b"[1, 2]", "list"), (b'"text"', "str"), (b"null", "NoneType")])
def test_a_line_that_is_not_an_object_is_refused(raw: bytes, got: str) -> None:
    assert _only_error([raw])["message"] == f"line: must be a JSON object (got {got})"


def test_an_empty_line_is_refused() -> None:
    error = _only_error([chat_line("a"), b"", chat_line("b")])
    assert (error["line"], error["message"]) == (2, "line: must be a JSON object (got an empty line)")


def test_a_key_given_twice_is_refused() -> None:
    raw = b'{"custom_id": "a", "custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {}}'
    assert _only_error([raw])["message"] == 'line: must be a JSON object (key "custom_id" repeated)'


def test_nan_is_refused() -> None:
    raw = json.dumps(chat_line("a", temperature=float("nan"))).encode()
    assert _only_error([raw])["message"] == "line: must be a JSON object (NaN is not JSON)"


def test_an_unknown_field_is_named_with_the_fields_a_line_has() -> None:
    error = _only_error([{**chat_line("a"), "model": "x"}])
    assert (error["code"], error["param"]) == ("unknown_parameter", "model")
    assert error["message"] == 'model: must be one of body, custom_id, method, url (got "model")'


@pytest.mark.parametrize("field", ["custom_id", "method", "url", "body"])
def test_a_missing_field_is_named(field: str) -> None:
    line = {name: value for name, value in chat_line("a").items() if name != field}
    error = _only_error([line])
    assert (error["code"], error["param"], error["message"]) == ("missing_required_parameter", field, f"{field}: is required")


@pytest.mark.parametrize(("custom_id", "got"), [("", '""'), (7, "7"), ("x" * 513, f'"{"x" * 76}...')])
def test_a_custom_id_must_be_a_string_of_1_to_512_characters(custom_id: Any, got: str) -> None:
    error = _only_error([chat_line(custom_id)])
    assert error["message"] == f"custom_id: must be a string of 1–512 characters (got {got})"


def test_a_custom_id_of_512_characters_is_accepted() -> None:
    assert _validate([chat_line("x" * 512)])[0].valid


def test_a_duplicate_custom_id_names_both_lines() -> None:
    error = _only_error([chat_line("a"), chat_line("b"), chat_line("a")])
    assert (error["line"], error["code"]) == (3, "duplicate_custom_id")
    assert error["message"] == 'custom_id: must be unique in the file (got "a", also on line 1)'


def test_a_method_other_than_post_is_refused() -> None:
    assert _only_error([{**chat_line("a"), "method": "GET"}])["message"] == 'method: must be POST (got "GET")'


def test_a_url_other_than_the_batchs_endpoint_is_refused() -> None:
    error = _only_error([chat_line("a", url=COMPLETIONS)])
    assert (error["code"], error["param"]) == ("invalid_url", "url")
    assert error["message"] == 'url: must be /v1/chat/completions, the batch\'s endpoint (got "/v1/completions")'


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert _only_error([{**chat_line("a"), "body": "hi"}])["message"] == "body: must be a JSON object (got str)"


def test_a_tgi_generate_body_is_refused_on_either_endpoint() -> None:
    line = {"custom_id": "a", "method": "POST", "url": CHAT, "body": {"inputs": "Hello"}}
    assert _only_error([line])["message"] == (
        'body: must be a chat completions request ("messages") for url /v1/chat/completions'
        ' (got a TGI generate request ("inputs"))'
    )
    assert _only_error([{**line, "url": COMPLETIONS}], endpoint=COMPLETIONS)["message"].startswith(
        'body: must be a completions request ("prompt") for url /v1/completions'
    )


def test_a_chat_body_on_the_completions_endpoint_is_refused() -> None:
    error = _only_error([chat_line("a", url=COMPLETIONS)], endpoint=COMPLETIONS)
    assert error["message"] == (
        'body: must be a completions request ("prompt") for url /v1/completions (got a chat completions request ("messages"))'
    )


# The same bodies sent to POST /invocations: its refusal's message is the line's.
BODIES = {
    "negative temperature": {"messages": [{"role": "user", "content": "hi"}], "temperature": -1},
    "two choices": {"messages": [{"role": "user", "content": "hi"}], "n": 2},
    "no messages": {"messages": []},
    "a budget over the maximum": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000},
    "a prompt over the byte limit": {"messages": [{"role": "user", "content": "x" * 16_001}]},
    "two shapes": {"messages": [{"role": "user", "content": "hi"}], "prompt": "hi"},
}


@pytest.mark.parametrize("case", BODIES)
def test_a_body_is_refused_with_the_message_post_invocations_gives(aws, case: str) -> None:
    body = BODIES[case]
    status, _, answer = call(api_event("POST", "/invocations", body))
    assert status in (400, 413)
    error = _only_error([{"custom_id": "a", "method": "POST", "url": CHAT, "body": body}])
    assert (error["code"], error["param"], error["message"]) == ("invalid_body", "body", answer["error"]["message"])


# The whole file ---------------------------------------------------------------------------------------------------------


def test_every_invalid_line_is_reported() -> None:
    errors = _errors([chat_line("a"), b"oops", chat_line("a"), {**chat_line("c"), "method": "PUT"}])
    assert [(error["line"], error["code"]) for error in errors] == [
        (2, "invalid_json_line"), (3, "duplicate_custom_id"), (4, "invalid_method")
    ]  # fmt: skip


def test_at_most_the_first_1000_errors_are_reported() -> None:
    errors = _errors([b"oops"] * (MAX_ERRORS + 5), max_lines=MAX_ERRORS + 5)
    assert len(errors) == MAX_ERRORS
    assert errors[-1]["line"] == MAX_ERRORS


def test_a_file_over_the_line_limit_is_refused_at_the_first_line_too_many() -> None:
    error = _only_error([chat_line(f"id-{n}") for n in range(4)], max_lines=3)
    assert (error["line"], error["code"]) == (4, "too_many_lines")
    assert error["message"] == "file: must have at most 3 lines (line 4 is one too many)"


def test_a_file_at_the_line_limit_is_accepted() -> None:
    assert _validate([chat_line(f"id-{n}") for n in range(3)], max_lines=3)[0].valid


def test_a_file_over_the_byte_limit_is_refused() -> None:
    content = jsonl([chat_line(f"id-{n}") for n in range(10)])
    errors = _errors(content, max_bytes=len(content) - 1, chunk=100)
    assert errors[-1] == {"code": "file_too_large", "message": f"file: must be at most {len(content) - 1} bytes",
                          "param": None, "line": None}  # fmt: skip


def test_a_file_at_the_byte_limit_is_accepted() -> None:
    content = jsonl([chat_line(f"id-{n}") for n in range(10)])
    assert _validate(content, max_bytes=len(content), chunk=100)[0].valid


def test_an_empty_file_is_refused() -> None:
    assert _only_error(b"") == {"code": "empty_file", "message": "file: must have at least one line", "param": None, "line": None}


def test_an_unknown_endpoint_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="endpoint must be one of"):
        _validate([chat_line("a")], endpoint="/v1/embeddings")


def test_the_line_fields_are_openais_request_input() -> None:
    assert lines.LINE_FIELDS == ("body", "custom_id", "method", "url")
