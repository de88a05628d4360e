"""Validate: every line checked before anything is invoked; a valid file's items and bodies written and the batch
in_progress; an invalid one's batch failed with its errors and nothing written or invoked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from batch_jobs import records, steps
from inference_api.request import parse_request

from tests.api.runtime.batch.conftest import FakeContext, batch_event, call, create_batch, items, keys, read_json, upload, with_environment
from tests.api.runtime.events import COMPLETIONS, chat_line, completions_line, jsonl  # fmt: skip
from tests.api.runtime.conftest import BUCKET
from tests.api.runtime.request_cases import HANDLER_LIMITS


def _validate(batch_id: str) -> dict[str, Any]:
    return steps.validate({"batch_id": batch_id}, FakeContext())


@pytest.fixture
def no_invocation(batch_aws) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    # Replaced on the instance, as the inference tests do: the aws fixture removes such overrides after the test.
    steps._runtime().invoke_endpoint_async = lambda **kwargs: calls.append(kwargs)
    return calls


def test_a_valid_file_answers_valid_with_its_total_items_and_deadline(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a"), chat_line("b")])
    assert _validate(batch["id"]) == {"batch_id": batch["id"], "valid": True, "total": 2,
                                      "items_key": f"batches/{batch['id']}/items.jsonl", "deadline": batch["expires_at"]}  # fmt: skip


def test_a_valid_file_puts_the_batch_in_progress_with_its_total(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a"), chat_line("b")])
    _validate(batch["id"])
    record = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")
    assert (record["status"], record["request_counts"]) == ("in_progress", {"total": 2, "completed": 0, "failed": 0})
    assert record["in_progress_at"] >= record["created_at"]


def test_each_item_names_its_line_and_the_byte_range_of_its_body(batch_aws) -> None:
    lines = [chat_line("a", "Grüße"), chat_line("b", temperature=0.5)]
    batch = create_batch(batch_aws["s3"], lines)
    _validate(batch["id"])
    bodies = batch_aws["s3"].get_object(Bucket=BUCKET, Key=f"batches/{batch['id']}/bodies.jsonl")["Body"].read()
    found = items(batch_aws["s3"], batch["id"])
    assert [(item["line"], item["custom_id"], item["inference_id"]) for item in found] == [
        (1, "a", records.line_inference_id(batch["id"], 1)), (2, "b", records.line_inference_id(batch["id"], 2))
    ]  # fmt: skip
    for item, line in zip(found, lines, strict=True):
        expected = parse_request(json.dumps(line["body"]), "application/json", HANDLER_LIMITS).payload
        assert bodies[item["offset"] : item["offset"] + item["length"]] == expected


def test_a_completions_batch_is_validated_against_its_endpoint(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [completions_line("a")], endpoint=COMPLETIONS)
    assert _validate(batch["id"])["valid"] is True


def test_an_invalid_file_fails_the_batch_with_each_lines_error(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a"), chat_line("a"), chat_line("c", url=COMPLETIONS)])
    output = _validate(batch["id"])
    assert (output["valid"], output["total"]) == (False, 0)
    record = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")
    assert (record["status"], record["errors"]["object"]) == ("failed", "list")
    assert [(error["line"], error["code"], error["param"]) for error in record["errors"]["data"]] == [
        (2, "duplicate_custom_id", "custom_id"), (3, "invalid_url", "url")
    ]  # fmt: skip
    assert record["failed_at"] is not None


def test_an_invalid_file_writes_no_item_and_invokes_nothing(batch_aws, no_invocation) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a"), b"oops"])
    _validate(batch["id"])
    assert keys(batch_aws["s3"], f"batches/{batch['id']}/") == [f"batches/{batch['id']}/batch.json"]
    assert keys(batch_aws["s3"], "input/") == [] and no_invocation == []


def test_the_api_answers_the_errors_of_a_failed_batch(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [b"oops"])
    _validate(batch["id"])
    _, _, body = call(batch_event("GET", f"/batches/{batch['id']}"))
    assert body["status"] == "failed"
    assert body["errors"]["data"][0]["line"] == 1


def test_a_file_over_the_configured_size_fails_the_batch(batch_aws, monkeypatch) -> None:
    content = jsonl([chat_line(f"id-{n}") for n in range(20)])
    batch = create_batch(batch_aws["s3"], [chat_line(f"id-{n}") for n in range(20)])
    with_environment(monkeypatch, max_file_bytes=len(content) // 2)
    _validate(batch["id"])
    errors = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")["errors"]["data"]
    assert errors[-1]["code"] == "file_too_large"


def test_a_file_over_the_configured_lines_fails_the_batch(batch_aws, monkeypatch) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line(f"id-{n}") for n in range(4)])
    with_environment(monkeypatch, max_lines=3)
    _validate(batch["id"])
    (error,) = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")["errors"]["data"]
    assert (error["line"], error["code"]) == (4, "too_many_lines")


def test_the_deployments_engine_rules_apply(batch_aws, monkeypatch) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a", top_k=5)])  # a field vLLM's chat takes and TGI's does not
    record_key = f"batches/{batch['id']}/batch.json"
    record = read_json(batch_aws["s3"], record_key)
    batch_aws["s3"].put_object(Bucket=BUCKET, Key=record_key, Body=json.dumps({**record, "engine": "vllm"}).encode())
    assert _validate(batch["id"])["valid"] is True


def test_an_input_file_that_is_gone_fails_the_batch(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    batch_aws["s3"].delete_object(Bucket=BUCKET, Key=f"files/{batch['input_file_id']}")
    _validate(batch["id"])
    (error,) = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")["errors"]["data"]
    assert (error["code"], error["param"]) == ("file_not_found", "input_file_id")


def test_a_batch_cancelled_while_validating_is_cancelled_and_not_valid(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    call(batch_event("POST", f"/batches/{batch['id']}/cancel"))
    output = _validate(batch["id"])
    assert output["valid"] is False
    record = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")
    assert (record["status"], record["cancelled_at"] is not None) == ("cancelled", True)


def test_validate_again_answers_the_same_and_changes_nothing(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    first = _validate(batch["id"])
    record = read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json")
    assert _validate(batch["id"]) == first
    assert read_json(batch_aws["s3"], f"batches/{batch['id']}/batch.json") == record


def test_an_unknown_batch_is_an_error(batch_aws) -> None:
    with pytest.raises(KeyError, match="no batch"):
        _validate("batch_" + "0" * 32)


def test_the_upload_is_read_as_the_client_put_it(batch_aws) -> None:
    content = jsonl([chat_line("a")]).replace(b"\n", b"\r\n")
    file_id = upload(batch_aws["s3"], content)
    _, _, batch = call(batch_event("POST", "/batches", {"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                                        "completion_window": "24h"}))  # fmt: skip
    assert _validate(batch["id"])["valid"] is True
