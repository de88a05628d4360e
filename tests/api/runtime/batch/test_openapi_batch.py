"""The batch API in the OpenAPI documents (docs/openapi/<engine>.json, the routes tagged batch): its routes are the batch
handler's (tests/api/test_openapi_routes.py compares every route with the deployed API); the handler's answers are ones
it declares; the bodies the handler takes the schemas take, and some it refuses they refuse."""

from __future__ import annotations

import json
import re
import time
from functools import cache
from typing import Any

import pytest
from batch_jobs import api, records, steps
from botocore.stub import Stubber
from jsonschema import Draft202012Validator

from llm_async_tools import openapi
from tests.api.runtime.batch.conftest import FakeContext, batch_event, call, chunk_event, create_batch, upload
from tests.api.runtime.events import CHAT, chat_line, jsonl
from tests.api.runtime.conftest import BUCKET
from tests.conftest import ROOT


@cache
def _document(engine: str) -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi" / f"{engine}.json").read_text(encoding="utf-8"))


def _batch(engine: str) -> dict[str, Any]:
    return openapi.batch_paths(_document(engine))


def _validator(path: str, method: str, status: str | None = None) -> Draft202012Validator:
    operation = _batch("tgi")[path][method]
    content = operation["requestBody"] if status is None else operation["responses"][status]
    return Draft202012Validator({**content["content"]["application/json"]["schema"], "components": _document("tgi")["components"]})


@pytest.mark.parametrize("engine", openapi.ENGINES)
def test_the_batch_tagged_routes_are_the_batch_handlers(engine: str) -> None:
    registered = {(route.openapi_path, route.method) for route in (*api.app._static_routes, *api.app._dynamic_routes)}
    documented = {(path, method.upper()) for path, item in _batch(engine).items() for method in item}
    assert documented == registered


@pytest.mark.parametrize("engine", openapi.ENGINES)
def test_only_the_batch_routes_are_tagged_batch(engine: str) -> None:
    doc = _document(engine)
    inference = {path: item for path, item in doc["paths"].items() if path not in _batch(engine)}
    assert set(inference) == {"/invocations", "/invocations/{inferenceId}"}
    assert all(openapi.BATCH_TAG not in op.get("tags", []) for item in inference.values() for op in item.values())


def test_the_path_parameters_are_the_designs() -> None:
    parameters = {path: sorted(p["name"] for op in item.values() for p in op.get("parameters", []) if p["in"] == "path")
                  for path, item in _batch("tgi").items()}  # fmt: skip
    assert parameters == {"/files": [], "/files/{file_id}/content": ["file_id"], "/batches": [],
                          "/batches/{batch_id}": ["batch_id"], "/batches/{batch_id}/cancel": ["batch_id"]}  # fmt: skip


def test_the_limits_are_the_default_configurations() -> None:
    limits = openapi.default_batch_limits()
    schemas = _document("tgi")["components"]["schemas"]
    assert schemas["FileRequest"]["properties"]["bytes"]["maximum"] == limits.max_file_bytes
    window = schemas["BatchRequest"]["properties"]["completion_window"]
    assert window.get("enum", [window.get("const")]) == list(limits.completion_windows)


def test_the_batch_objects_fields_are_the_records() -> None:
    batch = _document("tgi")["components"]["schemas"]["Batch"]
    record = records.new_batch_record(batch_id="batch_" + "0" * 32, caller="c", engine="tgi", input_file_id="file-" + "0" * 32,
                                      endpoint=CHAT, completion_window="24h", window_s=1, metadata=None, now=1)  # fmt: skip
    assert list(batch["properties"]) == list(records.public_batch(record))
    assert set(batch["properties"]["status"]["enum"]) == set(records.STATUSES)


# Requests ----------------------------------------------------------------------------------------------------------------

FILE = {"purpose": "batch", "filename": "in.jsonl", "bytes": 10}
BATCH = {"input_file_id": "file-" + "0" * 32, "endpoint": CHAT, "completion_window": "24h"}


@pytest.mark.parametrize(("path", "body"), [
    ("/files", FILE),
    ("/batches", BATCH),
    ("/batches", {**BATCH, "metadata": {"project": "eval", "owner": "x" * 512}}),
    ("/batches", {**BATCH, "metadata": None}),
])  # fmt: skip
def test_a_body_the_handler_takes_the_document_takes(path: str, body: dict[str, Any]) -> None:
    assert list(_validator(path, "post").iter_errors(body)) == []


@pytest.mark.parametrize(("path", "body"), [
    ("/files", {**FILE, "purpose": "fine-tune"}),
    ("/files", {**FILE, "bytes": 0}),
    ("/files", {**FILE, "filename": ""}),
    ("/files", {**FILE, "extra": 1}),
    ("/batches", {**BATCH, "endpoint": "/v1/embeddings"}),
    ("/batches", {**BATCH, "completion_window": "1h"}),
    ("/batches", {**BATCH, "input_file_id": "file-abc"}),
    ("/batches", {**BATCH, "metadata": {f"k{n}": "v" for n in range(17)}}),
    ("/batches", {**BATCH, "metadata": {"k": 1}}),
])  # fmt: skip
def test_a_body_the_handler_refuses_for_its_shape_the_document_refuses(batch_aws, path: str, body: dict[str, Any]) -> None:
    status, _, _ = call(batch_event("POST", path, body))
    assert status == 400  # the fields are checked before the input file is looked up
    assert not _validator(path, "post").is_valid(body)


# Answers -----------------------------------------------------------------------------------------------------------------


def _finished(s3: Any, outcome: str) -> tuple[int, dict[str, str], Any]:
    batch = create_batch(s3, [chat_line("a"), chat_line("b")])
    output = steps.validate({"batch_id": batch["id"]}, FakeContext())
    steps.submit_chunk(chunk_event(s3, output), FakeContext())
    inference_id = records.line_inference_id(batch["id"], 1)
    s3.put_object(Bucket=BUCKET, Key=f"output/{inference_id}.out", Body=b'{"choices": []}')
    steps._store().record_outcome(batch["id"], records.outcome(1, None, inference_id, "completed",
                                                               output_location=f"s3://{BUCKET}/output/{inference_id}.out"))  # fmt: skip
    if outcome == "expired":
        steps.check_chunk({"batch_id": batch["id"], "deadline": int(time.time()) - 1, "lines": [2]}, FakeContext())
    else:
        steps._store().record_outcome(batch["id"], records.outcome(2, None, "x", "failed", error={"code": "c", "message": "m"}))
    steps.finalize({"batch_id": batch["id"]}, FakeContext())
    return call(batch_event("GET", f"/batches/{batch['id']}"))


def _validated(s3: Any, lines: list[Any], method: str = "GET", route: str = "") -> tuple[int, dict[str, str], Any]:
    """A batch of `lines` after the Validate step (in progress, or failed where a line is not JSON), then the answer to
    `method` on /batches/{id}`route`."""
    batch = create_batch(s3, lines)
    steps.validate({"batch_id": batch["id"]}, FakeContext())
    return call(batch_event(method, f"/batches/{batch['id']}{route}"))


def _reused_key(s3: Any) -> tuple[int, dict[str, str], Any]:
    file_id = upload(s3, jsonl([chat_line("a")]))
    request, key = {**BATCH, "input_file_id": file_id}, {"Idempotency-Key": "k"}
    call(batch_event("POST", "/batches", request, headers=key))
    return call(batch_event("POST", "/batches", {**request, "completion_window": "48h"}, headers=key))


def _unavailable(s3: Any) -> tuple[int, dict[str, str], Any]:
    file_id = upload(s3, jsonl([chat_line("a")]))
    with Stubber(api._stepfunctions()) as stub:
        stub.add_client_error("start_execution", service_error_code="ServiceUnavailable", http_status_code=503)
        return call(batch_event("POST", "/batches", {**BATCH, "input_file_id": file_id}))


def _cancelled_twice(s3: Any) -> tuple[int, dict[str, str], Any]:
    batch = create_batch(s3, [chat_line("a")])
    call(batch_event("POST", f"/batches/{batch['id']}/cancel"))
    return call(batch_event("POST", f"/batches/{batch['id']}/cancel"))


def _listed(s3: Any) -> tuple[int, dict[str, str], Any]:
    create_batch(s3, [chat_line("a")])
    return call(batch_event("GET", "/batches"))


def _content(s3: Any, uploaded: bool) -> tuple[int, dict[str, str], Any]:
    if uploaded:
        return call(batch_event("GET", f"/files/{upload(s3, b'{}')}/content"))
    _, _, file = call(batch_event("POST", "/files", FILE))
    return call(batch_event("GET", f"/files/{file['id']}/content"))


# Each answer: its route, the status it is written to produce, and how.
ANSWERS = {
    "file created": ("/files", "post", 200, lambda s3: call(batch_event("POST", "/files", FILE))),
    "file refused": ("/files", "post", 400, lambda s3: call(batch_event("POST", "/files", {**FILE, "bytes": 0}))),
    "content": ("/files/{file_id}/content", "get", 303, lambda s3: _content(s3, True)),
    "content not uploaded": ("/files/{file_id}/content", "get", 409, lambda s3: _content(s3, False)),
    "no such file": ("/files/{file_id}/content", "get", 404,
                     lambda s3: call(batch_event("GET", f"/files/file-{'0' * 32}/content"))),
    "batch created": ("/batches", "post", 200,
                      lambda s3: call(batch_event("POST", "/batches", {**BATCH, "input_file_id": upload(s3, b"{}")}))),
    "batch refused": ("/batches", "post", 400, lambda s3: call(batch_event("POST", "/batches", {**BATCH, "endpoint": "x"}))),
    "no input file": ("/batches", "post", 404, lambda s3: call(batch_event("POST", "/batches", BATCH))),
    "key reused": ("/batches", "post", 422, _reused_key),
    "unavailable": ("/batches", "post", 503, _unavailable),
    "list": ("/batches", "get", 200, _listed),
    "list refused": ("/batches", "get", 400, lambda s3: call(batch_event("GET", "/batches", query={"limit": "0"}))),
    "in progress": ("/batches/{batch_id}", "get", 200, lambda s3: _validated(s3, [chat_line("a")])),
    "failed validation": ("/batches/{batch_id}", "get", 200, lambda s3: _validated(s3, [b"oops"])),
    "completed": ("/batches/{batch_id}", "get", 200, lambda s3: _finished(s3, "completed")),
    "expired": ("/batches/{batch_id}", "get", 200, lambda s3: _finished(s3, "expired")),
    "no such batch": ("/batches/{batch_id}", "get", 404, lambda s3: call(batch_event("GET", f"/batches/batch_{'0' * 32}"))),
    "cancelling": ("/batches/{batch_id}/cancel", "post", 200, _cancelled_twice),
    "not cancellable": ("/batches/{batch_id}/cancel", "post", 409, lambda s3: _validated(s3, [b"oops"], "POST", "/cancel")),
    "cancel of no such batch": ("/batches/{batch_id}/cancel", "post", 404,
                                lambda s3: call(batch_event("POST", f"/batches/batch_{'0' * 32}/cancel"))),
}  # fmt: skip


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_handlers_answer_is_one_the_document_declares(batch_aws, answer: str) -> None:
    path, method, expected, act = ANSWERS[answer]
    status, headers, body = act(batch_aws["s3"])
    assert status == expected, body
    declared = _batch("tgi")[path][method]["responses"]
    assert str(status) in declared
    assert list(_validator(path, method, str(status)).iter_errors(body)) == []
    assert {name.lower() for name in declared[str(status)].get("headers", {})} <= set(headers)


def test_every_status_the_lambda_may_answer_is_exercised_above() -> None:
    # 403 and 429 are API Gateway's own; 503 (S3 or Step Functions refusing) is exercised on one route, the same
    # exception handler answers it on every other.
    declared = {(path, method, int(status)) for path, item in _batch("tgi").items()
                for method, op in item.items() for status in op["responses"] if status not in ("403", "429", "503")}  # fmt: skip
    assert declared == {(path, method, status) for path, method, status, _ in ANSWERS.values() if status != 503}


def test_the_batch_ids_pattern_is_the_handlers() -> None:
    batch = _document("tgi")["components"]["schemas"]["Batch"]["properties"]["id"]
    assert re.fullmatch(batch["pattern"].strip("^$"), records.new_batch_id())
