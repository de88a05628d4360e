"""The batch API (docs/design/batch-jobs.md, "API"): API Gateway (REST, proxy, IAM auth) entry point of the six
routes, in the inference API's style: one structured log line per request, `{"error": {"code", "message"}}` for every
refusal, a 400 naming the field and what it allows with nothing written.

Files and batches are their creator's alone: another caller's id is 404, never 403 (no existence oracle). Uploads and
downloads go straight to S3 by presigned URL: an input file may be 200 MB, API Gateway takes 10 MB.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from inference_api.gateway import (
    IDEMPOTENCY_HEADER,
    answer_refusals,
    caller_of,
    decoded_body,
    idempotency_key,
    json_response,
    lambda_entry_point,
    unavailable_response,
)
from inference_api.inferences import ServiceUnavailable
from inference_api.request import RequestError

from batch_jobs import contract, records
from batch_jobs.contract import BatchApiEnvironment
from batch_jobs.records import BATCH_ID, ENDPOINTS, FILE_ID, IllegalTransition, Store

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Not every request or step has a metric to publish, which is no news: Powertools would warn at each such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")
app = APIGatewayRestResolver()
UPLOAD_URL_EXPIRY_S = 3600
"""How long a presigned PUT or GET stays valid. It is signed with the Lambda role's session, which may end sooner: a
client whose upload is refused asks POST /files for a new file."""
DOWNLOAD_URL_EXPIRY_S = 3600
JSONL = "application/jsonl"
FILENAME_MAX = 255
METADATA_KEYS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 16, 64, 512
LIST_DEFAULT, LIST_MAX = 20, 100
CANCELLABLE = ("validating", "in_progress")
COUNTING = ("in_progress", "finalizing", "cancelling")
"""Statuses whose request_counts are read from the count markers (the record has them once the batch is finished)."""


@cache
def _environment() -> BatchApiEnvironment:
    return BatchApiEnvironment.from_environ(os.environ)


@cache
def _s3():  # noqa: ANN202  (a boto3 client; created once per Lambda instance, shared)
    return boto3.client("s3")


@cache
def _presigner():  # noqa: ANN202
    # SigV4 query signing: the only kind S3 takes for a KMS-encrypted object; it signs Content-Length and Content-Type
    # of a PUT (X-Amz-SignedHeaders), so S3 refuses an upload of any other size.
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))


@cache
def _stepfunctions():  # noqa: ANN202
    return boto3.client("stepfunctions")


@cache
def _store() -> Store:
    return Store(_s3(), _environment().bucket_name)


def _invalid(message: str) -> RequestError:
    return RequestError(400, "InvalidParameter", message)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _body(allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object, with no field but `allowed` and every one of `required`."""
    event = app.current_event
    raw: bytes | str = decoded_body(app) if event.is_base64_encoded else event.body or ""
    try:
        request = json.loads(raw)
    except ValueError as error:
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object ({error})") from None
    if not isinstance(request, dict):
        raise RequestError(400, "MalformedJson", f"body: must be a JSON object (got {type(request).__name__})")
    unknown = sorted(set(request) - set(allowed))
    if unknown:
        raise _invalid(f"{unknown[0]}: must be one of {', '.join(sorted(allowed))} (got {_shown(unknown[0])})")
    for name in required:
        if name not in request:
            raise _invalid(f"{name}: is required")
    return request


# Files ---------------------------------------------------------------------------------------------------------------


@app.post("/files")
def create_file() -> Response:
    """A file record and a presigned PUT for its content, signed with the declared length."""
    env = _environment()
    request = _body(("purpose", "filename", "bytes"), ("purpose", "filename", "bytes"))
    if request["purpose"] != "batch":
        raise _invalid(f"purpose: must be batch (got {_shown(request['purpose'])})")
    filename = request["filename"]
    if not isinstance(filename, str) or not 1 <= len(filename) <= FILENAME_MAX:
        raise _invalid(f"filename: must be a string of 1–{FILENAME_MAX} characters (got {_shown(filename)})")
    size = request["bytes"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= env.max_file_bytes:
        raise _invalid(f"bytes: must be an integer from 1 to {env.max_file_bytes} (got {_shown(size)})")
    store = _store()
    file_id = records.new_file_id()
    logger.append_keys(file_id=file_id)
    record = records.file_record(file_id=file_id, size=size, filename=filename, purpose="batch", caller=caller_of(app), now=store.now())
    store.put_json(records.file_record_key(file_id), record)
    url = _presigner().generate_presigned_url(
        "put_object",
        Params={"Bucket": store.bucket, "Key": records.file_key(file_id), "ContentLength": size, "ContentType": JSONL},
        ExpiresIn=UPLOAD_URL_EXPIRY_S,
    )
    upload = {
        "url": url,
        "method": "PUT",
        "headers": {"Content-Length": str(size), "Content-Type": JSONL},
        "expires_at": store.now() + UPLOAD_URL_EXPIRY_S,
    }
    return json_response(HTTPStatus.OK, {**records.public_file(record), "upload": upload})


@app.get("/files/<file_id>/content")
def file_content(file_id: str) -> Response:
    """303 to a presigned GET of the content: an output file may exceed what API Gateway answers."""
    logger.append_keys(file_id=file_id)
    store = _store()
    _owned_file(store, file_id)
    if not store.exists(records.file_key(file_id)):
        raise RequestError(409, "FileNotUploaded", f"file_id: {file_id} has no content yet; upload it with the URL POST /files answered")
    url = _presigner().generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket, "Key": records.file_key(file_id)}, ExpiresIn=DOWNLOAD_URL_EXPIRY_S
    )
    return json_response(HTTPStatus.SEE_OTHER, {"url": url}, {"Location": url})


def _owned_file(store: Store, file_id: str) -> dict[str, Any]:
    record = store.read_file(file_id) if FILE_ID.match(file_id) else None
    if record is None or record.get("caller") != caller_of(app):
        raise RequestError(404, "NotFound", f"no file {file_id!r}")
    return record


# Batches -------------------------------------------------------------------------------------------------------------


@app.post("/batches")
def create_batch() -> Response:
    """A validating batch, and its state machine started with the batch id as the execution's name. With an
    Idempotency-Key, the same key (and body) answers the same batch, never a second one."""
    env = _environment()
    request = _body(("input_file_id", "endpoint", "completion_window", "metadata"), ("input_file_id", "endpoint", "completion_window"))
    input_file_id = request["input_file_id"]
    if not isinstance(input_file_id, str) or not FILE_ID.match(input_file_id):
        raise _invalid(f"input_file_id: must be a file id, file- and 32 hex characters (got {_shown(input_file_id)})")
    if request["endpoint"] not in ENDPOINTS:
        raise _invalid(f"endpoint: must be one of {', '.join(ENDPOINTS)} (got {_shown(request['endpoint'])})")
    window = request["completion_window"]
    if window not in env.completion_windows:
        raise _invalid(f"completion_window: must be one of {', '.join(env.completion_windows)} (got {_shown(window)})")
    metadata = _metadata(request.get("metadata"))
    key = idempotency_key(app)
    store, caller = _store(), caller_of(app)
    file = _owned_file(store, input_file_id)
    if file["purpose"] != "batch":
        raise _invalid(f"input_file_id: must be a file of purpose batch (got one of purpose {file['purpose']})")
    if not store.exists(records.file_key(input_file_id)):
        raise _invalid(f"input_file_id: {input_file_id} has no content yet; upload it with the URL POST /files answered")
    batch_id = records.idempotent_batch_id(caller, key) if key else records.new_batch_id()
    logger.append_keys(batch_id=batch_id)
    record = records.new_batch_record(
        batch_id=batch_id, caller=caller, engine=env.engine, input_file_id=input_file_id, endpoint=request["endpoint"],
        completion_window=window, window_s=env.window_seconds(window), metadata=metadata, now=store.now(),
    )  # fmt: skip
    created = store.create_batch(record)
    if not created:
        record = _same_request(store, record)
    # Written once: GET /batches orders the caller's batches by when their markers were written.
    store.put_marker(f"{records.caller_prefix(caller)}{batch_id}", once=True)
    if not record.get("execution_arn"):
        arn = _start(store, batch_id, created)
        record = store.update_batch(batch_id, lambda current: None if current.get("execution_arn") else {**current, "execution_arn": arn})
    if created:
        metrics.add_metric(name=contract.BATCHES_CREATED, unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.OK, _answer(store, record))


def _metadata(metadata: Any) -> dict[str, str] | None:
    """OpenAI's metadata: at most 16 pairs, keys up to 64 characters, string values up to 512 (openai-python
    src/openai/types/batch_create_params.py)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > METADATA_KEYS:
        raise _invalid(f"metadata: must be an object of at most {METADATA_KEYS} keys (got {_shown(metadata)})")
    for name, value in metadata.items():
        if not 1 <= len(name) <= METADATA_KEY_MAX:
            raise _invalid(f"metadata: keys must be 1–{METADATA_KEY_MAX} characters (got {_shown(name)})")
        if not isinstance(value, str) or len(value) > METADATA_VALUE_MAX:
            raise _invalid(f"metadata.{name}: must be a string of at most {METADATA_VALUE_MAX} characters (got {_shown(value)})")
    return metadata


_REQUEST_FIELDS = ("input_file_id", "endpoint", "completion_window", "metadata")


def _same_request(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    """The batch an earlier request with this Idempotency-Key created, if it asked for the same."""
    existing = store.read_batch(record["id"])
    if existing is None:  # the earlier request's clean-up removed it meanwhile
        raise ServiceUnavailable("the same Idempotency-Key is being submitted; retry shortly", 2)
    if any(existing[name] != record[name] for name in _REQUEST_FIELDS):
        raise RequestError(422, "IdempotencyKeyReused", f"{IDEMPOTENCY_HEADER}: must not be reused with a different request body")
    return existing


def _start(store: Store, batch_id: str, created: bool) -> str:
    """Starts the state machine, named by the batch id. StartExecution is idempotent for a name and input of a running
    execution, and answers ExecutionAlreadyExists for a closed one (Step Functions API reference): either way the
    batch's execution, never a second."""
    state_machine_arn = _environment().state_machine_arn
    try:
        response = _stepfunctions().start_execution(
            stateMachineArn=state_machine_arn, name=batch_id, input=json.dumps({"batch_id": batch_id})
        )
        return response["executionArn"]
    except ClientError as error:
        if records.error_code(error) == "ExecutionAlreadyExists":
            # arn:aws:states:<region>:<account>:stateMachine:<name> → …:execution:<name>:<execution name>
            return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{batch_id}"
        failure: Exception = error
    except BotoCoreError as error:
        failure = error
    if created:
        # Leave no batch that nothing will ever run; a retry with the same Idempotency-Key creates it again.
        for key in (records.batch_key(batch_id), f"{records.caller_prefix(caller_of(app))}{batch_id}"):
            try:
                store.s3.delete_object(Bucket=store.bucket, Key=key)
            except (ClientError, BotoCoreError):
                logger.warning("could not remove a batch whose state machine did not start", extra={"key": key})
    code = records.error_code(failure) if isinstance(failure, ClientError) else type(failure).__name__
    raise ServiceUnavailable(f"could not start the batch: {code}") from failure


@app.get("/batches")
def list_batches() -> Response:
    """The caller's batches, newest first, `limit` of them after the batch `after`."""
    event = app.current_event
    limit_text = event.get_query_string_value("limit")
    limit = LIST_DEFAULT
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= LIST_MAX:
            raise _invalid(f"limit: must be an integer from 1 to {LIST_MAX} (got {_shown(limit_text)})")
        limit = int(limit_text)
    after = event.get_query_string_value("after")
    store, caller = _store(), caller_of(app)
    prefix = records.caller_prefix(caller)
    # The markers' own timestamps order them (S3 lists by key; batch ids are random): newest first, ties by id.
    markers = sorted(store.keys(prefix), key=lambda marker: (marker["LastModified"], marker["Key"]), reverse=True)
    ids = [marker["Key"].removeprefix(prefix) for marker in markers]
    start = 0
    if after is not None:
        if after not in ids:
            raise _invalid(f"after: must be the id of one of your batches (got {_shown(after)})")
        start = ids.index(after) + 1
    page = ids[start : start + limit]
    with ThreadPoolExecutor(max(1, min(16, len(page)))) as pool:
        found = list(pool.map(store.read_batch, page))
        data = list(pool.map(lambda record: _answer(store, record), [record for record in found if record is not None]))
    body = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ids),
    }
    return json_response(HTTPStatus.OK, body)


@app.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    logger.append_keys(batch_id=batch_id)
    store = _store()
    record = _owned_batch(store, batch_id)
    logger.append_keys(batch_status=record["status"])
    return json_response(HTTPStatus.OK, _answer(store, record))


@app.post("/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> Response:
    """Stops submitting: the marker first (SubmitChunk and CheckChunk read it), then the status."""
    logger.append_keys(batch_id=batch_id)
    store = _store()
    record = _owned_batch(store, batch_id)
    if record["status"] != "cancelling":
        if record["status"] not in CANCELLABLE:
            raise _not_cancellable(batch_id, record["status"])
        store.put_marker(records.cancel_key(batch_id))
        try:
            record = store.move(batch_id, "cancelling")
        except IllegalTransition as refused:
            if refused.current != "cancelling":
                raise _not_cancellable(batch_id, refused.current) from None
            record = _owned_batch(store, batch_id)
    return json_response(HTTPStatus.OK, _answer(store, record))


def _not_cancellable(batch_id: str, status: str) -> RequestError:
    return RequestError(409, "NotCancellable", f"batch_id: {batch_id} is {status}; only a validating or in_progress batch can be cancelled")


def _owned_batch(store: Store, batch_id: str) -> dict[str, Any]:
    record = store.read_batch(batch_id) if BATCH_ID.match(batch_id) else None
    if record is None or record.get("caller") != caller_of(app):
        raise RequestError(404, "NotFound", f"no batch {batch_id!r}")
    return record


def _answer(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's batch object; while lines run, its counts by listing their markers."""
    batch = records.public_batch(record)
    if record["status"] in COUNTING:
        batch["request_counts"] = {"total": record["request_counts"]["total"], **store.counts(record["id"])}
    return batch


# Errors and the entry point ------------------------------------------------------------------------------------------


answer_refusals(app, logger, metrics, contract.BATCH_REQUESTS_REJECTED)


@app.exception_handler(ServiceUnavailable)
def _unavailable(error: ServiceUnavailable) -> Response:
    return unavailable_response(logger, error)


@app.exception_handler(ClientError)
def _aws_error(error: ClientError) -> Response:
    # S3 or Step Functions refused or throttled a read or write of the batch's state: the client may retry.
    return _unavailable(ServiceUnavailable(f"could not read or write the batch's state: {records.error_code(error)}"))


@app.exception_handler(BotoCoreError)
def _aws_unreachable(error: BotoCoreError) -> Response:
    return _unavailable(ServiceUnavailable(f"could not read or write the batch's state: {type(error).__name__}"))


lambda_handler = lambda_entry_point(app, logger, tracer, metrics)
