"""The batch state machine's Lambda steps (docs/design/batch-jobs.md, "State machine"): `validate`, `wake`,
`submit_chunk`, `check_chunk`, `finalize` and `mark_failed`, each a Lambda handler whose input and output are the
states' (the construct names them `batch_jobs.steps.<name>`).

Every step may run again (a state's retry, a Lambda retried after a timeout): each reads the state it left in the
payload bucket and carries on, and every write is conditional or the same on a rerun. Items for the Distributed Map
carry a byte range into `bodies.jsonl` rather than the body itself: a chunk of 50 bodies up to api.max_body_bytes each
would exceed Step Functions' 256 KiB state payload.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import IO, Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from inference_api.inferences import RESULT_DEADLINE_MARGIN_S, Accepted
from inference_api.request import Limits
from inference_api.wake import Waker

from batch_jobs import contract, records
from batch_jobs.contract import BatchEnvironment
from batch_jobs.lines import Item, validate_file
from batch_jobs.records import IllegalTransition, Store, is_conflict, is_missing, outcome, transition

logger = Logger()
metrics = Metrics()
# Not every request or step has a metric to publish, which is no news: Powertools would warn at each such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

READ_CHUNK_BYTES = 1 << 20
"""Validate reads the input file 1 MiB at a time: a 200 MB file never sits in memory whole."""
RANGE_GET_MAX_BYTES = 8 << 20
"""SubmitChunk reads neighbouring bodies with one ranged GET, up to this many bytes a GET."""
FINALIZE_WINDOW = 512
"""Finalize reads this many lines' outcomes and results at a time, in parallel, and writes them in line order."""
FINALIZE_THREADS = 32
"""Parallel S3 GETs of Finalize: 50,000 lines one after the other at ~15 ms each would outlast a Lambda's 15 minutes."""

EXPIRED_ERROR = {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
CANCELLED_ERROR = {"code": "batch_cancelled", "message": "This request was not executed because the batch was cancelled."}
# A ClientError that a later attempt may not meet: throttling (429 or a throttling code) or the service's own failure
# (5xx). InvokeEndpointAsync's modelled errors are InternalFailure, ServiceUnavailable and ValidationError (botocore
# sagemaker-runtime service-2.json); throttling comes as ThrottlingException; S3's as SlowDown (503).
_TRANSIENT_CODES = {
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
    "ServiceUnavailable", "InternalFailure", "InternalError", "InternalServerError", "RequestTimeout",
}  # fmt: skip
# SageMaker's failureReason names the container's HTTP status: "ClientError: Received server error (500) from model."
_FAILURE_STATUS = re.compile(r"\((\d{3})\)")


class Throttled(Exception):
    """SageMaker or S3 throttled or failed (429, 5xx) while submitting: the SubmitChunk state retries on this error
    name (2 s, ×2, 6 attempts, full jitter). Lines submitted before it are not submitted again."""


# Clients and settings, one per Lambda instance -------------------------------------------------------------------------


@cache
def _environment() -> BatchEnvironment:
    return BatchEnvironment.from_environ(os.environ)


@cache
def _limits() -> Limits:
    return Limits.of(_environment())


@cache
def _s3():  # noqa: ANN202  (a boto3 client, shared by the threads of Finalize: clients are thread-safe)
    return boto3.client("s3")


@cache
def _runtime():  # noqa: ANN202
    return boto3.client("sagemaker-runtime")


@cache
def _store() -> Store:
    return Store(_s3(), _environment().bucket_name)


@cache
def _waker() -> Waker:
    return Waker.for_endpoint(_environment(), _s3())


def _read_batch(store: Store, batch_id: str) -> dict[str, Any]:
    """The record of the batch a step was started for: POST /batches writes it before it starts the state machine, so
    a missing one is a fault (KeyError fails the step)."""
    record = store.read_batch(batch_id)
    if record is None:
        raise KeyError(f"no batch {batch_id}")
    return record


def _count(name: str, value: int = 1) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# Validate ------------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def validate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"batch_id"} → {"batch_id", "valid", "total", "items_key", "deadline"}: every line checked before anything is
    invoked; a valid file's items written and the batch in_progress, an invalid one's batch failed with its errors. A
    batch cancelled while validating is cancelled here (valid false: nothing to submit)."""
    batch_id = event["batch_id"]
    logger.append_keys(batch_id=batch_id)
    store = _store()
    record = _read_batch(store, batch_id)
    if record["status"] == "validating":
        record = _validate(store, record)
    elif record["status"] == "cancelling":
        record = store.update_batch(batch_id, _cancelled_while_validating(store))
    valid = record["status"] in ("in_progress", "finalizing", "completed", "expired")
    logger.info("validated", extra={"status": record["status"], "total": record["request_counts"]["total"]})
    return {
        "batch_id": batch_id,
        "valid": valid,
        "total": record["request_counts"]["total"],
        "items_key": records.items_key(batch_id),
        "deadline": record["deadline"],
    }


def _cancelled_while_validating(store: Store):  # noqa: ANN202
    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        return transition(record, "cancelled", store.now()) if record["status"] == "cancelling" else None

    return change


def _validate(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    env = _environment()
    batch_id = record["id"]
    key = records.file_key(record["input_file_id"])
    try:
        body = store.s3.get_object(Bucket=store.bucket, Key=key)["Body"]
    except ClientError as error:
        if not is_missing(error):
            raise
        return _fail_validation(store, batch_id, [{"code": "file_not_found", "line": None, "param": "input_file_id",
                                                   "message": f"input_file_id: {record['input_file_id']} has no content"}])  # fmt: skip
    with tempfile.TemporaryFile() as bodies, tempfile.TemporaryFile() as items:
        written = _ItemWriter(bodies, items)
        validation = validate_file(
            body.iter_chunks(READ_CHUNK_BYTES),
            batch_id=batch_id,
            endpoint=record["endpoint"],
            limits=_limits(),
            engine=record.get("engine") or env.engine,
            max_lines=env.max_lines,
            max_bytes=env.max_file_bytes,
            accept=written.add,
        )
        if not validation.valid:
            return _fail_validation(store, batch_id, [error.as_dict() for error in validation.errors])
        # The bodies first: an items.jsonl always names bodies that exist.
        for temporary, target, media_type in ((bodies, records.bodies_key(batch_id), "application/jsonl"),
                                              (items, records.items_key(batch_id), "application/jsonl")):  # fmt: skip
            temporary.seek(0)
            store.s3.put_object(Bucket=store.bucket, Key=target, Body=temporary, ContentType=media_type)
    counts = {"total": validation.total, "completed": 0, "failed": 0}

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if current["status"] == "cancelling":
            return transition(current, "cancelled", store.now())
        if current["status"] != "validating":
            return None
        return transition(current, "in_progress", store.now(), request_counts=counts)

    return store.update_batch(batch_id, change)


def _fail_validation(store: Store, batch_id: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if current["status"] == "cancelling":
            return transition(current, "cancelled", store.now())
        if current["status"] != "validating":
            return None
        return transition(current, "failed", store.now(), errors={"object": "list", "data": errors})

    record = store.update_batch(batch_id, change)
    _count(contract.BATCHES_FINISHED)
    logger.info("invalid file", extra={"errors": len(errors), "first_error": errors[0]})
    return record


class _ItemWriter:
    """Collects the valid lines: their bodies, one a line, in `bodies`; their items, with each body's byte range, in
    `items` (the Distributed Map's JSONL)."""

    def __init__(self, bodies: IO[bytes], items: IO[bytes]) -> None:
        self._bodies, self._items, self._offset = bodies, items, 0

    def add(self, item: Item) -> None:
        self._bodies.write(item.payload + b"\n")
        entry = {"line": item.line, "custom_id": item.custom_id, "inference_id": item.inference_id,
                 "offset": self._offset, "length": len(item.payload)}  # fmt: skip
        self._items.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        self._offset += len(item.payload) + 1


# Wake ----------------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def wake(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The input, plus "wake": what inference_api.wake.Waker did ('woken', 'warm', 'rate-limited', 'failed'). Once a
    batch, before its first line is submitted; never fails (the wake alarm remains the safety net)."""
    logger.append_keys(batch_id=event.get("batch_id"))
    result = _waker().wake_if_idle()
    logger.info("wake", extra={"wake": result})
    return {**event, "wake": result}


# SubmitChunk ---------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def submit_chunk(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"BatchInput": {"batch_id", "deadline"}, "Items": [item, ...]} → {"batch_id", "deadline", "lines"}: each line
    submitted once (its input/ object is the lock), or recorded cancelled (cancel marker) or expired (past the
    deadline) instead. Raises Throttled on throttling, having submitted the lines before."""
    batch_input, items = event["BatchInput"], event["Items"]
    batch_id, deadline = batch_input["batch_id"], int(batch_input["deadline"])
    logger.append_keys(batch_id=batch_id, first_line=items[0]["line"] if items else None)
    store = _store()
    record = _read_batch(store, batch_id)
    submitted = skipped = 0
    cancelled = False
    try:
        bodies = _bodies(store, batch_id, items)
        for item in items:
            cancelled = cancelled or store.is_cancelled(batch_id)
            if cancelled:
                store.record_outcome(batch_id, _item_outcome(item, "cancelled", error=CANCELLED_ERROR))
            elif store.now() >= deadline:
                store.record_outcome(batch_id, _item_outcome(item, "expired", error=EXPIRED_ERROR))
            elif _submit(store, record["caller"], batch_id, item, bodies[item["line"]]):
                submitted += 1
            else:
                skipped += 1
    except (ClientError, BotoCoreError) as error:
        if _transient(error):
            _count(contract.BATCH_SUBMISSIONS_THROTTLED)
            raise Throttled(f"{_describe(error)} after {submitted} lines of this chunk") from error
        raise
    finally:
        _count(contract.BATCH_LINES_SUBMITTED, submitted)
    logger.info("chunk submitted", extra={"submitted": submitted, "already_submitted": skipped, "cancelled": cancelled})
    return {"batch_id": batch_id, "deadline": deadline, "lines": [item["line"] for item in items]}


def _item_outcome(item: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    return outcome(item["line"], item["custom_id"], item["inference_id"], status, **fields)


def _bodies(store: Store, batch_id: str, items: list[dict[str, Any]]) -> dict[int, bytes]:
    """Each item's body from bodies.jsonl: neighbouring ranges with one ranged GET, up to RANGE_GET_MAX_BYTES each."""
    found: dict[int, bytes] = {}
    for run in _runs(sorted(items, key=lambda item: item["offset"])):
        start, end = run[0]["offset"], run[-1]["offset"] + run[-1]["length"]  # end exclusive
        data = store.s3.get_object(Bucket=store.bucket, Key=records.bodies_key(batch_id), Range=f"bytes={start}-{end - 1}")
        data = data["Body"].read()
        for item in run:
            found[item["line"]] = data[item["offset"] - start : item["offset"] - start + item["length"]]
    return found


def _runs(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    run: list[dict[str, Any]] = []
    for item in items:
        if run:
            end = run[-1]["offset"] + run[-1]["length"] + 1
            if item["offset"] != end or item["offset"] + item["length"] - run[0]["offset"] > RANGE_GET_MAX_BYTES:
                yield run
                run = []
        run.append(item)
    if run:
        yield run


def _submit(store: Store, caller: str, batch_id: str, item: dict[str, Any], payload: bytes) -> bool:
    """Writes the line's request (conditionally: the lock) and invokes the endpoint with its inference id. False if an
    earlier attempt holds the lock (submitted already, or refused and recorded failed)."""
    env = _environment()
    inference_id, key = item["inference_id"], records.input_key(item["inference_id"])
    try:
        store.s3.put_object(
            Bucket=store.bucket,
            Key=key,
            Body=payload,
            ContentType="application/json",
            # As inference_api.inferences writes a request, plus the line it comes from, which the tracker reads.
            Metadata={"caller": caller, "request-sha256": hashlib.sha256(payload).hexdigest(),
                      "batch-id": batch_id, "batch-line": str(item["line"])},  # fmt: skip
            IfNoneMatch="*",
        )
    except ClientError as error:
        if is_conflict(error):
            return False
        raise
    try:
        response = _runtime().invoke_endpoint_async(
            EndpointName=env.endpoint_name,
            InputLocation=f"s3://{store.bucket}/{key}",
            InferenceId=inference_id,
            ContentType="application/json",
            Accept="application/json",
            RequestTTLSeconds=env.request_ttl_s,
            InvocationTimeoutSeconds=env.invocation_timeout_s,
        )
    except (ClientError, BotoCoreError) as error:
        if _transient(error):
            # Free the lock so that the state's retry submits this line; should the delete fail too, the line stays
            # open and CheckChunk records it failed once no result can come any more.
            try:
                store.s3.delete_object(Bucket=store.bucket, Key=key)
            except (ClientError, BotoCoreError):
                logger.warning("could not release a throttled line's lock", extra={"line": item["line"]})
            raise
        # A refusal no retry changes (ValidationError): the line fails; its request stays, so no retry invokes it.
        failure = {"code": "submit_failed", "message": f"the endpoint refused the request: {_describe(error)}"}
        store.record_outcome(batch_id, _item_outcome(item, "failed", error=failure))
        return False
    _write_invocation_record(store, caller, Accepted(inference_id, response["OutputLocation"], response.get("FailureLocation", "")))
    return True


def _write_invocation_record(store: Store, caller: str, accepted: Accepted) -> None:
    """inference_api.inferences' record of an accepted inference (input/<id>.invocation.json), so that GET
    /invocations/{id} answers a batch line's inference as it answers any other. Best effort, as there: the line is
    queued whatever happens here."""
    body = {**accepted.body(), "caller": caller, "endpointName": _environment().endpoint_name}
    try:
        store.put_json(f"input/{accepted.inference_id}.invocation.json", body)
    except (ClientError, BotoCoreError):
        logger.warning("could not write the invocation record", extra={"inference_id": accepted.inference_id})


def _transient(error: Exception) -> bool:
    if isinstance(error, BotoCoreError):
        return True  # no answer (connection, timeout): worth another attempt
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return records.error_code(error) in _TRANSIENT_CODES or status == 429 or status >= 500


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{records.error_code(error)}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    return type(error).__name__


# CheckChunk ----------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def check_chunk(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"batch_id", "deadline", "lines"} → the same plus "done": whether every line has its outcome. Past the deadline
    or once cancelled, the lines still open are recorded expired or cancelled and the chunk is done. A line whose
    request has waited longer than its TTL and invocation timeout without a result is recorded failed."""
    batch_id, deadline, lines = event["batch_id"], int(event["deadline"]), event["lines"]
    logger.append_keys(batch_id=batch_id, first_line=lines[0] if lines else None)
    store = _store()
    if store.is_cancelled(batch_id):
        closed = _close_open_lines(store, batch_id, lines, "cancelled", CANCELLED_ERROR)
        logger.info("chunk cancelled", extra={"recorded": closed})
        return {**event, "done": True}
    if store.now() >= deadline:
        closed = _close_open_lines(store, batch_id, lines, "expired", EXPIRED_ERROR)
        logger.info("chunk expired", extra={"recorded": closed})
        return {**event, "done": True}
    for line in lines:
        # Lines are submitted in order: the first still waiting for its result is as far as this check needs to go.
        if not store.has_outcome(batch_id, line) and not _settle_if_no_result_can_come(store, batch_id, line):
            return {**event, "done": False}
    return {**event, "done": True}


def _close_open_lines(store: Store, batch_id: str, lines: list[int], status: str, error: dict[str, str]) -> int:
    """Records `status` for each line without an outcome (the tracker's, should it come later, loses: first writer wins).
    The custom_id is left for Finalize to take from items.jsonl."""
    closed = 0
    for line in lines:
        if not store.has_outcome(batch_id, line):
            closed += store.record_outcome(batch_id, outcome(line, None, records.line_inference_id(batch_id, line), status, error=error))
    return closed


def _settle_if_no_result_can_come(store: Store, batch_id: str, line: int) -> bool:
    """Records a line failed if its result can no longer arrive: its request is gone, or older than the request TTL
    plus the invocation timeout (and inference_api's margin), as inference_api.inferences judges an inference."""
    env = _environment()
    inference_id = records.line_inference_id(batch_id, line)
    head = store.head(records.input_key(inference_id))
    if head is None:
        error = {"code": "not_submitted", "message": "the line's request was not found and no result was recorded"}
    elif store.now() - head["LastModified"].timestamp() > env.request_ttl_s + env.invocation_timeout_s + RESULT_DEADLINE_MARGIN_S:
        error = {"code": "no_result", "message": "no result within the request TTL and invocation timeout"}
    else:
        return False
    store.record_outcome(batch_id, outcome(line, None, inference_id, "failed", error=error))
    return True


# Finalize ------------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def finalize(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"batch_id"} → {"batch_id", "status"}: the batch finalizing (a cancelling one stays cancelling), its output and
    error files written in line order (OpenAI's request output objects), then completed, expired or cancelled with its
    counts. A line without an outcome by now (its chunk failed) is recorded cancelled, expired or failed."""
    batch_id = event["batch_id"]
    logger.append_keys(batch_id=batch_id)
    store = _store()
    record = _read_batch(store, batch_id)
    if record["status"] in records.TERMINAL:
        return {"batch_id": batch_id, "status": record["status"]}

    def start(current: dict[str, Any]) -> dict[str, Any] | None:
        if current["status"] == "in_progress":
            return transition(current, "finalizing", store.now())
        if current["status"] in ("finalizing", "cancelling"):
            return None
        raise IllegalTransition(batch_id, current["status"], "finalizing")

    record = store.update_batch(batch_id, start)
    assembled = _assemble(store, record)
    if record["status"] == "cancelling":
        status = "cancelled"
    else:
        status = "expired" if assembled.expired else "completed"
    counts = {"total": assembled.total, "completed": assembled.completed, "failed": assembled.failed}

    def finish(current: dict[str, Any]) -> dict[str, Any] | None:
        if current["status"] in records.TERMINAL:
            return None
        fields = {"output_file_id": assembled.output_file_id, "error_file_id": assembled.error_file_id, "request_counts": counts}
        return transition(current, status, store.now(), **fields)

    record = store.update_batch(batch_id, finish)
    _count(contract.BATCHES_FINISHED)
    logger.info("finalized", extra={"status": record["status"], **counts})
    return {"batch_id": batch_id, "status": record["status"]}


@dataclasses.dataclass
class _Assembled:
    total: int = 0
    completed: int = 0
    failed: int = 0
    expired: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None


def _assemble(store: Store, record: dict[str, Any]) -> _Assembled:
    batch_id = record["id"]
    result = _Assembled()
    items = store.s3.get_object(Bucket=store.bucket, Key=records.items_key(batch_id))["Body"]
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors, ThreadPoolExecutor(FINALIZE_THREADS) as pool:
        for window in _windows(items.iter_lines(), FINALIZE_WINDOW):
            for item, done, body in pool.map(lambda item: _line_result(store, record, item), window):
                result.total += 1
                result.expired = result.expired or done["status"] == "expired"
                line = _output_line(item, done, body)
                if done["status"] == "completed" and line["error"] is None:
                    result.completed += 1
                    output.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                else:
                    result.failed += 1
                    errors.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        # OpenAI sets output_file_id and error_file_id only when the file has a line.
        if result.completed:
            result.output_file_id = _write_result_file(store, record, "output", output)
        if result.failed:
            result.error_file_id = _write_result_file(store, record, "error", errors)
    return result


def _windows(lines: Iterator[bytes], size: int) -> Iterator[list[dict[str, Any]]]:
    window: list[dict[str, Any]] = []
    for raw in lines:
        if raw.strip():
            window.append(json.loads(raw))
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _line_result(store: Store, record: dict[str, Any], item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The item, its outcome (recorded now if it has none) and the engine's answer: the result for a completed line,
    the failure object (if SageMaker's notification named it) for a failed one."""
    batch_id, line = record["id"], item["line"]
    done = store.read_outcome(batch_id, line)
    if done is None:
        if store.is_cancelled(batch_id):
            status, error = "cancelled", CANCELLED_ERROR
        elif store.now() >= int(record["deadline"]):
            status, error = "expired", EXPIRED_ERROR
        else:
            status, error = "failed", {"code": "not_submitted", "message": "the line could not be submitted (its chunk failed)"}
        store.record_outcome(batch_id, _item_outcome(item, status, error=error))
        done = store.read_outcome(batch_id, line)  # the first writer's, which may be the tracker's
        assert done is not None
    location = done.get("output_location") if done["status"] == "completed" else done.get("failure_location")
    return item, done, _read_location(store, location) if location else None


_UNREADABLE = object()


def _read_location(store: Store, location: str) -> Any:
    parsed = urlparse(location)
    try:
        data = store.s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except ClientError as error:
        if is_missing(error):
            return _UNREADABLE
        raise
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def _output_line(item: dict[str, Any], done: dict[str, Any], body: Any) -> dict[str, Any]:
    """OpenAI's request output object (openapi.yaml BatchRequestOutput: id, custom_id, response {status_code,
    request_id, body}, error {code, message}). As OpenAI does, an answer with an HTTP status carries it in `response`
    (4xx/5xx in the error file), and `error` is for a line that got no answer (expired, cancelled, not submitted)."""
    inference_id = item["inference_id"]
    line = {"id": f"batch_req_{inference_id}", "custom_id": item["custom_id"], "response": None, "error": None}
    if done["status"] == "completed":
        if body is _UNREADABLE:
            line["error"] = {"code": "result_missing", "message": f"the result at {done.get('output_location')} is gone"}
        else:
            line["response"] = {"status_code": 200, "request_id": inference_id, "body": body}
        return line
    error = done.get("error") or {"code": "failed", "message": "failed"}
    status = _FAILURE_STATUS.search(error.get("message", "")) if done["status"] == "failed" else None
    if status and error.get("code") == "inference_failed":
        answer = body if body not in (None, _UNREADABLE) else {"error": {"message": error["message"], "type": "inference_failed"}}
        line["response"] = {"status_code": int(status.group(1)), "request_id": inference_id, "body": answer}
    else:
        line["error"] = {"code": error.get("code"), "message": error.get("message")}
    return line


def _write_result_file(store: Store, record: dict[str, Any], kind: str, content: IO[bytes]) -> str:
    """The batch's output or error file: files/<id> and its record (purpose batch_output), owned by the batch's caller.
    Its id is fixed by the batch: a rerun of Finalize rewrites the same file."""
    file_id = records.result_file_id(record["id"], kind)
    size = content.tell()
    content.seek(0)
    store.s3.put_object(Bucket=store.bucket, Key=records.file_key(file_id), Body=content, ContentType="application/jsonl")
    file = records.file_record(file_id=file_id, size=size, filename=f"{record['id']}_{kind}.jsonl", purpose="batch_output",
                               caller=record["caller"], now=store.now())  # fmt: skip
    store.put_json(records.file_record_key(file_id), file)
    return file_id


# MarkFailed ----------------------------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def mark_failed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{"batch_id", "error": {"Error", "Cause"}} (a Catch's ResultPath "$.error") → {"batch_id", "status"}: an open
    batch failed with errors.data [{"code": "internal_error", "message"}]; a finished one is left as it is."""
    batch_id = event["batch_id"]
    logger.append_keys(batch_id=batch_id)
    message = _caught(event.get("error") or {})
    store = _store()

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if current["status"] in records.TERMINAL:
            return None
        errors = {"object": "list", "data": [{"code": "internal_error", "message": message, "param": None, "line": None}]}
        return transition(current, "failed", store.now(), errors=errors)

    record = store.update_batch(batch_id, change)
    if record["status"] == "failed":
        _count(contract.BATCHES_FINISHED)
    logger.error("batch failed", extra={"reason": message, "status": record["status"]})
    return {"batch_id": batch_id, "status": record["status"]}


def _caught(error: dict[str, Any]) -> str:
    """A Step Functions error as one line: its name and, for a Lambda's error, the message from its Cause (JSON with
    errorMessage and errorType)."""
    name, cause = str(error.get("Error") or "States.Runtime"), error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        cause = str(parsed["errorMessage"])
    text = f"{name}: {cause}" if cause else name
    return text if len(text) <= 1000 else f"{text[:997]}..."
