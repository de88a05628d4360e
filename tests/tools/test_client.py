"""The CLI client end to end against the handler: SigV4-signed requests, waiting through a cold start, the text."""

from __future__ import annotations

import io
import json
from urllib.parse import urlparse

import pytest

from llm_async_tools.client import (
    ApiResponse,
    InferenceClient,
    chat_body,
    chat_messages,
    generate_body,
    generated_text,
    main,
    wait_for_result,
)
from tests.api.runtime.conftest import api_event, call

API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/"


class HandlerTransport:
    """Turns each signed request into the proxy event API Gateway would send after IAM auth."""

    def __init__(self, aws, results_after_polls: int = 0, result=None) -> None:
        self.aws = aws
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.polls = 0
        self.results_after_polls = results_after_polls
        self.result = result
        self.accepted: dict | None = None

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> ApiResponse:
        self.requests.append((method, url, headers))
        path = urlparse(url).path.removeprefix("/v1")
        if method == "GET":
            self.polls += 1
            self._maybe_finish()
        event = api_event(method, path, body.decode() if body else None, {k: v for k, v in headers.items() if k.lower() == "idempotency-key"})
        status, response_headers, response_body = call(event)
        if method == "POST" and status == 202:
            self.accepted = response_body
            self._clear_moto_default_result()
        return ApiResponse(status, response_headers, response_body)

    def _location(self, key: str) -> tuple[str, str]:
        parsed = urlparse(self.accepted[key])
        return parsed.netloc, parsed.path.lstrip("/")

    def _clear_moto_default_result(self) -> None:
        for key in ("outputLocation", "failureLocation"):
            bucket, path = self._location(key)
            self.aws["s3"].delete_object(Bucket=bucket, Key=path)

    def _maybe_finish(self) -> None:
        if self.accepted and self.result is not None and self.polls > self.results_after_polls:
            bucket, path = self._location("outputLocation")
            self.aws["s3"].put_object(Bucket=bucket, Key=path, Body=json.dumps(self.result).encode())


def test_requests_are_sigv4_signed_for_execute_api(aws) -> None:
    transport = HandlerTransport(aws)
    client = InferenceClient(API_URL, transport=transport)
    assert client.submit(generate_body("hi", {"temperature": 0.5})).status == 202
    (_, url, headers), = transport.requests
    assert url == "https://abc123.execute-api.us-east-1.amazonaws.com/v1/invocations"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_invoke_wait_prints_the_generated_text_after_a_cold_start(aws, capsys) -> None:
    transport = HandlerTransport(aws, results_after_polls=2, result=[{"generated_text": "Cookies are small files."}])
    out = io.StringIO()
    argv = ["--api-url", API_URL, "invoke", "What are cookies?", "--param", "max_new_tokens=64", "--wait", "--poll-seconds", "0"]
    code = main(argv, transport=transport, out=out)
    assert code == 0
    assert out.getvalue() == "Cookies are small files.\n"
    assert transport.polls == 3
    assert "queued" in capsys.readouterr().err


def test_status_of_an_unknown_id_exits_1(aws, capsys) -> None:
    code = main(["--api-url", API_URL, "status", "0" * 32], transport=HandlerTransport(aws))
    assert code == 1
    assert "error 404" in capsys.readouterr().err


def test_invalid_parameter_is_reported(aws, capsys) -> None:
    code = main(["--api-url", API_URL, "invoke", "x", "--param", "top_p=2"], transport=HandlerTransport(aws))
    assert code == 1
    assert "parameters.top_p: must be a number with 0 < value < 1 (got 2)" in capsys.readouterr().err


def test_progress_names_the_cold_start() -> None:
    class Pending:
        def status(self, _):
            return ApiResponse(200, {}, {"inferenceId": "x", "status": "InProgress"})

    ticks = iter(range(0, 1000, 40))
    err = io.StringIO()
    response = wait_for_result(Pending(), "x", timeout_s=100, out=err, clock=lambda: next(ticks), sleep=lambda _: None)
    assert response.body["status"] == "InProgress"
    assert "a cold endpoint starts an instance and loads the model" in err.getvalue()


@pytest.mark.parametrize(
    ("status_body", "text"),
    [
        ({"text": "a", "result": [{"generated_text": "a"}]}, "a"),
        ({"text": "", "result": {"choices": [{"message": {"role": "assistant", "content": ""}}]}}, ""),
        ({"text": None, "result": {"other": 1}}, '{\n  "other": 1\n}'),
    ],
)
def test_generated_text_is_the_apis_text_else_the_result(status_body, text: str) -> None:
    assert generated_text(status_body) == text


def test_chat_body_puts_the_system_prompt_first_and_asks_for_the_schema() -> None:
    schema = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}
    body = chat_body([{"role": "user", "content": "Sky?"}], system="Be brief.", json_schema=schema, parameters={"max_tokens": 9})
    assert body == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
        "max_tokens": 9,
    }


@pytest.mark.parametrize(
    ("arguments", "stdin", "messages"),
    [
        (["Hi", "Hello!", "Sky?"], "", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Sky?"}]),
        ([], '[{"role": "user", "content": "from stdin"}]', [{"role": "user", "content": "from stdin"}]),
        ([], "plain text\n", [{"role": "user", "content": "plain text\n"}]),
    ],
)
def test_chat_messages_from_arguments_or_standard_input(arguments, stdin, messages) -> None:
    assert chat_messages(arguments, io.StringIO(stdin)) == messages


def test_chat_without_any_message_is_a_usage_error(aws, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--api-url", API_URL, "chat"], transport=HandlerTransport(aws), stdin=io.StringIO("  \n"))
    assert exit_info.value.code == 2
    assert "chat: give messages as arguments, or on standard input" in capsys.readouterr().err


def test_api_url_must_be_an_api_gateway_url() -> None:
    with pytest.raises(ValueError, match=r"^--api-url: must be an API Gateway URL"):
        InferenceClient("https://example.com/")


class Scripted:
    """A transport answering from a list, recording what was sent."""

    def __init__(self, *responses: ApiResponse) -> None:
        self.responses = list(responses)
        self.sent: list[dict[str, str]] = []

    def __call__(self, method, url, headers, body) -> ApiResponse:
        self.sent.append(headers)
        return self.responses.pop(0)


def test_submit_retries_throttling_with_one_idempotency_key(aws) -> None:
    transport = Scripted(
        ApiResponse(503, {"Retry-After": "2"}, {"error": {"code": "ServiceUnavailable", "message": "x"}}),
        ApiResponse(429, {}, {"error": {"code": "THROTTLED", "message": "Too Many Requests"}}),
        ApiResponse(202, {}, {"inferenceId": "a" * 32, "status": "InProgress"}),
    )
    slept: list[float] = []
    response = InferenceClient(API_URL, transport=transport).submit(generate_body("hi", {}), sleep=slept.append)
    assert response.status == 202
    assert slept == [2.0, 5.0]
    keys = {headers["Idempotency-Key"] for headers in transport.sent}
    assert len(keys) == 1 and len(keys.pop()) == 32


def test_wait_rides_out_a_transient_503() -> None:
    class Flaky:
        answers = [ApiResponse(503, {}, {"error": {}}), ApiResponse(200, {}, {"inferenceId": "x", "status": "Completed", "result": []})]

        def status(self, _):
            return self.answers.pop(0)

    response = wait_for_result(Flaky(), "x", timeout_s=100, out=io.StringIO(), sleep=lambda _: None)
    assert response.body["status"] == "Completed"


def test_non_json_error_bodies_are_reported(capsys) -> None:
    from llm_async_tools.client import _json_body

    assert _json_body(b"<html>Bad Gateway</html>") == {"error": {"code": "NotJson", "message": "<html>Bad Gateway</html>"}}
