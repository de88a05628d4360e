"""The batch state in the payload bucket (docs/design/batch-jobs.md, "S3 layout"): ids, keys, the batch record and
its status transitions, file records, line outcomes and their counts.

The batch record is OpenAI's batch object (openai-python src/openai/types/batch.py) plus `caller`, `engine`,
`deadline` and `execution_arn`. Every change of it is a conditional write on the ETag read (S3 `If-Match`), retried on
a conflict, so the API's cancel and the steps' transitions never overwrite each other. A line's outcome is written
once (`If-None-Match: *`, the first writer wins), and its count marker after it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

# Ids: OpenAI's shapes (file-…, batch_…) with 32 hex characters, as inference ids have.
FILE_ID = re.compile(r"^file-[0-9a-f]{32}$")
BATCH_ID = re.compile(r"^batch_[0-9a-f]{32}$")
ID_HEX = 32

ENDPOINTS = ("/v1/chat/completions", "/v1/completions")
"""The `endpoint` (and each line's `url`) a batch takes, and the request shape its lines must have."""
SHAPE_OF_ENDPOINT = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}

STATUSES = ("validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled")
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
# docs/design/batch-jobs.md, "The batch record and object": validating → in_progress → finalizing → completed|expired;
# validating → failed; validating|in_progress → cancelling → cancelled; any open status → failed (MarkFailed).
TRANSITIONS: dict[str, frozenset[str]] = {
    "validating": frozenset({"in_progress", "failed", "cancelling"}),
    "in_progress": frozenset({"finalizing", "cancelling", "failed"}),
    "finalizing": frozenset({"completed", "expired", "failed"}),
    "cancelling": frozenset({"cancelled", "failed"}),
    **{status: frozenset() for status in TERMINAL},
}
TIMESTAMP_OF = {
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}
PRIVATE_FIELDS = ("caller", "engine", "deadline", "execution_arn")
"""The record's fields that are not OpenAI's: the API answers the object without them."""

OUTCOMES = ("completed", "failed", "expired", "cancelled")
# OpenAI counts a line that expired or was cancelled as failed (its request_counts have only these two).
COUNTED_AS = {"completed": "completed", "failed": "failed", "expired": "failed", "cancelled": "failed"}

_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict"}
_MISSING = {"404", "NoSuchKey", "NotFound"}
UPDATE_ATTEMPTS = 10


class IllegalTransition(Exception):
    """A batch status change the state diagram does not have, e.g. cancelling a completed batch."""

    def __init__(self, batch_id: str, current: str, wanted: str) -> None:
        super().__init__(f"batch {batch_id} is {current}: it cannot become {wanted}")
        self.current, self.wanted = current, wanted


class UpdateConflict(Exception):
    """The batch record kept changing under UPDATE_ATTEMPTS conditional writes."""


# Ids ---------------------------------------------------------------------------------------------------------------


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex}"


def new_batch_id() -> str:
    return f"batch_{uuid.uuid4().hex}"


def idempotent_batch_id(caller: str, idempotency_key: str) -> str:
    """The same caller and Idempotency-Key always name the same batch; different callers never collide."""
    # Its own namespace ("batch"): the same key sent to POST /invocations names an unrelated inference.
    digest = _hex("\n".join(("batch", caller, idempotency_key)))
    return f"batch_{digest}"


def result_file_id(batch_id: str, kind: str) -> str:
    """The batch's output (`kind` "output") or error file: fixed by the batch, so a retried Finalize rewrites it."""
    digest = _hex(f"{batch_id}\n{kind}")
    return f"file-{digest}"


def line_inference_id(batch_id: str, line: int) -> str:
    """sha256("<batch_id>\\n<line>")[:32] (the design's rule): a retried submit names the same inference."""
    return _hex(f"{batch_id}\n{line}")


def caller_hash(caller: str) -> str:
    return _hex(caller)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:ID_HEX]


# Keys --------------------------------------------------------------------------------------------------------------


def file_key(file_id: str) -> str:
    return f"files/{file_id}"


def file_record_key(file_id: str) -> str:
    return f"files/{file_id}.json"


def batch_prefix(batch_id: str) -> str:
    return f"batches/{batch_id}/"


def batch_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}batch.json"


def items_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}items.jsonl"


def bodies_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}bodies.jsonl"


def cancel_key(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}cancel"


def done_key(batch_id: str, line: int) -> str:
    return f"{batch_prefix(batch_id)}done/{line}.json"


def count_prefix(batch_id: str, counted_as: str) -> str:
    return f"{batch_prefix(batch_id)}count/{counted_as}/"


def caller_prefix(caller: str) -> str:
    return f"batches/by-caller/{caller_hash(caller)}/"


def input_key(inference_id: str) -> str:
    """The request object of a line's inference, where inference_api.inferences keeps every request."""
    return f"input/{inference_id}.json"


# The batch record --------------------------------------------------------------------------------------------------


def new_batch_record(
    *,
    batch_id: str,
    caller: str,
    engine: str,
    input_file_id: str,
    endpoint: str,
    completion_window: str,
    window_s: int,
    metadata: dict[str, str] | None,
    now: int,
) -> dict[str, Any]:
    """A batch as POST /batches creates it: validating, expiring `window_s` after its creation."""
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": endpoint,
        "errors": None,
        "input_file_id": input_file_id,
        "completion_window": completion_window,
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": now,
        "in_progress_at": None,
        "expires_at": now + window_s,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "metadata": metadata,
        "caller": caller,
        "engine": engine,
        "deadline": now + window_s,
        "execution_arn": None,
    }


def transition(record: dict[str, Any], status: str, now: int, **fields: Any) -> dict[str, Any]:
    """The record with `status` (its timestamp set to `now`) and `fields`, or IllegalTransition."""
    current = record["status"]
    if status not in TRANSITIONS[current]:
        raise IllegalTransition(record["id"], current, status)
    return {**record, **fields, "status": status, TIMESTAMP_OF[status]: now}


def public_batch(record: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's batch object: the record without its private fields."""
    return {key: value for key, value in record.items() if key not in PRIVATE_FIELDS}


def public_file(record: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's file object (openai-python src/openai/types/file_object.py): the record without its caller."""
    return {key: value for key, value in record.items() if key != "caller"}


def file_record(*, file_id: str, size: int, filename: str, purpose: str, caller: str, now: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": now,
        "filename": filename,
        "purpose": purpose,
        "caller": caller,
    }


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def is_conflict(error: ClientError) -> bool:
    return error_code(error) in _CONFLICT


def is_missing(error: ClientError) -> bool:
    return error_code(error) in _MISSING


class Store:
    """The payload bucket's batch and file objects. Raises botocore's errors for the caller to map (503, a retry)."""

    def __init__(self, s3: Any, bucket: str, clock: Callable[[], float] = time.time) -> None:
        self.s3, self.bucket, self.clock = s3, bucket, clock

    def now(self) -> int:
        return int(self.clock())

    # Objects

    def get_json(self, key: str) -> tuple[dict[str, Any], str] | None:
        """The object's JSON and ETag, or None if there is no such object."""
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        return json.loads(obj["Body"].read()), obj["ETag"]

    def put_json(self, key: str, value: Any, *, if_match: str | None = None, if_none_match: bool = False) -> bool:
        """Writes `value`; with a condition, False when it does not hold (another writer was first)."""
        condition: dict[str, str] = {}
        if if_match is not None:
            condition["IfMatch"] = if_match
        if if_none_match:
            condition["IfNoneMatch"] = "*"
        body = json.dumps(value, ensure_ascii=False).encode()
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition)
        except ClientError as error:
            if condition and is_conflict(error):
                return False
            raise
        return True

    def put_marker(self, key: str, *, once: bool = False) -> None:
        """An empty object; `once`: never rewritten (its LastModified is when it was first written)."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"", **({"IfNoneMatch": "*"} if once else {}))
        except ClientError as error:
            if not (once and is_conflict(error)):
                raise

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        return True

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise

    def keys(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under `prefix` (key, LastModified), all pages."""
        found: list[dict[str, Any]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(page.get("Contents", []))
        return found

    # Batches

    def read_batch(self, batch_id: str) -> dict[str, Any] | None:
        found = self.get_json(batch_key(batch_id))
        return found[0] if found else None

    def create_batch(self, record: dict[str, Any]) -> bool:
        """Writes a new batch record; False if a batch with this id exists (an Idempotency-Key's retry)."""
        return self.put_json(batch_key(record["id"]), record, if_none_match=True)

    def update_batch(self, batch_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
        """Applies `change` to the current record and writes it if the record did not change meanwhile, retrying on a
        conflict. `change` answers None to leave the record as it is, or raises (IllegalTransition) to refuse."""
        for _ in range(UPDATE_ATTEMPTS):
            found = self.get_json(batch_key(batch_id))
            if found is None:
                raise KeyError(batch_id)
            record, etag = found
            changed = change(record)
            if changed is None:
                return record
            if self.put_json(batch_key(batch_id), changed, if_match=etag):
                return changed
        raise UpdateConflict(f"batch {batch_id}: the record changed under {UPDATE_ATTEMPTS} attempts to update it")

    def move(self, batch_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """The batch, moved to `status` (IllegalTransition if its current status cannot become it)."""
        return self.update_batch(batch_id, lambda record: transition(record, status, self.now(), **fields))

    def is_cancelled(self, batch_id: str) -> bool:
        return self.exists(cancel_key(batch_id))

    # Files

    def read_file(self, file_id: str) -> dict[str, Any] | None:
        found = self.get_json(file_record_key(file_id))
        return found[0] if found else None

    # Line outcomes

    def record_outcome(self, batch_id: str, outcome: dict[str, Any]) -> bool:
        """Writes a line's outcome unless it has one (False then), and its count marker after it."""
        if outcome["status"] not in OUTCOMES:
            raise ValueError(f"a line's outcome is one of {', '.join(OUTCOMES)} (got {outcome['status']!r})")
        line = outcome["line"]
        if not self.put_json(done_key(batch_id, line), outcome, if_none_match=True):
            return False
        self.put_marker(f"{count_prefix(batch_id, COUNTED_AS[outcome['status']])}{line}")
        return True

    def read_outcome(self, batch_id: str, line: int) -> dict[str, Any] | None:
        found = self.get_json(done_key(batch_id, line))
        return found[0] if found else None

    def has_outcome(self, batch_id: str, line: int) -> bool:
        return self.exists(done_key(batch_id, line))

    def counts(self, batch_id: str) -> dict[str, int]:
        """Lines completed and failed so far, by listing their count markers."""
        return {kind: len(self.keys(count_prefix(batch_id, kind))) for kind in ("completed", "failed")}


def outcome(line: int, custom_id: str, inference_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """A line's outcome record (`done/<line>.json`)."""
    return {"line": line, "custom_id": custom_id, "inference_id": inference_id, "status": status, **fields}
