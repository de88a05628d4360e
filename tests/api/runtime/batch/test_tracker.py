"""The tracker: SageMaker's async notifications (SQS messages of SNS envelopes) become batch lines' outcomes; other
inferences are ignored; a message it cannot read is reported alone in batchItemFailures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from batch_jobs import records, steps, tracker

from tests.api.runtime.batch.conftest import FakeContext, chunk_event, validated
from tests.api.runtime.events import chat_line
from tests.api.runtime.conftest import BUCKET, api_event, call


def _notification(inference_id: str, status: str = "Completed", **fields: Any) -> dict[str, Any]:
    """As SageMaker publishes it (Amazon SageMaker AI Developer Guide, "Check prediction results")."""
    note = {
        "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:10.000Z",
        "receivedTime": "2026-01-01T00:00:00.000Z",
        "invocationStatus": status,
        "requestParameters": {"contentType": "application/json", "endpointName": "llm-async-test",
                              "inputLocation": f"s3://{BUCKET}/input/{inference_id}.json"},  # fmt: skip
        "inferenceId": inference_id,
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    if status == "Completed":
        note["responseParameters"] = {"contentType": "application/json", "outputLocation": f"s3://{BUCKET}/output/{inference_id}.out"}
    return {**note, **fields}


def _message(note: Any, message_id: str = "m-1", raw: bool = False) -> dict[str, Any]:
    """An SQS record whose body is the SNS envelope of `note` (or `note` itself, with raw message delivery)."""
    text = note if isinstance(note, str) else json.dumps(note)
    body = text if raw else json.dumps({"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:success",
                                        "Message": text, "Timestamp": "2026-01-01T00:00:10.000Z"})  # fmt: skip
    return {"messageId": message_id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:tracker",
            "awsRegion": "us-east-1"}  # fmt: skip


def _track(*messages: dict[str, Any]) -> dict[str, Any]:
    return tracker.lambda_handler({"Records": list(messages)}, FakeContext())


@pytest.fixture
def submitted(batch_aws) -> dict[str, Any]:
    """A batch of two lines, submitted: its id and lines' inference ids."""
    s3 = batch_aws["s3"]
    output = validated(s3, [chat_line("req-1"), chat_line("req-2")])
    steps.submit_chunk(chunk_event(s3, output), FakeContext())
    return {"batch_id": output["batch_id"], 1: records.line_inference_id(output["batch_id"], 1),
            2: records.line_inference_id(output["batch_id"], 2)}  # fmt: skip


def test_a_success_records_the_line_completed_with_its_output(submitted) -> None:
    assert _track(_message(_notification(submitted[1]))) == {"batchItemFailures": []}
    assert steps._store().read_outcome(submitted["batch_id"], 1) == {
        "line": 1, "custom_id": None, "inference_id": submitted[1], "status": "completed",
        "output_location": f"s3://{BUCKET}/output/{submitted[1]}.out",
    }  # fmt: skip
    assert steps._store().counts(submitted["batch_id"]) == {"completed": 1, "failed": 0}


def test_a_failure_records_the_line_failed_with_its_reason(submitted) -> None:
    reason = "ClientError: Received server error (500) from primary with message \"CUDA out of memory\"."
    _track(_message(_notification(submitted[2], "Failed", failureReason=reason)))
    done = steps._store().read_outcome(submitted["batch_id"], 2)
    assert (done["status"], done["error"]) == ("failed", {"code": "inference_failed", "message": reason})
    assert "failure_location" not in done
    assert steps._store().counts(submitted["batch_id"]) == {"completed": 0, "failed": 1}


def test_a_failure_location_in_the_notification_is_kept(submitted) -> None:
    location = f"s3://{BUCKET}/failure/{submitted[2]}-error.out"
    _track(_message(_notification(submitted[2], "Failed", failureReason="x", failureLocation=location)))
    assert steps._store().read_outcome(submitted["batch_id"], 2)["failure_location"] == location


def test_raw_message_delivery_is_read_too(submitted) -> None:
    _track(_message(_notification(submitted[1]), raw=True))
    assert steps._store().read_outcome(submitted["batch_id"], 1)["status"] == "completed"


def test_a_second_notification_for_a_line_changes_nothing(submitted) -> None:
    _track(_message(_notification(submitted[1])))
    assert _track(_message(_notification(submitted[1], "Failed", failureReason="late"))) == {"batchItemFailures": []}
    assert steps._store().read_outcome(submitted["batch_id"], 1)["status"] == "completed"
    assert steps._store().counts(submitted["batch_id"]) == {"completed": 1, "failed": 0}


def test_an_inference_of_the_api_is_ignored(batch_aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", {"inputs": "What are cookies?"}))
    before = sorted(o["Key"] for o in batch_aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", []))
    assert _track(_message(_notification(accepted["inferenceId"]))) == {"batchItemFailures": []}
    assert sorted(o["Key"] for o in batch_aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", [])) == before


def test_an_unknown_inference_is_ignored(batch_aws) -> None:
    assert _track(_message(_notification("f" * 32))) == {"batchItemFailures": []}
    assert batch_aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", []) == []


MALFORMED = {
    "not JSON": "{oops",
    "no inference id": {"invocationStatus": "Completed"},
    "an unknown status": {"inferenceId": "a" * 32, "invocationStatus": "Running"},
    "a list": [1, 2],
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_message_is_reported_alone(submitted, case: str) -> None:
    answer = _track(_message(MALFORMED[case], "bad"), _message(_notification(submitted[1]), "good"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert steps._store().read_outcome(submitted["batch_id"], 1)["status"] == "completed"


def test_a_success_without_its_output_location_is_reported(submitted) -> None:
    note = {k: v for k, v in _notification(submitted[1]).items() if k != "responseParameters"}
    assert _track(_message(note, "m-9")) == {"batchItemFailures": [{"itemIdentifier": "m-9"}]}
    assert steps._store().read_outcome(submitted["batch_id"], 1) is None


def test_a_line_recorded_by_the_tracker_is_finalized_with_its_result(submitted, batch_aws) -> None:
    s3 = batch_aws["s3"]
    for line in (1, 2):
        s3.put_object(Bucket=BUCKET, Key=f"output/{submitted[line]}.out", Body=json.dumps({"choices": [{"text": str(line)}]}).encode())
    _track(_message(_notification(submitted[2]), "a"), _message(_notification(submitted[1]), "b"))
    assert steps.finalize({"batch_id": submitted["batch_id"]}, FakeContext())["status"] == "completed"
    batch = json.loads(s3.get_object(Bucket=BUCKET, Key=f"batches/{submitted['batch_id']}/batch.json")["Body"].read())
    lines = s3.get_object(Bucket=BUCKET, Key=f"files/{batch['output_file_id']}")["Body"].read().splitlines()
    assert [json.loads(line)["custom_id"] for line in lines] == ["req-1", "req-2"]
