"""Submit and look up async inferences. All state is durable, in the payload bucket's input/ prefix:

- `input/<id>.json`            the TGI request, written first (conditionally: the idempotency lock)
- `input/<id>.invocation.json` the Output/FailureLocation SageMaker returned and the endpoint's name,
                               written after the invoke

Status is read from those records and from the output/failure objects SageMaker writes, never memory.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from inference_api.request import RequestError
from inference_api.results import generated_text

INFERENCE_ID_LENGTH = 32  # hex characters; well inside SageMaker's 1–64 InferenceId limit
# A request object older than this without an invocation record was never accepted by the endpoint
# (its submit died or its invoke failed and the clean-up failed too): longer than the Lambda timeout.
STALE_SUBMISSION_S = 60
# SageMaker discards a request still queued after RequestTTLSeconds and stops one running longer than
# InvocationTimeoutSeconds; past both (plus this margin) no result can arrive any more.
RESULT_DEADLINE_MARGIN_S = 300
RECORD_WRITE_ATTEMPTS = 3
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class ServiceUnavailable(Exception):
    """SageMaker or S3 refused or failed: the client should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFound(Exception):
    """No inference with this id was ever accepted by this API."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    endpoint_name: str
    request_ttl_s: int
    invocation_timeout_s: int
    input_prefix: str = "input/"
    wait_for_concurrent_submit_s: float = 5.0


@dataclass(frozen=True)
class Accepted:
    inference_id: str
    output_location: str
    failure_location: str

    def body(self) -> dict[str, str]:
        return {
            "inferenceId": self.inference_id,
            "status": "InProgress",
            "outputLocation": self.output_location,
            "failureLocation": self.failure_location,
        }


def is_inference_id(value: str) -> bool:
    return len(value) == INFERENCE_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


def caller_identity(user_arn: str) -> str:
    """An assumed role's ARN without its session name: every session of a role is the same caller."""
    parts = user_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        return ":".join(parts[:5] + ["/".join(parts[5].split("/")[:2])])
    return user_arn


def idempotent_inference_id(caller: str, idempotency_key: str) -> str:
    """The same caller and key always name the same inference; different callers never collide."""
    return hashlib.sha256(f"{caller}\n{idempotency_key}".encode()).hexdigest()[:INFERENCE_ID_LENGTH]


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class Inferences:
    def __init__(
        self,
        settings: Settings,
        *,
        s3: Any,
        sagemaker_runtime: Any,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._settings, self._s3, self._runtime = settings, s3, sagemaker_runtime
        # Injected by tests: new ids, waiting and the clock.
        self._new_id, self._sleep, self._now = new_id, sleep, now

    def _request_key(self, inference_id: str) -> str:
        return f"{self._settings.input_prefix}{inference_id}.json"

    def _record_key(self, inference_id: str) -> str:
        return f"{self._settings.input_prefix}{inference_id}.invocation.json"

    def submit(self, payload: bytes, caller: str, inference_id: str | None = None) -> Accepted:
        """Write the request (`payload`, as the container receives it), invoke the endpoint once, record where the
        result will be.

        With an `inference_id` (from an idempotency key) the request write is conditional: a second
        submit of the same id never invokes again and answers with the first one's locations.
        """
        inference_id = inference_id or self._new_id()
        request_key = self._request_key(inference_id)
        digest = hashlib.sha256(payload).hexdigest()
        try:
            self._s3.put_object(
                Bucket=self._settings.bucket,
                Key=request_key,
                Body=payload,
                ContentType="application/json",
                Metadata={"caller": caller, "request-sha256": digest},
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return self._existing_submission(inference_id, digest)
            raise ServiceUnavailable(f"could not store the request: {error_code(error)}") from error
        except BotoCoreError as error:
            raise ServiceUnavailable("could not store the request") from error
        try:
            response = self._runtime.invoke_endpoint_async(
                EndpointName=self._settings.endpoint_name,
                InputLocation=f"s3://{self._settings.bucket}/{request_key}",
                InferenceId=inference_id,
                ContentType="application/json",
                Accept="application/json",
                RequestTTLSeconds=self._settings.request_ttl_s,
                InvocationTimeoutSeconds=self._settings.invocation_timeout_s,
            )
        except (ClientError, BotoCoreError) as error:
            # Leave nothing behind that a status call would report as accepted. Should the delete fail
            # too, status reports the stale request as Failed once STALE_SUBMISSION_S has passed.
            try:
                self._s3.delete_object(Bucket=self._settings.bucket, Key=request_key)
            except (ClientError, BotoCoreError):
                pass
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            raise ServiceUnavailable(f"the endpoint did not accept the request: {code}") from error
        accepted = Accepted(inference_id, response["OutputLocation"], response.get("FailureLocation", ""))
        self._write_record(accepted, caller)
        return accepted

    def _write_record(self, accepted: Accepted, caller: str) -> None:
        """The inference is queued whatever happens here: the client gets its 202 and locations."""
        record = json.dumps({**accepted.body(), "caller": caller, "endpointName": self._settings.endpoint_name}).encode()
        for _ in range(RECORD_WRITE_ATTEMPTS):
            try:
                self._s3.put_object(
                    Bucket=self._settings.bucket,
                    Key=self._record_key(accepted.inference_id),
                    Body=record,
                    ContentType="application/json",
                )
                return
            except (ClientError, BotoCoreError):
                self._sleep(0.2)

    def _read_record(self, inference_id: str) -> dict[str, Any] | None:
        """The invocation record, with `submittedAt` (epoch seconds) from when S3 stored it."""
        try:
            obj = self._s3.get_object(Bucket=self._settings.bucket, Key=self._record_key(inference_id))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise
        return {**json.loads(obj["Body"].read()), "submittedAt": obj["LastModified"].timestamp()}

    def _head_request(self, inference_id: str) -> dict[str, Any] | None:
        try:
            return self._s3.head_object(Bucket=self._settings.bucket, Key=self._request_key(inference_id))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise

    def _is_stale(self, head: dict[str, Any]) -> bool:
        return self._now() - head["LastModified"].timestamp() > STALE_SUBMISSION_S

    def _existing_submission(self, inference_id: str, digest: str) -> Accepted:
        """Another submit of this id holds the lock: answer with its inference once it has invoked."""
        deadline = time.monotonic() + self._settings.wait_for_concurrent_submit_s
        while True:
            record = self._read_record(inference_id)
            head = self._head_request(inference_id)
            if head is not None and head.get("Metadata", {}).get("request-sha256") != digest:
                raise RequestError(
                    422, "IdempotencyKeyReused", "Idempotency-Key: must not be reused with a different request body"
                )
            if record is not None:
                return Accepted(record["inferenceId"], record["outputLocation"], record["failureLocation"])
            if head is not None and self._is_stale(head):
                raise RequestError(
                    409,
                    "IdempotencyKeyFailed",
                    "Idempotency-Key: the submission with this key never reached the endpoint; use a new key",
                )
            if time.monotonic() >= deadline:
                raise ServiceUnavailable("the same Idempotency-Key is being submitted; retry shortly", 2)
            self._sleep(0.2)

    def _read_location(self, location: str) -> bytes | None:
        if not location:
            return None
        parsed = urlparse(location)
        try:
            obj = self._s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise
        return obj["Body"].read()

    def status(self, inference_id: str, caller: str) -> dict[str, Any]:
        """Only the caller that submitted an inference may see it; to anyone else it does not exist."""
        if not is_inference_id(inference_id):
            raise NotFound(inference_id)
        try:
            return self._status(inference_id, caller)
        except (ClientError, BotoCoreError) as error:
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            raise ServiceUnavailable(f"could not read the inference's state: {code}") from error

    def _status(self, inference_id: str, caller: str) -> dict[str, Any]:
        record = self._read_record(inference_id)
        if record is None:
            head = self._head_request(inference_id)
            if head is None or head.get("Metadata", {}).get("caller") != caller:
                raise NotFound(inference_id)
            if self._is_stale(head):
                reason = "the submission never reached the endpoint; submit again"
                return {"inferenceId": inference_id, "status": "Failed", "failureReason": reason}
            return {"inferenceId": inference_id, "status": "InProgress"}
        if record.get("caller") != caller:
            raise NotFound(inference_id)
        output = self._read_location(record["outputLocation"])
        if output is not None:
            result = _json_or_text(output)
            return {"inferenceId": inference_id, "status": "Completed", "result": result, "text": generated_text(result)}
        failure = self._read_location(record["failureLocation"])
        if failure is not None:
            return {"inferenceId": inference_id, "status": "Failed", "failureReason": failure.decode(errors="replace")}
        reason = self._no_result_possible(record)
        if reason:
            return {"inferenceId": inference_id, "status": "Failed", "failureReason": reason}
        return {"inferenceId": inference_id, "status": "InProgress"}

    def _no_result_possible(self, record: dict[str, Any]) -> str | None:
        """Why an inference without output or failure object can no longer get one, if it cannot."""
        age_s = self._now() - record["submittedAt"]
        queued_on = record.get("endpointName", self._settings.endpoint_name)
        if queued_on != self._settings.endpoint_name and age_s > self._settings.invocation_timeout_s:
            # A new instance type replaces the endpoint; the old one, with its queue, is deleted
            # minutes after the API switches (docs/operations.md: "Changing the model or the instance type").
            return (
                f"queued on endpoint {queued_on}, which was replaced by {self._settings.endpoint_name}"
                " before it produced a result; submit again"
            )
        if age_s > self._settings.request_ttl_s + self._settings.invocation_timeout_s + RESULT_DEADLINE_MARGIN_S:
            return "no result within the request TTL and invocation timeout; submit again"
        return None


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
