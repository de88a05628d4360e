"""The handler's custom metrics: Powertools EMF lines in the deployment's namespace, named by the contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber
from inference_api import contract, handler

from tests.api.runtime.conftest import API_ENVIRONMENT, api_event, call

PROMPT = {"inputs": "What are cookies?"}


def _emf_blobs(output: str) -> list[dict[str, Any]]:
    """The EMF documents Powertools printed (one JSON per line, beside any log line)."""
    blobs = []
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            blobs.append(document)
    return blobs


def _published(blob: dict[str, Any]) -> set[str]:
    return {metric["Name"] for directive in blob["_aws"]["CloudWatchMetrics"] for metric in directive["Metrics"]}


@pytest.fixture
def emf(capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()  # what earlier tests printed is not this test's
    return lambda: _emf_blobs(capsys.readouterr().out)


def test_a_woken_submit_publishes_submitted_and_wake_requested(aws, emf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler._waker(), "wake_if_idle", lambda: "woken")
    call(api_event("POST", "/invocations", PROMPT))
    (blob,) = emf()
    assert _published(blob) == {contract.INFERENCES_SUBMITTED, contract.WAKE_REQUESTED}


def test_a_warm_submit_requests_no_wake(aws, emf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler._waker(), "wake_if_idle", lambda: "warm")
    call(api_event("POST", "/invocations", PROMPT))
    (blob,) = emf()
    assert _published(blob) == {contract.INFERENCES_SUBMITTED}


def test_every_outcome_is_published_in_the_environments_namespace_by_service(
    aws, emf, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler._waker(), "wake_if_idle", lambda: "woken")
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    call(api_event("GET", f"/invocations/{accepted['inferenceId']}"))
    call(api_event("POST", "/invocations", {"inputs": "x", "parameters": {"top_p": 1.5}}))
    with Stubber(handler._inferences()._runtime) as stub:
        stub.add_client_error("invoke_endpoint_async", service_error_code="ThrottlingException", http_status_code=400)
        assert call(api_event("POST", "/invocations", PROMPT))[0] == 503
    blobs = emf()
    assert len(blobs) == 4  # one EMF document per request
    assert set().union(*map(_published, blobs)) == set(contract.CUSTOM_METRICS)
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        # The namespace the construct writes into the environment: the deployment's own.
        assert directive["Namespace"] == API_ENVIRONMENT.metrics_namespace == "llm-async-test"
        assert directive["Dimensions"] == [["service"]]
        assert blob["service"] == contract.SERVICE_NAME
        assert {metric["Unit"] for metric in directive["Metrics"]} == {"Count"}
