"""SubmitChunk: each line's request written once (the lock) and invoked with its own inference id; a retry invokes
nothing twice; a cancelled or expired batch submits nothing; throttling raises Throttled for the state to retry."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any

import pytest
from batch_jobs import records, steps
from batch_jobs.steps import Throttled
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from inference_api import handler

from tests.api.runtime.batch.conftest import CALLER, FakeContext, batch_event, call, chunk_event, keys, validated
from tests.api.runtime.events import chat_line
from tests.api.runtime.conftest import BUCKET, api_event
from tests.api.runtime.conftest import call as call_inference_api


def _lines(count: int) -> list[dict[str, Any]]:
    return [chat_line(f"req-{n}", f"prompt {n}") for n in range(1, count + 1)]


@pytest.fixture
def invocations(batch_aws) -> list[dict[str, Any]]:
    """Every InvokeEndpointAsync, answered as moto answers it (moto 5.2 checks no endpoint)."""
    calls: list[dict[str, Any]] = []
    runtime = steps._runtime()
    invoke = runtime.invoke_endpoint_async

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return invoke(**kwargs)

    runtime.invoke_endpoint_async = counted  # removed after the test by the aws fixture
    return calls


def _submit(event: dict[str, Any]) -> dict[str, Any]:
    return steps.submit_chunk(event, FakeContext())


def test_a_chunk_answers_its_batch_deadline_and_lines(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(3))
    assert _submit(chunk_event(batch_aws["s3"], output)) == {"batch_id": output["batch_id"], "deadline": output["deadline"],
                                                             "lines": [1, 2, 3]}  # fmt: skip


def test_each_line_is_invoked_with_its_inference_id_ttl_and_timeout(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(1))
    inference_id = records.line_inference_id(output["batch_id"], 1)
    with Stubber(steps._runtime()) as stub:
        stub.add_response(
            "invoke_endpoint_async",
            {"InferenceId": inference_id, "OutputLocation": f"s3://{BUCKET}/output/{inference_id}.out"},
            expected_params={"EndpointName": "llm-async-test", "InputLocation": f"s3://{BUCKET}/input/{inference_id}.json",
                             "InferenceId": inference_id, "ContentType": "application/json", "Accept": "application/json",
                             "RequestTTLSeconds": 21600, "InvocationTimeoutSeconds": 900},  # fmt: skip
        )
        _submit(chunk_event(batch_aws["s3"], output))
        stub.assert_no_pending_responses()


def test_each_lines_request_is_its_body_with_the_lines_metadata(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(2))
    _submit(chunk_event(batch_aws["s3"], output))
    bodies = batch_aws["s3"].get_object(Bucket=BUCKET, Key=f"batches/{output['batch_id']}/bodies.jsonl")["Body"].read()
    for item in chunk_event(batch_aws["s3"], output)["Items"]:
        stored = batch_aws["s3"].get_object(Bucket=BUCKET, Key=f"input/{item['inference_id']}.json")
        payload = bodies[item["offset"] : item["offset"] + item["length"]]
        assert stored["Body"].read() == payload
        assert stored["Metadata"] == {"caller": CALLER, "batch-id": output["batch_id"], "batch-line": str(item["line"]),
                                      "request-sha256": hashlib.sha256(payload).hexdigest()}  # fmt: skip


def test_a_retried_chunk_invokes_nothing_again(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(3))
    event = chunk_event(batch_aws["s3"], output)
    _submit(event)
    assert len(invocations) == 3
    assert _submit(event)["lines"] == [1, 2, 3]
    assert len(invocations) == 3


def test_chunks_split_the_lines_between_them(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(5))
    _submit(chunk_event(batch_aws["s3"], output, first=0, size=2))
    _submit(chunk_event(batch_aws["s3"], output, first=2, size=3))
    assert [call["InferenceId"] for call in invocations] == [records.line_inference_id(output["batch_id"], n) for n in range(1, 6)]


def test_items_that_are_not_neighbours_get_their_own_bodies(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(5))
    every = chunk_event(batch_aws["s3"], output)["Items"]
    _submit({**chunk_event(batch_aws["s3"], output), "Items": [every[4], every[0], every[2]]})
    for item in (every[0], every[2], every[4]):
        stored = batch_aws["s3"].get_object(Bucket=BUCKET, Key=f"input/{item['inference_id']}.json")["Body"].read()
        assert f"prompt {item['line']}".encode() in stored


def test_a_cancelled_batch_submits_nothing_and_records_its_lines_cancelled(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(2))
    call(batch_event("POST", f"/batches/{output['batch_id']}/cancel"))
    _submit(chunk_event(batch_aws["s3"], output))
    assert invocations == [] and keys(batch_aws["s3"], "input/") == []
    store = steps._store()
    assert [store.read_outcome(output["batch_id"], line) for line in (1, 2)] == [
        records.outcome(line, f"req-{line}", records.line_inference_id(output["batch_id"], line), "cancelled",
                        error=steps.CANCELLED_ERROR) for line in (1, 2)
    ]  # fmt: skip


def test_lines_past_the_deadline_are_recorded_expired_and_not_submitted(batch_aws, invocations) -> None:
    output = validated(batch_aws["s3"], _lines(2))
    event = chunk_event(batch_aws["s3"], output)
    event["BatchInput"]["deadline"] = int(time.time()) - 1
    _submit(event)
    assert invocations == []
    outcomes = [steps._store().read_outcome(output["batch_id"], line) for line in (1, 2)]
    assert [(o["status"], o["error"]["code"]) for o in outcomes] == [("expired", "batch_expired")] * 2


def test_throttling_raises_throttled_after_submitting_the_lines_before(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(3))
    batch_id = output["batch_id"]
    with Stubber(steps._runtime()) as stub:
        stub.add_response("invoke_endpoint_async", {"InferenceId": "x", "OutputLocation": f"s3://{BUCKET}/output/x.out"})
        stub.add_client_error("invoke_endpoint_async", service_error_code="ThrottlingException", http_status_code=400)
        with pytest.raises(Throttled, match="ThrottlingException"):
            _submit(chunk_event(batch_aws["s3"], output))
    # The throttled line's lock is released for the retry; the first line's stays.
    assert keys(batch_aws["s3"], "input/") == sorted([f"input/{records.line_inference_id(batch_id, 1)}.json",
                                                      f"input/{records.line_inference_id(batch_id, 1)}.invocation.json"])  # fmt: skip


def test_the_retry_after_throttling_submits_only_the_lines_left(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(3))
    event = chunk_event(batch_aws["s3"], output)
    with Stubber(steps._runtime()) as stub:
        stub.add_response("invoke_endpoint_async", {"InferenceId": "x", "OutputLocation": f"s3://{BUCKET}/output/x.out"})
        stub.add_client_error("invoke_endpoint_async", service_error_code="ServiceUnavailable", http_status_code=503)
        with pytest.raises(Throttled):
            _submit(event)
    with Stubber(steps._runtime()) as stub:
        for line in (2, 3):
            inference_id = records.line_inference_id(output["batch_id"], line)
            stub.add_response("invoke_endpoint_async", {"InferenceId": inference_id, "OutputLocation": "s3://b/o"},
                              expected_params={"InferenceId": inference_id, "EndpointName": ANY, "InputLocation": ANY,
                                               "ContentType": ANY, "Accept": ANY, "RequestTTLSeconds": ANY,
                                               "InvocationTimeoutSeconds": ANY})  # fmt: skip
        _submit(event)
        stub.assert_no_pending_responses()


def test_s3_throttling_raises_throttled(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(1))
    record = batch_aws["s3"].get_object(Bucket=BUCKET, Key=f"batches/{output['batch_id']}/batch.json")["Body"].read()
    with Stubber(steps._s3()) as stub:
        # The batch record is read, then the chunk's bodies: S3 slows that read down.
        stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(record), len(record)), "ETag": '"e"'})
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(Throttled, match="^SlowDown"):
            _submit(chunk_event(batch_aws["s3"], output))


def test_a_refusal_no_retry_changes_fails_the_line_and_goes_on(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(2))
    with Stubber(steps._runtime()) as stub:
        stub.add_client_error("invoke_endpoint_async", service_error_code="ValidationError", http_status_code=400,
                              service_message="Endpoint llm-async-test of account 123456789012 not found.")  # fmt: skip
        stub.add_response("invoke_endpoint_async", {"InferenceId": "x", "OutputLocation": f"s3://{BUCKET}/output/x.out"})
        _submit(chunk_event(batch_aws["s3"], output))
    first = steps._store().read_outcome(output["batch_id"], 1)
    assert (first["status"], first["error"]) == ("failed", {
        "code": "submit_failed",
        "message": "the endpoint refused the request: ValidationError: Endpoint llm-async-test of account 123456789012 not found.",
    })  # fmt: skip
    assert steps._store().read_outcome(output["batch_id"], 2) is None  # submitted, waiting for its result


def test_a_batch_lines_inference_answers_get_invocations_for_its_caller(batch_aws) -> None:
    output = validated(batch_aws["s3"], _lines(1))
    inference_id = records.line_inference_id(output["batch_id"], 1)
    with Stubber(steps._runtime()) as stub:
        stub.add_response("invoke_endpoint_async", {"InferenceId": inference_id,
                                                    "OutputLocation": f"s3://{BUCKET}/output/{inference_id}.out",
                                                    "FailureLocation": f"s3://{BUCKET}/failure/{inference_id}-error.out"})  # fmt: skip
        _submit(chunk_event(batch_aws["s3"], output))
    handler._inferences.cache_clear()
    status, _, body = call_inference_api(api_event("GET", f"/invocations/{inference_id}"))
    assert (status, body) == (200, {"inferenceId": inference_id, "status": "InProgress"})
    batch_aws["s3"].put_object(Bucket=BUCKET, Key=f"output/{inference_id}.out", Body=b'{"choices": [{"message": {"content": "hi"}}]}')
    status, _, body = call_inference_api(api_event("GET", f"/invocations/{inference_id}"))
    assert (status, body["status"], body["text"]) == (200, "Completed", "hi")
