"""Submit and look up async inferences. All state is durable, in the payload bucket's input/ prefix:

- `input/<id>.json`            the TGI request, written first (conditionally: the idempotency lock)
- `input/<id>.invocation.json` the Output/FailureLocation SageMaker returned, written after the invoke

Status is read from those records and from the output/failure objects SageMaker writes, never memory.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

INFERENCE_ID_LENGTH = 32  # hex characters; well inside SageMaker's 1–64 InferenceId limit


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
    ) -> None:
        self._settings = settings
        self._s3 = s3
        self._runtime = sagemaker_runtime
        self._new_id = new_id
        self._sleep = sleep

    def _request_key(self, inference_id: str) -> str:
        return f"{self._settings.input_prefix}{inference_id}.json"

    def _record_key(self, inference_id: str) -> str:
        return f"{self._settings.input_prefix}{inference_id}.invocation.json"

    def submit(self, request: dict[str, Any], inference_id: str | None = None) -> Accepted:
        """Write the request, invoke the endpoint once, record where the result will be.

        With an `inference_id` (from an idempotency key) the request write is conditional: a second
        submit of the same id never invokes again and answers with the first one's locations.
        """
        inference_id = inference_id or self._new_id()
        request_key = self._request_key(inference_id)
        try:
            self._s3.put_object(
                Bucket=self._settings.bucket,
                Key=request_key,
                Body=json.dumps(request).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return self._wait_for_record(inference_id)
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
            # Leave nothing behind that a status call would report as an accepted inference.
            self._s3.delete_object(Bucket=self._settings.bucket, Key=request_key)
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            raise ServiceUnavailable(f"the endpoint did not accept the request: {code}") from error
        accepted = Accepted(inference_id, response["OutputLocation"], response.get("FailureLocation", ""))
        self._s3.put_object(
            Bucket=self._settings.bucket,
            Key=self._record_key(inference_id),
            Body=json.dumps(accepted.body()).encode(),
            ContentType="application/json",
        )
        return accepted

    def _read_record(self, inference_id: str) -> Accepted | None:
        try:
            obj = self._s3.get_object(Bucket=self._settings.bucket, Key=self._record_key(inference_id))
        except ClientError as error:
            if error_code(error) in {"NoSuchKey", "404"}:
                return None
            raise
        record = json.loads(obj["Body"].read())
        return Accepted(record["inferenceId"], record["outputLocation"], record["failureLocation"])

    def _wait_for_record(self, inference_id: str) -> Accepted:
        """A concurrent submit of the same id holds the lock: its record appears once it has invoked."""
        deadline = time.monotonic() + self._settings.wait_for_concurrent_submit_s
        while True:
            record = self._read_record(inference_id)
            if record is not None:
                return record
            if time.monotonic() >= deadline:
                raise ServiceUnavailable("the same Idempotency-Key is being submitted; retry shortly", 2)
            self._sleep(0.2)

    def _exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._settings.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def _read_location(self, location: str) -> bytes | None:
        if not location:
            return None
        parsed = urlparse(location)
        try:
            obj = self._s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        except ClientError as error:
            if error_code(error) in {"NoSuchKey", "404", "NoSuchBucket"}:
                return None
            raise
        return obj["Body"].read()

    def status(self, inference_id: str) -> dict[str, Any]:
        if not is_inference_id(inference_id):
            raise NotFound(inference_id)
        record = self._read_record(inference_id)
        if record is None:
            if self._exists(self._request_key(inference_id)):
                return {"inferenceId": inference_id, "status": "InProgress"}
            raise NotFound(inference_id)
        output = self._read_location(record.output_location)
        if output is not None:
            return {"inferenceId": inference_id, "status": "Completed", "result": _json_or_text(output)}
        failure = self._read_location(record.failure_location)
        if failure is not None:
            return {"inferenceId": inference_id, "status": "Failed", "failureReason": failure.decode(errors="replace")}
        return {"inferenceId": inference_id, "status": "InProgress"}


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
