"""CheckChunk: done once every line has its outcome; past the deadline or once cancelled it closes the open lines; a
line whose result can no longer come is recorded failed."""

from __future__ import annotations

import time
from typing import Any

from batch_jobs import records, steps
from inference_api.inferences import RESULT_DEADLINE_MARGIN_S

from tests.api.runtime.batch.conftest import BATCH_ENVIRONMENT, FakeContext, batch_event, call, chunk_event, validated
from tests.api.runtime.events import chat_line
from tests.api.runtime.conftest import BUCKET


def _submitted(s3: Any, count: int) -> dict[str, Any]:
    """A validated batch of `count` lines, all submitted: CheckChunk's input."""
    output = validated(s3, [chat_line(f"req-{n}") for n in range(1, count + 1)])
    return steps.submit_chunk(chunk_event(s3, output), FakeContext())


def _check(event: dict[str, Any]) -> dict[str, Any]:
    return steps.check_chunk(event, FakeContext())


def _record(batch_id: str, line: int, status: str) -> None:
    steps._store().record_outcome(batch_id, records.outcome(line, f"req-{line}", records.line_inference_id(batch_id, line), status))


def test_a_chunk_with_an_open_line_is_not_done(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 3)
    _record(event["batch_id"], 1, "completed")
    _record(event["batch_id"], 3, "completed")
    assert _check(event) == {**event, "done": False}
    assert steps._store().read_outcome(event["batch_id"], 2) is None


def test_a_chunk_whose_lines_all_have_outcomes_is_done(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 3)
    for line, status in ((1, "completed"), (2, "failed"), (3, "completed")):
        _record(event["batch_id"], line, status)
    assert _check(event) == {**event, "done": True}


def test_a_cancelled_batchs_open_lines_are_recorded_cancelled(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 2)
    _record(event["batch_id"], 1, "completed")
    call(batch_event("POST", f"/batches/{event['batch_id']}/cancel"))
    assert _check(event)["done"] is True
    store = steps._store()
    assert store.read_outcome(event["batch_id"], 1)["status"] == "completed"
    assert store.read_outcome(event["batch_id"], 2) == {
        "line": 2, "custom_id": None, "inference_id": records.line_inference_id(event["batch_id"], 2), "status": "cancelled",
        "error": steps.CANCELLED_ERROR,
    }  # fmt: skip


def test_past_the_deadline_the_open_lines_are_recorded_expired(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 2)
    _record(event["batch_id"], 2, "failed")
    assert _check({**event, "deadline": int(time.time()) - 1})["done"] is True
    store = steps._store()
    assert (store.read_outcome(event["batch_id"], 1)["status"], store.read_outcome(event["batch_id"], 1)["error"]) == (
        "expired", steps.EXPIRED_ERROR
    )  # fmt: skip
    assert store.read_outcome(event["batch_id"], 2)["status"] == "failed"


def test_a_result_arriving_after_the_line_expired_is_not_counted(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 1)
    _check({**event, "deadline": int(time.time()) - 1})
    assert steps._store().record_outcome(event["batch_id"], records.outcome(1, None, "x", "completed")) is False
    assert steps._store().counts(event["batch_id"]) == {"completed": 0, "failed": 1}


def test_a_line_waiting_past_its_ttl_and_timeout_is_recorded_failed(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 2)
    _record(event["batch_id"], 2, "completed")
    store = steps._store()
    no_result_after = BATCH_ENVIRONMENT.request_ttl_s + BATCH_ENVIRONMENT.invocation_timeout_s + RESULT_DEADLINE_MARGIN_S
    store.clock = lambda: time.time() + no_result_after + 60
    assert _check({**event, "deadline": int(time.time()) + 10 * no_result_after})["done"] is True
    first = store.read_outcome(event["batch_id"], 1)
    assert (first["status"], first["error"]["code"]) == ("failed", "no_result")


def test_a_line_whose_request_is_gone_is_recorded_failed(batch_aws) -> None:
    event = _submitted(batch_aws["s3"], 1)
    batch_aws["s3"].delete_object(Bucket=BUCKET, Key=f"input/{records.line_inference_id(event['batch_id'], 1)}.json")
    assert _check(event)["done"] is True
    assert steps._store().read_outcome(event["batch_id"], 1)["error"]["code"] == "not_submitted"
