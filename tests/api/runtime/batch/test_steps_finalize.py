"""Finalize: the output and error files in line order as OpenAI writes them, the counts, and the batch's last status;
MarkFailed; Wake."""

from __future__ import annotations

import json
import time
from io import BytesIO
from typing import Any

import pytest
from batch_jobs import records, steps
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.api.runtime.batch.conftest import CALLER, FakeContext, batch_event, call, chunk_event, read_json, validated
from tests.api.runtime.events import chat_line
from tests.api.runtime.conftest import BUCKET


def _run(s3: Any, count: int) -> dict[str, Any]:
    """A batch of `count` lines, validated and submitted; Validate's output."""
    output = validated(s3, [chat_line(f"req-{n}") for n in range(1, count + 1)])
    steps.submit_chunk(chunk_event(s3, output), FakeContext())
    return output


def _result(n: int) -> dict[str, Any]:
    return {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n}"}}]}


def _completed(s3: Any, batch_id: str, line: int) -> None:
    """The line's result written where SageMaker writes it, and its outcome as the tracker records it."""
    inference_id = records.line_inference_id(batch_id, line)
    s3.put_object(Bucket=BUCKET, Key=f"output/{inference_id}.out", Body=json.dumps(_result(line)).encode())
    done = records.outcome(line, None, inference_id, "completed", output_location=f"s3://{BUCKET}/output/{inference_id}.out")
    steps._store().record_outcome(batch_id, done)


def _failed(batch_id: str, line: int, reason: str, **fields: Any) -> None:
    inference_id = records.line_inference_id(batch_id, line)
    done = records.outcome(line, None, inference_id, "failed", error={"code": "inference_failed", "message": reason}, **fields)
    steps._store().record_outcome(batch_id, done)


def _finalize(batch_id: str) -> dict[str, Any]:
    return steps.finalize({"batch_id": batch_id}, FakeContext())


def _file_lines(s3: Any, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(line) for line in s3.get_object(Bucket=BUCKET, Key=f"files/{file_id}")["Body"].read().splitlines()]


def _batch(s3: Any, batch_id: str) -> dict[str, Any]:
    return read_json(s3, f"batches/{batch_id}/batch.json")


def test_a_finished_batch_is_completed_with_its_counts(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 3)
    for line in (3, 1, 2):  # results arrive in any order
        _completed(s3, output["batch_id"], line)
    assert _finalize(output["batch_id"]) == {"batch_id": output["batch_id"], "status": "completed"}
    batch = _batch(s3, output["batch_id"])
    assert (batch["request_counts"], batch["error_file_id"]) == ({"total": 3, "completed": 3, "failed": 0}, None)
    assert batch["finalizing_at"] is not None and batch["completed_at"] >= batch["finalizing_at"]


def test_the_output_file_is_openais_output_lines_in_line_order(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 3)
    for line in (2, 3, 1):
        _completed(s3, output["batch_id"], line)
    _finalize(output["batch_id"])
    ids = [records.line_inference_id(output["batch_id"], line) for line in (1, 2, 3)]
    assert _file_lines(s3, _batch(s3, output["batch_id"])["output_file_id"]) == [
        {"id": f"batch_req_{ids[n - 1]}", "custom_id": f"req-{n}",
         "response": {"status_code": 200, "request_id": ids[n - 1], "body": _result(n)}, "error": None}
        for n in (1, 2, 3)
    ]  # fmt: skip


def test_the_result_files_are_the_callers_batch_output_files(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 2)
    _completed(s3, output["batch_id"], 1)
    _failed(output["batch_id"], 2, "ModelError: CUDA out of memory")
    _finalize(output["batch_id"])
    batch = _batch(s3, output["batch_id"])
    for kind, file_id in (("output", batch["output_file_id"]), ("error", batch["error_file_id"])):
        record = read_json(s3, f"files/{file_id}.json")
        size = s3.head_object(Bucket=BUCKET, Key=f"files/{file_id}")["ContentLength"]
        assert {k: record[k] for k in ("id", "object", "purpose", "caller", "filename", "bytes")} == {
            "id": file_id, "object": "file", "purpose": "batch_output", "caller": CALLER,
            "filename": f"{output['batch_id']}_{kind}.jsonl", "bytes": size,
        }  # fmt: skip
        status, _, _ = call(batch_event("GET", f"/files/{file_id}/content"))
        assert status == 303


def test_a_failure_with_the_containers_status_is_its_response(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 1)
    inference_id = records.line_inference_id(output["batch_id"], 1)
    answer = {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048", "error_type": "validation"}
    s3.put_object(Bucket=BUCKET, Key=f"failure/{inference_id}-error.out", Body=json.dumps(answer).encode())
    reason = "ClientError: Received client error (422) from primary with message \"...\". See the logs."
    _failed(output["batch_id"], 1, reason, failure_location=f"s3://{BUCKET}/failure/{inference_id}-error.out")
    _finalize(output["batch_id"])
    (line,) = _file_lines(s3, _batch(s3, output["batch_id"])["error_file_id"])
    assert line == {"id": f"batch_req_{inference_id}", "custom_id": "req-1",
                    "response": {"status_code": 422, "request_id": inference_id, "body": answer}, "error": None}  # fmt: skip


def _one_failed_line(s3: Any, reason: str) -> tuple[str, dict[str, Any]]:
    """A batch of one line that failed with `reason` and no failure object, finalized: its id and its error file's line."""
    output = _run(s3, 1)
    _failed(output["batch_id"], 1, reason)
    _finalize(output["batch_id"])
    (line,) = _file_lines(s3, _batch(s3, output["batch_id"])["error_file_id"])
    return output["batch_id"], line


def test_a_failure_without_a_status_is_an_error(batch_aws) -> None:
    s3 = batch_aws["s3"]
    batch_id, line = _one_failed_line(s3, "Request timed out")
    assert (line["response"], line["error"]) == (None, {"code": "inference_failed", "message": "Request timed out"})
    assert _batch(s3, batch_id)["output_file_id"] is None


def test_a_status_without_the_failure_object_answers_the_reason(batch_aws) -> None:
    _, line = _one_failed_line(batch_aws["s3"], "ClientError: Received server error (500) from primary")
    assert line["response"]["status_code"] == 500
    assert line["response"]["body"] == {"error": {"message": "ClientError: Received server error (500) from primary",
                                                  "type": "inference_failed"}}  # fmt: skip


def test_a_completed_line_whose_result_is_gone_is_an_error(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 1)
    _completed(s3, output["batch_id"], 1)
    s3.delete_object(Bucket=BUCKET, Key=f"output/{records.line_inference_id(output['batch_id'], 1)}.out")
    _finalize(output["batch_id"])
    batch = _batch(s3, output["batch_id"])
    (line,) = _file_lines(s3, batch["error_file_id"])
    assert line["error"]["code"] == "result_missing"
    assert batch["request_counts"] == {"total": 1, "completed": 0, "failed": 1}


def test_a_batch_with_expired_lines_is_expired(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 2)
    _completed(s3, output["batch_id"], 1)
    steps.check_chunk({"batch_id": output["batch_id"], "deadline": int(time.time()) - 1, "lines": [1, 2]}, FakeContext())
    assert _finalize(output["batch_id"])["status"] == "expired"
    batch = _batch(s3, output["batch_id"])
    assert batch["expired_at"] is not None and batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    (line,) = _file_lines(s3, batch["error_file_id"])
    assert (line["custom_id"], line["response"], line["error"]) == ("req-2", None, steps.EXPIRED_ERROR)


def test_a_cancelled_batch_reports_what_finished_and_the_rest_cancelled(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 3)
    _completed(s3, output["batch_id"], 2)
    call(batch_event("POST", f"/batches/{output['batch_id']}/cancel"))
    steps.check_chunk({"batch_id": output["batch_id"], "deadline": output["deadline"], "lines": [1, 2, 3]}, FakeContext())
    assert _finalize(output["batch_id"])["status"] == "cancelled"
    batch = _batch(s3, output["batch_id"])
    assert (batch["finalizing_at"], batch["cancelled_at"] is not None) == (None, True)
    assert [line["custom_id"] for line in _file_lines(s3, batch["output_file_id"])] == ["req-2"]
    assert [(line["custom_id"], line["error"]["code"]) for line in _file_lines(s3, batch["error_file_id"])] == [
        ("req-1", "batch_cancelled"), ("req-3", "batch_cancelled")
    ]  # fmt: skip


def test_a_line_left_without_an_outcome_is_recorded_not_submitted(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = validated(s3, [chat_line("req-1"), chat_line("req-2")])
    steps.submit_chunk(chunk_event(s3, output, size=1), FakeContext())  # the second chunk failed: line 2 never went out
    _completed(s3, output["batch_id"], 1)
    _finalize(output["batch_id"])
    assert steps._store().read_outcome(output["batch_id"], 2)["error"]["code"] == "not_submitted"
    (line,) = _file_lines(s3, _batch(s3, output["batch_id"])["error_file_id"])
    assert (line["custom_id"], line["error"]["code"]) == ("req-2", "not_submitted")


def test_finalize_again_answers_the_same_and_rewrites_nothing(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 1)
    _completed(s3, output["batch_id"], 1)
    first = _finalize(output["batch_id"])
    batch = _batch(s3, output["batch_id"])
    with Stubber(steps._s3()) as stub:  # one read of the record, nothing else
        body = json.dumps(batch).encode()
        stub.add_response("get_object", {"Body": StreamingBody(BytesIO(body), len(body)), "ETag": '"e"'})
        assert _finalize(output["batch_id"]) == first
        stub.assert_no_pending_responses()


def test_a_large_batch_is_assembled_across_windows(batch_aws, monkeypatch) -> None:
    monkeypatch.setattr(steps, "FINALIZE_WINDOW", 4)
    s3 = batch_aws["s3"]
    output = _run(s3, 10)
    for line in range(10, 0, -1):
        _completed(s3, output["batch_id"], line)
    _finalize(output["batch_id"])
    lines = _file_lines(s3, _batch(s3, output["batch_id"])["output_file_id"])
    assert [line["custom_id"] for line in lines] == [f"req-{n}" for n in range(1, 11)]


# MarkFailed ----------------------------------------------------------------------------------------------------------------


def test_mark_failed_fails_an_open_batch_with_the_caught_error(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 1)
    cause = json.dumps({"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"})
    event = {"batch_id": output["batch_id"], "error": {"Error": "Sandbox.Timedout", "Cause": cause}}
    assert steps.mark_failed(event, FakeContext()) == {"batch_id": output["batch_id"], "status": "failed"}
    batch = _batch(s3, output["batch_id"])
    assert batch["errors"] == {"object": "list", "data": [
        {"code": "internal_error", "message": "Sandbox.Timedout: Task timed out after 900.00 seconds", "param": None, "line": None}
    ]}  # fmt: skip
    assert batch["failed_at"] is not None


def test_mark_failed_takes_a_cause_that_is_not_json(batch_aws) -> None:
    output = _run(batch_aws["s3"], 1)
    steps.mark_failed({"batch_id": output["batch_id"], "error": {"Error": "States.Timeout", "Cause": "took too long"}}, FakeContext())
    assert _batch(batch_aws["s3"], output["batch_id"])["errors"]["data"][0]["message"] == "States.Timeout: took too long"


def test_mark_failed_leaves_a_finished_batch_as_it_is(batch_aws) -> None:
    s3 = batch_aws["s3"]
    output = _run(s3, 1)
    _completed(s3, output["batch_id"], 1)
    _finalize(output["batch_id"])
    event = {"batch_id": output["batch_id"], "error": {"Error": "States.Runtime"}}
    assert steps.mark_failed(event, FakeContext())["status"] == "completed"


# Wake ----------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def endpoint_at_zero(batch_aws):  # noqa: ANN201
    sagemaker, cloudwatch = steps._waker()._sagemaker, steps._waker()._cloudwatch
    with Stubber(sagemaker) as sm, Stubber(cloudwatch) as cw:
        sm.add_response("describe_endpoint", {
            "EndpointName": "llm-async-test", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/llm-async-test",
            "EndpointConfigName": "cfg", "EndpointStatus": "InService", "CreationTime": "2026-01-01T00:00:00Z",
            "LastModifiedTime": "2026-01-01T00:00:00Z",
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 0, "DesiredInstanceCount": 0}],
        }, {"EndpointName": "llm-async-test"})  # fmt: skip
        cw.add_response("set_alarm_state", {})
        yield sm, cw


def test_wake_wakes_an_idle_endpoint_once_and_passes_its_input_on(batch_aws, endpoint_at_zero) -> None:
    event = {"batch_id": "batch_" + "0" * 32, "valid": True, "total": 3, "items_key": "k", "deadline": 1}
    assert steps.wake(event, FakeContext()) == {**event, "wake": "woken"}
    for stub in endpoint_at_zero:
        stub.assert_no_pending_responses()
