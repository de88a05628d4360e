"""The API contract through API Gateway proxy events."""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from inference_api import handler
from inference_api.inferences import RESULT_DEADLINE_MARGIN_S, STALE_SUBMISSION_S

from tests.api.runtime.conftest import BUCKET, api_event, call, objects

PROMPT = {"inputs": "What are cookies?", "parameters": {"temperature": 0.1, "max_new_tokens": 128}}


def test_submit_writes_the_request_then_answers_202(aws) -> None:
    status, headers, body = call(api_event("POST", "/invocations", PROMPT))
    assert status == 202
    inference_id = body["inferenceId"]
    assert body["status"] == "InProgress"
    assert body["outputLocation"].startswith("s3://") and body["failureLocation"].startswith("s3://")
    assert headers["location"] == f"/prod/invocations/{inference_id}"  # the stage the client called
    stored = aws["s3"].get_object(Bucket=BUCKET, Key=f"input/{inference_id}.json")
    # What the container receives: the request, with the prompt not echoed unless asked (TGI's default echoes it).
    assert json.loads(stored["Body"].read()) == {"inputs": PROMPT["inputs"], "parameters": {**PROMPT["parameters"], "return_full_text": False}}
    assert sorted(objects(aws["s3"])) == [f"input/{inference_id}.invocation.json", f"input/{inference_id}.json"]


def test_submit_invokes_with_the_configured_limits(aws) -> None:
    runtime = handler._inferences()._runtime
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint_async",
            {"InferenceId": "x", "OutputLocation": "s3://b/output/x.out", "FailureLocation": "s3://b/failure/x.out"},
            expected_params={
                "EndpointName": "llm-async-test",
                "InputLocation": ANY,
                "InferenceId": ANY,
                "ContentType": "application/json",
                "Accept": "application/json",
                "RequestTTLSeconds": 21600,
                "InvocationTimeoutSeconds": 900,
            },
        )
        status, _, _ = call(api_event("POST", "/invocations", PROMPT))
        stub.assert_no_pending_responses()
    assert status == 202


def _not_yet_done(aws, accepted: dict) -> None:
    """moto writes a result at once: remove it to see the endpoint still working."""
    for location in (accepted["outputLocation"], accepted["failureLocation"]):
        parsed = urlparse(location)
        aws["s3"].delete_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))


def test_status_in_progress_then_completed(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    inference_id = accepted["inferenceId"]
    _not_yet_done(aws, accepted)
    status, _, body = call(api_event("GET", f"/invocations/{inference_id}"))
    assert (status, body) == (200, {"inferenceId": inference_id, "status": "InProgress"})
    output = urlparse(accepted["outputLocation"])
    result = [{"generated_text": "Cookies are small text files."}]
    aws["s3"].put_object(Bucket=output.netloc, Key=output.path.lstrip("/"), Body=json.dumps(result).encode())
    status, _, body = call(api_event("GET", f"/invocations/{inference_id}"))
    # The engine's result unchanged, and its generated text whatever the request shape.
    expected = {"inferenceId": inference_id, "status": "Completed", "result": result, "text": "Cookies are small text files."}
    assert (status, body) == (200, expected)


def test_status_failed_with_reason(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    _not_yet_done(aws, accepted)
    failure = urlparse(accepted["failureLocation"])
    aws["s3"].put_object(Bucket=failure.netloc, Key=failure.path.lstrip("/"), Body=b"CUDA out of memory")
    status, _, body = call(api_event("GET", f"/invocations/{accepted['inferenceId']}"))
    assert (status, body["status"], body["failureReason"]) == (200, "Failed", "CUDA out of memory")


def _status_at(inference_id: str, seconds_later: float) -> dict:
    service = handler._inferences()
    service._now = lambda: time.time() + seconds_later
    try:
        return call(api_event("GET", f"/invocations/{inference_id}"))[2]
    finally:
        service._now = time.time


def _requeue_on(aws, inference_id: str, endpoint_name: str) -> None:
    """Rewrites the invocation record as if the request had been queued on another endpoint."""
    key = f"input/{inference_id}.invocation.json"
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert record["endpointName"] == "llm-async-test"
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps({**record, "endpointName": endpoint_name}).encode())


def test_a_request_queued_on_a_replaced_endpoint_fails_once_it_could_have_finished(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    inference_id = accepted["inferenceId"]
    _not_yet_done(aws, accepted)
    _requeue_on(aws, inference_id, "llm-async-test-g4dn-xlarge")
    assert _status_at(inference_id, 60)["status"] == "InProgress"  # the old endpoint may still finish it
    body = _status_at(inference_id, 900 + 1)  # INVOCATION_TIMEOUT_SECONDS of the test environment
    assert (body["status"], body["failureReason"]) == (
        "Failed",
        "queued on endpoint llm-async-test-g4dn-xlarge, which was replaced by llm-async-test"
        " before it produced a result; submit again",
    )


def test_a_result_written_by_a_replaced_endpoint_is_still_returned(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    _requeue_on(aws, accepted["inferenceId"], "llm-async-test-g4dn-xlarge")  # moto wrote the output already
    assert _status_at(accepted["inferenceId"], 3600)["status"] == "Completed"


def test_no_result_after_ttl_and_timeout_is_failed(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    _not_yet_done(aws, accepted)
    deadline = 21600 + 900 + RESULT_DEADLINE_MARGIN_S  # REQUEST_TTL_SECONDS + INVOCATION_TIMEOUT_SECONDS + margin
    assert _status_at(accepted["inferenceId"], deadline - 5)["status"] == "InProgress"
    body = _status_at(accepted["inferenceId"], deadline + 5)
    assert (body["status"], body["failureReason"]) == ("Failed", "no result within the request TTL and invocation timeout; submit again")


@pytest.mark.parametrize("inference_id", ["0" * 32, "not-an-id", "A" * 32])
def test_status_of_an_unknown_id_is_404(aws, inference_id: str) -> None:
    status, _, body = call(api_event("GET", f"/invocations/{inference_id}"))
    assert (status, body["error"]["code"]) == (404, "NotFound")


def test_idempotency_key_returns_the_same_inference_and_invokes_once(aws) -> None:
    headers = {"Idempotency-Key": "order-42"}
    runtime = handler._inferences()._runtime
    calls = []
    original = runtime.invoke_endpoint_async
    runtime.invoke_endpoint_async = lambda **kw: calls.append(kw) or original(**kw)
    first = call(api_event("POST", "/invocations", PROMPT, headers))
    second = call(api_event("POST", "/invocations", PROMPT, headers))
    assert first[0] == second[0] == 202
    assert first[2] == second[2]
    assert len(calls) == 1


def test_same_key_from_another_caller_is_another_inference(aws) -> None:
    headers = {"Idempotency-Key": "order-42"}
    a = call(api_event("POST", "/invocations", PROMPT, headers, caller="arn:aws:iam::1:role/a"))
    b = call(api_event("POST", "/invocations", PROMPT, headers, caller="arn:aws:iam::1:role/b"))
    assert a[2]["inferenceId"] != b[2]["inferenceId"]


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "tab\tkey", "ünïcode"])
def test_invalid_idempotency_key_is_400_and_writes_nothing(aws, key: str) -> None:
    status, _, body = call(api_event("POST", "/invocations", PROMPT, {"Idempotency-Key": key}))
    assert (status, body["error"]["code"]) == (400, "InvalidHeader")
    assert objects(aws["s3"]) == []


def test_rejected_request_writes_nothing_and_invokes_nothing(aws) -> None:
    runtime = handler._inferences()._runtime
    with Stubber(runtime) as stub:  # any invoke would fail: no response is queued
        status, _, body = call(api_event("POST", "/invocations", {"inputs": "x", "parameters": {"top_p": 1.5}}))
        stub.assert_no_pending_responses()
    assert status == 400
    assert body == {"error": {"code": "InvalidParameter", "message": "parameters.top_p: must be a number with 0 < value < 1 (got 1.5)"}}
    assert objects(aws["s3"]) == []


def test_non_json_content_type_is_415(aws) -> None:
    status, _, body = call(api_event("POST", "/invocations", "inputs=x", {"Content-Type": "text/plain"}))
    assert (status, body["error"]["code"]) == (415, "UnsupportedMediaType")
    assert objects(aws["s3"]) == []


def test_too_large_is_413(aws) -> None:
    status, _, body = call(api_event("POST", "/invocations", {"inputs": "x" * 20_001}))
    assert (status, body["error"]["code"]) == (413, "PayloadTooLarge")
    assert objects(aws["s3"]) == []


@pytest.mark.parametrize(
    ("code", "http_status"),
    [("ThrottlingException", 400), ("ServiceUnavailable", 503), ("ValidationError", 400), ("InternalFailure", 500)],
)
def test_invoke_failure_is_503_with_retry_after_and_leaves_nothing(aws, code: str, http_status: int) -> None:
    runtime = handler._inferences()._runtime
    with Stubber(runtime) as stub:
        stub.add_client_error("invoke_endpoint_async", service_error_code=code, http_status_code=http_status)
        status, headers, body = call(api_event("POST", "/invocations", PROMPT))
    assert (status, body["error"]["code"]) == (503, "ServiceUnavailable")
    assert headers["retry-after"] == "30"
    assert code in body["error"]["message"]
    assert objects(aws["s3"]) == []


def test_unknown_route_is_json_404(aws) -> None:
    status, _, body = call(api_event("GET", "/nothing"))
    assert (status, body["error"]["code"]) == (404, "NotFound")


def test_results_are_visible_to_their_submitter_only(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT, caller="arn:aws:iam::123456789012:role/a"))
    path = f"/invocations/{accepted['inferenceId']}"
    assert call(api_event("GET", path, caller="arn:aws:iam::123456789012:role/a"))[0] == 200
    status, _, body = call(api_event("GET", path, caller="arn:aws:iam::123456789012:role/b"))
    assert (status, body["error"]["code"]) == (404, "NotFound")


def test_every_session_of_a_role_is_one_caller(aws) -> None:
    headers = {"Idempotency-Key": "job-7"}
    first = call(api_event("POST", "/invocations", PROMPT, headers, caller="arn:aws:sts::123456789012:assumed-role/app/task-1"))
    second = call(api_event("POST", "/invocations", PROMPT, headers, caller="arn:aws:sts::123456789012:assumed-role/app/task-2"))
    assert first[2]["inferenceId"] == second[2]["inferenceId"]
    status = call(api_event("GET", f"/invocations/{first[2]['inferenceId']}", caller="arn:aws:sts::123456789012:assumed-role/app/task-3"))
    assert status[0] == 200


def test_same_key_with_another_body_is_422(aws) -> None:
    headers = {"Idempotency-Key": "order-43"}
    assert call(api_event("POST", "/invocations", PROMPT, headers))[0] == 202
    status, _, body = call(api_event("POST", "/invocations", {"inputs": "something else"}, headers))
    assert (status, body["error"]["code"]) == (422, "IdempotencyKeyReused")


def test_a_submission_that_never_reached_the_endpoint_reports_failed(aws) -> None:
    service = handler._inferences()
    runtime = service._runtime
    s3 = service._s3
    headers = {"Idempotency-Key": "order-44"}
    original_delete = s3.delete_object
    with Stubber(runtime) as stub:
        stub.add_client_error("invoke_endpoint_async", "ServiceUnavailable", http_status_code=503)
        s3.delete_object = lambda **kw: (_ for _ in ()).throw(ClientError({"Error": {"Code": "InternalError"}}, "DeleteObject"))
        try:
            status, _, _ = call(api_event("POST", "/invocations", PROMPT, headers))
        finally:
            s3.delete_object = original_delete
    assert status == 503
    (request_key,) = objects(aws["s3"])
    inference_id = request_key.removeprefix("input/").removesuffix(".json")
    assert call(api_event("GET", f"/invocations/{inference_id}"))[2]["status"] == "InProgress"
    service._now = lambda: time.time() + STALE_SUBMISSION_S + 1
    try:
        _, _, body = call(api_event("GET", f"/invocations/{inference_id}"))
        assert (body["status"], body["failureReason"]) == ("Failed", "the submission never reached the endpoint; submit again")
        retry = call(api_event("POST", "/invocations", PROMPT, headers))
        assert (retry[0], retry[2]["error"]["code"]) == (409, "IdempotencyKeyFailed")
    finally:
        service._now = time.time


def test_record_write_failure_still_answers_202(aws) -> None:
    service = handler._inferences()
    s3 = service._s3
    original_put = s3.put_object

    def put(**kwargs):
        if kwargs["Key"].endswith(".invocation.json"):
            raise ClientError({"Error": {"Code": "SlowDown"}}, "PutObject")
        return original_put(**kwargs)

    s3.put_object = put
    service._sleep = lambda _: None
    try:
        status, _, body = call(api_event("POST", "/invocations", PROMPT))
    finally:
        s3.put_object = original_put
        service._sleep = time.sleep
    assert status == 202 and body["outputLocation"].startswith("s3://")


def test_s3_errors_on_status_are_503(aws) -> None:
    _, _, accepted = call(api_event("POST", "/invocations", PROMPT))
    with Stubber(handler._inferences()._s3) as stub:
        stub.add_client_error("get_object", "SlowDown", http_status_code=503)
        status, headers, body = call(api_event("GET", f"/invocations/{accepted['inferenceId']}"))
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "ServiceUnavailable", "30")


@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        ('{"inputs": "\\ud800"}', False),
        ('{"inputs": "x", "parameters": {"stop": ["\\udfff"]}}', False),
        ("[" * 5_000 + "]" * 5_000, False),
        ("not base64!", True),
        ("gICA", True),  # valid base64 of bytes that are not UTF-8
    ],
)
def test_hostile_bodies_are_400_not_500(aws, body: str, base64_encoded: bool) -> None:
    event = api_event("POST", "/invocations", body)
    event["isBase64Encoded"] = base64_encoded
    status, _, response = call(event)
    assert (status, response["error"]["code"]) == (400, "MalformedJson")
    assert objects(aws["s3"]) == []


def test_base64_json_body_is_accepted(aws) -> None:
    import base64

    event = api_event("POST", "/invocations", base64.b64encode(json.dumps(PROMPT).encode()).decode())
    event["isBase64Encoded"] = True
    assert call(event)[0] == 202
