"""One structured log line per request, with its status and, whenever the request has one, the inference id."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.stub import Stubber
from inference_api import handler
from inference_api.inferences import caller_identity, idempotent_inference_id

from tests.api.runtime.conftest import api_event, call

PROMPT = {"inputs": "What are cookies?"}
CALLER = "arn:aws:iam::123456789012:role/app"


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """Reads back what the handler's logger wrote during the test (Powertools writes one JSON per line)."""
    stream = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


def test_accepted_submit_is_one_line_with_the_inference_id(aws, log_lines) -> None:
    status, _, body = call(api_event("POST", "/invocations", PROMPT))
    assert status == 202
    (line,) = log_lines()
    assert (line["level"], line["message"], line["status"]) == ("INFO", "request", 202)
    assert line["inference_id"] == body["inferenceId"]
    assert (line["method"], line["resource"], line["api_request_id"]) == ("POST", "/invocations", "r-1")
    assert line["function_request_id"] == "req-1"  # the Lambda context, injected by Powertools


@pytest.mark.parametrize("outcome", ["woken", "warm", "failed", "rate-limited"])
def test_accepted_submit_logs_the_wake_outcome(aws, log_lines, monkeypatch: pytest.MonkeyPatch, outcome: str) -> None:
    # Each of Waker.wake_if_idle's outcomes, as the waker reports it (its own rules are in test_wake.py).
    monkeypatch.setattr(handler._waker(), "wake_if_idle", lambda: outcome)
    call(api_event("POST", "/invocations", PROMPT))
    (line,) = log_lines()
    assert line["wake"] == outcome


@pytest.mark.parametrize(("finished", "state"), [(True, "Completed"), (False, "InProgress")])
def test_status_is_one_line_with_the_inference_id_and_its_state(aws, log_lines, finished: bool, state: str) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    inference_id = accepted["inferenceId"]
    if not finished:  # moto writes the result at once: remove it to see the endpoint still working
        for location in (accepted["outputLocation"], accepted["failureLocation"]):
            parsed = urlparse(location)
            aws["s3"].delete_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    _, _, answered = call(api_event("GET", f"/invocations/{inference_id}"))
    _, second = log_lines()
    assert (second["status"], second["inference_id"], second["method"]) == (200, inference_id, "GET")
    assert second["inference_status"] == answered["status"] == state
    assert "wake" not in second  # keys of the previous request were cleared


def test_rejected_request_is_one_line_with_its_error_code_and_no_inference_id(aws, log_lines) -> None:
    call(api_event("POST", "/invocations", PROMPT))  # leaves an inference_id behind, if state leaked
    status, _, _ = call(api_event("POST", "/invocations", {"inputs": "x", "parameters": {"top_p": 1.5}}))
    assert status == 400
    _, line = log_lines()
    assert (line["level"], line["status"], line["error_code"]) == ("INFO", 400, "InvalidParameter")
    assert "inference_id" not in line


def test_unavailable_with_an_idempotency_key_is_one_warning_with_the_id(aws, log_lines) -> None:
    runtime = handler._inferences()._runtime
    with Stubber(runtime) as stub:
        stub.add_client_error("invoke_endpoint_async", service_error_code="ThrottlingException", http_status_code=400)
        status, _, _ = call(api_event("POST", "/invocations", PROMPT, {"Idempotency-Key": "order-7"}, caller=CALLER))
    assert status == 503
    (line,) = log_lines()
    assert (line["level"], line["status"], line["error_code"]) == ("WARNING", 503, "ServiceUnavailable")
    assert line["inference_id"] == idempotent_inference_id(caller_identity(CALLER), "order-7")
    assert "ThrottlingException" in line["reason"]


def test_unhandled_error_is_one_error_line_with_the_trace_and_still_raises(aws, log_lines, monkeypatch) -> None:
    def broken(*_: Any) -> dict:
        raise RuntimeError("bug")

    monkeypatch.setattr(handler._inferences(), "status", broken)
    with pytest.raises(RuntimeError, match="bug"):
        call(api_event("GET", "/invocations/abc"))
    (line,) = log_lines()
    assert (line["level"], line["message"], line["inference_id"]) == ("ERROR", "request failed", "abc")
    assert (line["method"], line["resource"]) == ("GET", "/invocations/{inferenceId}")
    assert "RuntimeError: bug" in line["exception"]
