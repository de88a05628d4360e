"""Ids, keys, the batch record's status transitions and the line outcomes' first-writer-wins writes."""

from __future__ import annotations

import hashlib
import re

import pytest
from batch_jobs import records
from batch_jobs.records import IllegalTransition, Store, UpdateConflict

from tests.api.runtime.conftest import BUCKET

NOW = 1_800_000_000


def _record(status: str = "validating") -> dict:
    record = records.new_batch_record(batch_id="batch_" + "a" * 32, caller="arn:aws:iam::1:role/app", engine="tgi",
                                      input_file_id="file-" + "b" * 32, endpoint="/v1/chat/completions",
                                      completion_window="24h", window_s=86_400, metadata={"k": "v"}, now=NOW)  # fmt: skip
    return {**record, "status": status}


def test_ids_have_openais_shapes_with_32_hex_characters() -> None:
    assert re.fullmatch(r"file-[0-9a-f]{32}", records.new_file_id())
    assert re.fullmatch(r"batch_[0-9a-f]{32}", records.new_batch_id())
    assert records.new_batch_id() != records.new_batch_id()


def test_a_lines_inference_id_is_the_designs_hash() -> None:
    batch_id = "batch_" + "c" * 32
    assert records.line_inference_id(batch_id, 7) == hashlib.sha256(f"{batch_id}\n7".encode()).hexdigest()[:32]


def test_an_idempotency_key_names_one_batch_per_caller() -> None:
    first = records.idempotent_batch_id("caller-a", "key")
    assert first == records.idempotent_batch_id("caller-a", "key")
    assert first != records.idempotent_batch_id("caller-b", "key")
    assert records.BATCH_ID.match(first)


def test_result_files_are_fixed_by_the_batch() -> None:
    output = records.result_file_id("batch_x", "output")
    assert output == records.result_file_id("batch_x", "output") != records.result_file_id("batch_x", "error")
    assert records.FILE_ID.match(output)


def test_a_new_batch_expires_after_its_window() -> None:
    record = _record()
    assert (record["status"], record["expires_at"], record["deadline"]) == ("validating", NOW + 86_400, NOW + 86_400)
    assert record["request_counts"] == {"total": 0, "completed": 0, "failed": 0}


def test_a_transition_sets_its_timestamp() -> None:
    moved = records.transition(_record("in_progress"), "finalizing", NOW + 5)
    assert (moved["status"], moved["finalizing_at"]) == ("finalizing", NOW + 5)


@pytest.mark.parametrize(("current", "wanted"), [("completed", "cancelling"), ("validating", "completed"),
                                                 ("finalizing", "cancelling"), ("failed", "in_progress"),
                                                 ("cancelling", "in_progress")])  # fmt: skip
def test_an_illegal_transition_is_refused(current: str, wanted: str) -> None:
    with pytest.raises(IllegalTransition, match=f"is {current}: it cannot become {wanted}"):
        records.transition(_record(current), wanted, NOW)


def test_every_status_has_its_transitions() -> None:
    assert set(records.TRANSITIONS) == set(records.STATUSES)
    assert all(not records.TRANSITIONS[status] for status in records.TERMINAL)


def test_the_public_object_has_no_private_field() -> None:
    public = records.public_batch(_record())
    assert not set(records.PRIVATE_FIELDS) & set(public)
    assert public["object"] == "batch" and public["metadata"] == {"k": "v"}


def test_the_public_file_has_no_caller() -> None:
    record = records.file_record(file_id="file-" + "d" * 32, size=3, filename="a", purpose="batch", caller="c", now=NOW)
    assert records.public_file(record) == {"id": "file-" + "d" * 32, "object": "file", "bytes": 3, "created_at": NOW,
                                           "filename": "a", "purpose": "batch"}  # fmt: skip


def _outcome(status: str, line: int = 3) -> dict:
    return records.outcome(line, "req-3", "e" * 32, status)


def test_the_first_outcome_of_a_line_wins(aws) -> None:
    store = Store(aws["s3"], BUCKET)
    assert store.record_outcome("batch_x", _outcome("completed")) is True
    assert store.record_outcome("batch_x", _outcome("expired")) is False
    assert store.read_outcome("batch_x", 3)["status"] == "completed"


def test_an_outcome_is_counted_as_openai_counts_it(aws) -> None:
    store = Store(aws["s3"], BUCKET)
    for line, status in enumerate(("completed", "failed", "expired", "cancelled", "completed")):
        store.record_outcome("batch_x", _outcome(status, line))
    assert store.counts("batch_x") == {"completed": 2, "failed": 3}


def test_an_outcome_status_must_be_one_of_the_four(aws) -> None:
    with pytest.raises(ValueError, match="one of completed, failed, expired, cancelled"):
        Store(aws["s3"], BUCKET).record_outcome("batch_x", _outcome("running"))


def test_an_update_retries_on_a_concurrent_change(aws) -> None:
    store = Store(aws["s3"], BUCKET)
    store.create_batch(_record("in_progress"))
    interfered = []

    def change(record: dict) -> dict:
        if not interfered:  # another writer cancels between this update's read and its write
            interfered.append(store.move(record["id"], "cancelling"))
        return records.transition(record, "finalizing", NOW)

    with pytest.raises(IllegalTransition, match="is cancelling: it cannot become finalizing"):
        store.update_batch("batch_" + "a" * 32, change)
    assert store.read_batch("batch_" + "a" * 32)["status"] == "cancelling"


def test_an_update_gives_up_after_its_attempts(aws) -> None:
    store = Store(aws["s3"], BUCKET)
    store.create_batch(_record())

    writes = []

    def change(record: dict) -> dict:
        writes.append(1)  # another writer changes the record between every read and write (S3's ETag is its MD5)
        store.put_json(records.batch_key(record["id"]), {**record, "metadata": {"n": str(len(writes))}})
        return {**record, "metadata": None}

    with pytest.raises(UpdateConflict):
        store.update_batch("batch_" + "a" * 32, change)
    assert len(writes) == records.UPDATE_ATTEMPTS


def test_a_batch_is_created_once(aws) -> None:
    store = Store(aws["s3"], BUCKET)
    assert store.create_batch(_record()) is True
    assert store.create_batch(_record("failed")) is False
    assert store.read_batch("batch_" + "a" * 32)["status"] == "validating"
