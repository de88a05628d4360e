"""Batch Lambda tests: moto for S3 and Step Functions, botocore Stubber for SageMaker's refusals and throttling.

The batch Lambdas run with the inference API tests' environment (tests/api/runtime/conftest.py: the same engine,
bucket, endpoint and limits) plus the batch variables, through the same contract the construct renders.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from batch_jobs.contract import BatchApiEnvironment, BatchEnvironment

from tests.api.runtime.conftest import API_ENVIRONMENT, BUCKET
from tests.api.runtime.events import CHAT, answer, jsonl, rest_event

STATE_MACHINE_NAME = "llm-async-test-batches"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:123456789012:stateMachine:{STATE_MACHINE_NAME}"
CALLER = "arn:aws:iam::123456789012:role/app"
OTHER_CALLER = "arn:aws:iam::123456789012:role/someone-else"
MAX_LINES = 60
MAX_FILE_BYTES = 300_000
BATCH_ENVIRONMENT = BatchApiEnvironment(
    **{field.name: getattr(API_ENVIRONMENT, field.name) for field in dataclasses.fields(API_ENVIRONMENT)
       if field.name != "service_name"},
    max_file_bytes=MAX_FILE_BYTES,
    max_lines=MAX_LINES,
    completion_windows=("24h", "48h"),
    state_machine_arn=STATE_MACHINE_ARN,
)  # fmt: skip

# The inference handler was imported with its service name (tests/api/runtime/conftest.py); the batch modules read
# theirs as they are imported, and the variable goes back for the inference tests that share the process.
_api_service = os.environ["POWERTOOLS_SERVICE_NAME"]
os.environ.update(BATCH_ENVIRONMENT.render())
from batch_jobs import api, steps, tracker  # noqa: E402

os.environ["POWERTOOLS_SERVICE_NAME"] = _api_service
# Presigning calls no service: one SigV4 client for the session, made before any test patches boto3.client.
api._presigner()



class FakeContext:
    function_name = "batch"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:batch"
    aws_request_id = "req-1"


def batch_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    caller: str = CALLER,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    return rest_event(method, path, body, resource=path, stage="v1", caller=caller, headers=headers, query=query)


def call(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return answer(api.lambda_handler(event, FakeContext()))


def keys(s3: Any, prefix: str = "") -> list[str]:
    """The bucket's keys under `prefix`, less the wake rate-limit markers (tested in test_wake.py)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    found = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return sorted(k for k in found if not k.startswith("input/.wake/"))


def read_json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _clear_caches() -> None:
    for cached in (api._environment, api._s3, api._stepfunctions, api._store,
                   steps._environment, steps._limits, steps._s3, steps._runtime, steps._store, steps._waker,
                   tracker._store):  # fmt: skip
        if hasattr(cached, "cache_clear"):  # not while a test's monkeypatch replaces it (with_environment)
            cached.cache_clear()


@pytest.fixture
def batch_aws(aws: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The inference tests' moto mock (bucket, shared clients) with the batch state machine, and fresh Lambda caches."""
    _clear_caches()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Validate", "States": {"Validate": {"Type": "Pass", "End": True}}}
    sfn.create_state_machine(name=STATE_MACHINE_NAME, definition=json.dumps(definition),
                             roleArn="arn:aws:iam::123456789012:role/batch-states")  # fmt: skip
    yield {**aws, "sfn": sfn}
    _clear_caches()


def with_environment(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> BatchEnvironment:
    """The step Lambdas' environment with `changes` (e.g. another engine or smaller limits)."""
    environment = dataclasses.replace(BATCH_ENVIRONMENT, **changes)
    monkeypatch.setattr(steps, "_environment", lambda: environment)
    monkeypatch.setattr(api, "_environment", lambda: environment)
    steps._limits.cache_clear()
    return environment


def upload(s3: Any, content: bytes, *, caller: str = CALLER) -> str:
    """A batch input file, as a client makes one: POST /files, then the PUT (here straight to moto)."""
    status, _, body = call(batch_event("POST", "/files", {"purpose": "batch", "filename": "in.jsonl", "bytes": len(content)},
                                       caller=caller))  # fmt: skip
    assert status == 200, body
    s3.put_object(Bucket=BUCKET, Key=f"files/{body['id']}", Body=content)
    return body["id"]


def create_batch(s3: Any, lines: list[Any], *, endpoint: str = CHAT, caller: str = CALLER) -> dict[str, Any]:
    file_id = upload(s3, jsonl(lines), caller=caller)
    request = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"}
    status, _, body = call(batch_event("POST", "/batches", request, caller=caller))
    assert status == 200, body
    return body


def validated(s3: Any, lines: list[Any], *, endpoint: str = CHAT) -> dict[str, Any]:
    """A batch created and through Validate: Validate's output."""
    batch = create_batch(s3, lines, endpoint=endpoint)
    return steps.validate({"batch_id": batch["id"]}, FakeContext())


def items(s3: Any, batch_id: str) -> list[dict[str, Any]]:
    raw = s3.get_object(Bucket=BUCKET, Key=f"batches/{batch_id}/items.jsonl")["Body"].read()
    return [json.loads(line) for line in raw.splitlines()]


def chunk_event(s3: Any, output: dict[str, Any], first: int = 0, size: int = 50) -> dict[str, Any]:
    """SubmitChunk's input as the Distributed Map's ItemBatcher builds it from Validate's output."""
    return {"BatchInput": {"batch_id": output["batch_id"], "deadline": output["deadline"]},
            "Items": items(s3, output["batch_id"])[first : first + size]}  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The handlers filter Powertools' warning of a flush without metrics (most steps publish none); pytest resets
    warning filters for each test, so the tests of this folder filter it the same way."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))
