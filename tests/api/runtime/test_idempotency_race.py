"""Concurrent retries with one Idempotency-Key: one request object, one invocation, one inference id."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from inference_api import handler
from moto.s3.responses import S3Response

from tests.api.runtime.conftest import api_event, call, objects

RACERS = 8


@pytest.fixture
def atomic_conditional_put(monkeypatch):
    """S3 lets exactly one `If-None-Match: *` PUT of a key succeed; moto checks, then writes, unlocked.

    Serialising moto's PutObject restores S3's guarantee, so the test exercises our code, not moto's race.
    """
    original = S3Response.put_object
    lock = threading.Lock()

    def put_object(self):
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", put_object)


# Powertools' Metrics is one object per process: racing threads flush each other's metrics, and the
# thread that finds nothing left warns. Harmless here; each Lambda invocation has its own process.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_threads_racing_on_one_key_invoke_once(aws, atomic_conditional_put) -> None:
    runtime = handler._inferences()._runtime
    original = runtime.invoke_endpoint_async
    calls = []
    lock = threading.Lock()
    start = threading.Barrier(RACERS)

    def counting_invoke(**kwargs):
        with lock:
            calls.append(kwargs["InferenceId"])
        return original(**kwargs)

    runtime.invoke_endpoint_async = counting_invoke
    event = api_event("POST", "/invocations", {"inputs": "race"}, {"Idempotency-Key": "same-key"})

    def racer(_: int):
        start.wait()
        return call(event)

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(racer, range(RACERS)))
    statuses = {status for status, _, _ in results}
    ids = {body["inferenceId"] for status, _, body in results if status == 202}
    assert statuses == {202}
    assert len(ids) == 1
    assert calls == list(ids)
    (inference_id,) = ids
    assert sorted(objects(aws["s3"])) == [f"input/{inference_id}.invocation.json", f"input/{inference_id}.json"]
