"""POST /batches, GET /batches, GET /batches/{batch_id}, POST /batches/{batch_id}/cancel: OpenAI's batch object, the
state machine started once per batch, the caller's own batches only, 400s naming the field with nothing written."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from batch_jobs import api, records, steps
from botocore.stub import Stubber

from tests.api.runtime.batch.conftest import CALLER, OTHER_CALLER, STATE_MACHINE_ARN, FakeContext, batch_event, call, create_batch, keys, read_json, upload
from tests.api.runtime.events import CHAT, COMPLETIONS, chat_line, jsonl  # fmt: skip
from tests.api.runtime.conftest import BUCKET

OPENAI_FIELDS = {
    "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status", "output_file_id",
    "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
    "expired_at", "cancelling_at", "cancelled_at", "request_counts", "metadata",
}  # fmt: skip


def _request(s3: Any, **changes: Any) -> dict[str, Any]:
    file_id = upload(s3, jsonl([chat_line("a")]))
    return {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h", **changes}


def _post(request: Any, *, caller: str = CALLER, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    return call(batch_event("POST", "/batches", request, caller=caller, headers=headers))


def _executions(batch_aws: dict[str, Any]) -> list[dict[str, Any]]:
    return batch_aws["sfn"].list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]


# POST /batches ---------------------------------------------------------------------------------------------------------


def test_a_new_batch_is_validating_and_openais_object(batch_aws) -> None:
    request = _request(batch_aws["s3"], metadata={"project": "eval"})
    status, _, body = _post(request)
    assert status == 200
    assert set(body) == OPENAI_FIELDS
    assert {k: body[k] for k in ("object", "status", "endpoint", "input_file_id", "completion_window", "metadata")} == {
        "object": "batch", "status": "validating", "endpoint": CHAT, "input_file_id": request["input_file_id"],
        "completion_window": "24h", "metadata": {"project": "eval"},
    }  # fmt: skip
    assert body["expires_at"] == body["created_at"] + 86_400
    assert body["request_counts"] == {"total": 0, "completed": 0, "failed": 0}


def test_the_window_sets_the_expiry(batch_aws) -> None:
    _, _, body = _post(_request(batch_aws["s3"], completion_window="48h"))
    assert body["expires_at"] == body["created_at"] + 172_800


def test_the_record_keeps_the_caller_engine_deadline_and_execution(batch_aws) -> None:
    _, _, body = _post(_request(batch_aws["s3"]))
    record = read_json(batch_aws["s3"], f"batches/{body['id']}/batch.json")
    assert {k: record[k] for k in records.PRIVATE_FIELDS} == {
        "caller": CALLER, "engine": "tgi", "deadline": body["expires_at"],
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:llm-async-test-batches:{body['id']}",
    }  # fmt: skip


def test_the_state_machine_starts_named_by_the_batch_with_its_id(batch_aws) -> None:
    _, _, body = _post(_request(batch_aws["s3"]))
    (execution,) = _executions(batch_aws)
    assert execution["name"] == body["id"]
    described = batch_aws["sfn"].describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"batch_id": body["id"]}


def test_the_batch_is_listed_under_its_caller(batch_aws) -> None:
    _, _, body = _post(_request(batch_aws["s3"]))
    assert keys(batch_aws["s3"], "batches/by-caller/") == [f"{records.caller_prefix(CALLER)}{body['id']}"]


def test_the_same_idempotency_key_answers_the_same_batch_and_starts_once(batch_aws) -> None:
    request = _request(batch_aws["s3"])
    key = {"Idempotency-Key": "nightly-eval-1"}
    _, _, first = _post(request, headers=key)
    status, _, second = _post(request, headers=key)
    assert (status, second["id"]) == (200, first["id"])
    assert len(_executions(batch_aws)) == 1


def test_an_idempotency_key_reused_with_another_body_is_a_422(batch_aws) -> None:
    request = _request(batch_aws["s3"])
    key = {"Idempotency-Key": "nightly-eval-1"}
    _post(request, headers=key)
    status, _, body = _post({**request, "completion_window": "48h"}, headers=key)
    assert (status, body["error"]["code"]) == (422, "IdempotencyKeyReused")


def test_a_malformed_idempotency_key_is_a_400(batch_aws) -> None:
    status, _, body = _post(_request(batch_aws["s3"]), headers={"Idempotency-Key": "two words"})
    assert (status, body["error"]["code"]) == (400, "InvalidHeader")
    assert keys(batch_aws["s3"], "batches/") == []


def test_an_execution_that_exists_already_is_the_batchs(batch_aws) -> None:
    # A retry after the first request started the execution but died before recording it: StartExecution answers
    # ExecutionAlreadyExists (the execution has closed, or its input differs) and the batch is answered as it is.
    request, key = _request(batch_aws["s3"]), {"Idempotency-Key": "k"}
    _, _, first = _post(request, headers=key)
    record_key = f"batches/{first['id']}/batch.json"
    record = read_json(batch_aws["s3"], record_key)
    batch_aws["s3"].put_object(Bucket=BUCKET, Key=record_key, Body=json.dumps({**record, "execution_arn": None}).encode())
    with Stubber(api._stepfunctions()) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400)
        status, _, body = _post(request, headers=key)
    assert (status, body["id"]) == (200, first["id"])
    assert read_json(batch_aws["s3"], record_key)["execution_arn"] == record["execution_arn"]


def test_a_state_machine_that_does_not_start_leaves_no_batch(batch_aws) -> None:
    request = _request(batch_aws["s3"])
    with Stubber(api._stepfunctions()) as stub:
        stub.add_client_error("start_execution", service_error_code="ThrottlingException", http_status_code=400)
        status, headers, body = _post(request)
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "ServiceUnavailable", "30")
    assert body["error"]["message"] == "could not start the batch: ThrottlingException"
    assert keys(batch_aws["s3"], "batches/") == []


BAD_BATCHES = {
    "no input file": ({"input_file_id": None}, "input_file_id: must be a file id, file- and 32 hex characters (got null)"),
    "a malformed file id": ({"input_file_id": "file-abc"},
                            'input_file_id: must be a file id, file- and 32 hex characters (got "file-abc")'),
    "another endpoint": ({"endpoint": "/v1/embeddings"},
                         f'endpoint: must be one of {CHAT}, {COMPLETIONS} (got "/v1/embeddings")'),
    "another window": ({"completion_window": "1h"}, 'completion_window: must be one of 24h, 48h (got "1h")'),
    "metadata that is no object": ({"metadata": ["a"]}, 'metadata: must be an object of at most 16 keys (got ["a"])'),
    "17 metadata keys": ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata: must be an object of at most 16 keys"),
    "a long metadata key": ({"metadata": {"k" * 65: "v"}}, f'metadata: keys must be 1–64 characters (got "{"k" * 65}")'),
    "a metadata value that is no string": ({"metadata": {"n": 1}}, "metadata.n: must be a string of at most 512 characters (got 1)"),
    "a long metadata value": ({"metadata": {"n": "v" * 513}}, "metadata.n: must be a string of at most 512 characters"),
    "an unknown field": ({"model": "x"},
                         'model: must be one of completion_window, endpoint, input_file_id, metadata (got "model")'),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_BATCHES)
def test_a_bad_batch_request_is_a_400_naming_the_field_and_writes_nothing(batch_aws, case: str) -> None:
    changes, message = BAD_BATCHES[case]
    status, _, body = _post(_request(batch_aws["s3"], **changes))
    assert (status, body["error"]["code"]) == (400, "InvalidParameter")
    assert body["error"]["message"].startswith(message)
    assert keys(batch_aws["s3"], "batches/") == [] and _executions(batch_aws) == []


@pytest.mark.parametrize("field", ["input_file_id", "endpoint", "completion_window"])
def test_a_missing_field_is_a_400_naming_it(batch_aws, field: str) -> None:
    request = {name: value for name, value in _request(batch_aws["s3"]).items() if name != field}
    status, _, body = _post(request)
    assert (status, body["error"]["message"]) == (400, f"{field}: is required")


def test_another_callers_input_file_does_not_exist(batch_aws) -> None:
    request = _request(batch_aws["s3"])
    status, _, body = _post(request, caller=OTHER_CALLER)
    assert (status, body["error"]) == (404, {"code": "NotFound", "message": f"no file {request['input_file_id']!r}"})
    assert keys(batch_aws["s3"], "batches/") == []


def test_an_input_file_without_its_content_is_a_400(batch_aws) -> None:
    _, _, file = call(batch_event("POST", "/files", {"purpose": "batch", "filename": "a.jsonl", "bytes": 10}))
    status, _, body = _post({"input_file_id": file["id"], "endpoint": CHAT, "completion_window": "24h"})
    assert (status, body["error"]["message"]) == (
        400, f"input_file_id: {file['id']} has no content yet; upload it with the URL POST /files answered"
    )  # fmt: skip


def test_an_output_file_is_no_input_file(batch_aws) -> None:
    s3 = batch_aws["s3"]
    file_id = records.result_file_id("batch_x", "output")
    s3.put_object(Bucket=BUCKET, Key=f"files/{file_id}", Body=b"{}\n")
    record = records.file_record(file_id=file_id, size=3, filename="o.jsonl", purpose="batch_output", caller=CALLER, now=1)
    s3.put_object(Bucket=BUCKET, Key=f"files/{file_id}.json", Body=json.dumps(record).encode())
    status, _, body = _post({"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h"})
    assert (status, body["error"]["message"]) == (400, "input_file_id: must be a file of purpose batch (got one of purpose batch_output)")


# GET /batches/{batch_id} -----------------------------------------------------------------------------------------------


def test_a_batch_is_its_creators(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    status, _, body = call(batch_event("GET", f"/batches/{batch['id']}"))
    assert (status, body) == (200, batch)


def test_another_callers_batch_does_not_exist(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    status, _, body = call(batch_event("GET", f"/batches/{batch['id']}", caller=OTHER_CALLER))
    assert (status, body["error"]) == (404, {"code": "NotFound", "message": f"no batch {batch['id']!r}"})


@pytest.mark.parametrize("batch_id", ["batch_" + "0" * 32, "batch_by-caller", "batch"])
def test_an_unknown_or_malformed_batch_id_is_a_404(batch_aws, batch_id: str) -> None:
    status, _, body = call(batch_event("GET", f"/batches/{batch_id}"))
    assert (status, body["error"]["code"]) == (404, "NotFound")


def test_a_running_batch_counts_its_lines_by_their_markers(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line(f"l{n}") for n in range(1, 5)])
    steps.validate({"batch_id": batch["id"]}, FakeContext())
    store = steps._store()
    for line, status in ((1, "completed"), (2, "failed"), (3, "expired")):
        store.record_outcome(batch["id"], records.outcome(line, f"l{line}", "x", status))
    _, _, body = call(batch_event("GET", f"/batches/{batch['id']}"))
    assert (body["status"], body["request_counts"]) == ("in_progress", {"total": 4, "completed": 1, "failed": 2})


# GET /batches ------------------------------------------------------------------------------------------------------------


def _listing(batch_aws: dict[str, Any], count: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`count` batches, each created a minute after the previous one (the markers' LastModified, which S3 lists in
    seconds); their ids, newest first."""
    ids = [create_batch(batch_aws["s3"], [chat_line("a")])["id"] for _ in range(count)]
    store = api._store()
    listed = store.keys
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def keys_with_times(prefix: str) -> list[dict[str, Any]]:
        found = listed(prefix)
        return [{**marker, "LastModified": base + datetime.timedelta(minutes=ids.index(marker["Key"].rsplit("/", 1)[1]))}
                for marker in found]  # fmt: skip

    monkeypatch.setattr(store, "keys", keys_with_times)
    return ids[::-1]


def _list(query: dict[str, str] | None = None, caller: str = CALLER) -> tuple[int, Any]:
    status, _, body = call(batch_event("GET", "/batches", query=query, caller=caller))
    return status, body


def test_the_list_is_the_callers_batches_newest_first(batch_aws, monkeypatch) -> None:
    newest_first = _listing(batch_aws, 3, monkeypatch)
    status, body = _list()
    assert status == 200
    assert [batch["id"] for batch in body["data"]] == newest_first
    assert (body["object"], body["first_id"], body["last_id"], body["has_more"]) == ("list", newest_first[0], newest_first[-1], False)


def test_the_list_pages_with_limit_and_after(batch_aws, monkeypatch) -> None:
    newest_first = _listing(batch_aws, 5, monkeypatch)
    _, first = _list({"limit": "2"})
    _, second = _list({"limit": "2", "after": first["last_id"]})
    _, last = _list({"limit": "2", "after": second["last_id"]})
    assert [[b["id"] for b in page["data"]] for page in (first, second, last)] == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert [page["has_more"] for page in (first, second, last)] == [True, True, False]


def test_the_list_has_no_other_callers_batch(batch_aws) -> None:
    create_batch(batch_aws["s3"], [chat_line("a")])
    assert _list(caller=OTHER_CALLER) == (200, {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False})


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_a_limit_outside_1_to_100_is_a_400(batch_aws, limit: str) -> None:
    status, body = _list({"limit": limit})
    assert (status, body["error"]["message"]) == (400, f'limit: must be an integer from 1 to 100 (got "{limit}")')


def test_an_after_that_is_none_of_the_callers_batches_is_a_400(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    status, body = _list({"after": batch["id"]}, caller=OTHER_CALLER)
    assert (status, body["error"]["message"]) == (400, f'after: must be the id of one of your batches (got "{batch["id"]}")')


# POST /batches/{batch_id}/cancel ---------------------------------------------------------------------------------------


def _cancel(batch_id: str, caller: str = CALLER) -> tuple[int, Any]:
    status, _, body = call(batch_event("POST", f"/batches/{batch_id}/cancel", caller=caller))
    return status, body


def test_cancel_marks_the_batch_and_answers_it_cancelling(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    status, body = _cancel(batch["id"])
    assert (status, body["status"]) == (200, "cancelling")
    assert body["cancelling_at"] is not None
    assert keys(batch_aws["s3"], f"batches/{batch['id']}/cancel") == [f"batches/{batch['id']}/cancel"]


def test_cancel_of_a_running_batch_is_accepted(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    steps.validate({"batch_id": batch["id"]}, FakeContext())
    assert _cancel(batch["id"])[1]["status"] == "cancelling"


def test_cancel_twice_answers_the_same_cancelling_batch(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    _, first = _cancel(batch["id"])
    assert _cancel(batch["id"]) == (200, first)


def test_a_finished_batch_cannot_be_cancelled(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [b"not json"])
    steps.validate({"batch_id": batch["id"]}, FakeContext())  # an invalid file: failed
    status, body = _cancel(batch["id"])
    assert (status, body["error"]) == (409, {"code": "NotCancellable", "message":
        f"batch_id: {batch['id']} is failed; only a validating or in_progress batch can be cancelled"})  # fmt: skip
    assert keys(batch_aws["s3"], f"batches/{batch['id']}/cancel") == []


def test_another_caller_cannot_cancel(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    assert _cancel(batch["id"], caller=OTHER_CALLER)[0] == 404
    assert keys(batch_aws["s3"], f"batches/{batch['id']}/cancel") == []


# Routes ------------------------------------------------------------------------------------------------------------------


def test_an_unknown_route_is_a_404(batch_aws) -> None:
    status, _, body = call(batch_event("DELETE", "/batches"))
    assert (status, body) == (404, {"error": {"code": "NotFound", "message": "no such route"}})


def test_a_throttled_read_is_a_503(batch_aws) -> None:
    batch = create_batch(batch_aws["s3"], [chat_line("a")])
    with Stubber(api._s3()) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        status, _, body = call(batch_event("GET", f"/batches/{batch['id']}"))
    assert (status, body["error"]) == (503, {"code": "ServiceUnavailable", "message": "could not read or write the batch's state: SlowDown"})


def test_the_upload_flow_makes_a_file_a_batch_can_read(batch_aws) -> None:
    file_id = upload(batch_aws["s3"], jsonl([chat_line("a")]))
    assert keys(batch_aws["s3"], "files/") == [f"files/{file_id}", f"files/{file_id}.json"]
