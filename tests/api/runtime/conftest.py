"""Handler tests: moto for S3 and sagemaker-runtime, botocore Stubber for service errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from inference_api.contract import ApiEnvironment
from moto import mock_aws

from tests.api.runtime.events import answer, rest_event

BUCKET = "llm-async-payloads"
# The environment the construct writes, through the same contract (a smaller body and token budget).
API_ENVIRONMENT = ApiEnvironment(
    engine="tgi",
    bucket_name=BUCKET,
    endpoint_name="llm-async-test",
    wake_alarm_name="llm-async-test-wake",
    metrics_namespace="llm-async-test",
    request_ttl_s=21600,
    invocation_timeout_s=900,
    max_body_bytes=20000, max_inputs_bytes=16000,
    # A container with MAX_INPUT_TOKENS 1024 and MAX_TOTAL_TOKENS 2048; budgets 256 by default, 1024 at most.
    max_input_tokens=1024, max_total_tokens=2048, default_max_new_tokens=256, max_new_tokens=1024,
)
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "1",
    **API_ENVIRONMENT.render(),
}
os.environ.update(ENV)

from inference_api import handler  # noqa: E402  (reads its settings from the environment above)


class FakeContext:
    function_name = "inference-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference-api"
    aws_request_id = "req-1"


def api_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    caller: str = "arn:aws:iam::123456789012:role/app",
) -> dict[str, Any]:
    resource = "/invocations/{inferenceId}" if path.count("/") > 1 else "/invocations"
    return rest_event(method, path, body, resource=resource, stage="prod", caller=caller, headers=headers)


def call(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return answer(handler.lambda_handler(event, FakeContext()))


_create_client = boto3.client
_shared_clients: dict[tuple[str, str | None], Any] = {}


def _shared_client(service_name: str, *args: Any, **kwargs: Any) -> Any:
    """One boto3 client per service for the whole session: creating one costs ~0.1 s of CPU, and moto
    intercepts every client created after it is imported, whichever mock is active when it is called."""
    key = (service_name, kwargs.get("region_name"))
    if key not in _shared_clients:
        _shared_clients[key] = _create_client(service_name, *args, **kwargs)
    return _shared_clients[key]


def _undo_method_overrides() -> None:
    """Tests replace client methods on the instance (a failing delete, a counting invoke): drop them."""
    for client in _shared_clients.values():
        for name in [n for n in vars(client) if callable(getattr(type(client), n, None))]:
            delattr(client, name)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setattr(boto3, "client", _shared_client)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        _clear_clients()
        yield {"s3": s3}
        _clear_clients()
        _undo_method_overrides()


def _clear_clients() -> None:
    """Handler clients are cached per Lambda instance; each test gets fresh ones inside its moto mock."""
    for cached in (handler._s3, handler._inferences, handler._waker):
        cached.cache_clear()


def objects(s3: Any, bucket: str = BUCKET) -> list[str]:
    """The bucket's keys, less the wake rate-limit markers (tested in test_wake.py)."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [k for k in keys if not k.startswith("input/.wake/")]
