"""The pipeline's smoke test against the real handler: passes only on a well-formed result in time."""

from __future__ import annotations

import io

import pytest

from llm_async_tools.client import ApiResponse, InferenceClient
from llm_async_tools.smoke_test import PROMPT, main, result_problem, run
from tests.tools.test_client import API_URL, HandlerTransport


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _run(aws, transport: HandlerTransport, timeout_s: float = 2100) -> tuple[int, str, FakeClock]:
    clock, out = FakeClock(), io.StringIO()
    client = InferenceClient(API_URL, transport=transport)
    code = run(client, timeout_s=timeout_s, out=out, poll_s=15, clock=clock, sleep=clock.sleep)
    return code, out.getvalue(), clock


def _chat_completion(content: str) -> dict:
    return {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def test_passes_when_the_result_arrives_after_a_cold_start(aws) -> None:
    # 40 polls × 15 s: the result appears after ten minutes, as after a wake from zero.
    transport = HandlerTransport(aws, results_after_polls=40, result=_chat_completion(" Blue."))
    code, out, clock = _run(aws, transport)
    assert code == 0
    assert "smoke test passed" in out and "'Blue.'" in out
    assert clock.now == 40 * 15


def test_fails_when_no_result_arrives_in_time(aws) -> None:
    transport = HandlerTransport(aws, results_after_polls=10_000, result=_chat_completion("late"))
    code, out, clock = _run(aws, transport, timeout_s=600)
    assert code == 1
    assert "ended InProgress: no result before the timeout" in out
    assert 600 <= clock.now < 600 + 15


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ([], "no generated text in the result"),
        (_chat_completion("  "), "no generated text in the result"),
        ({"choices": [{"message": {"role": "assistant", "tool_calls": []}}]}, "no generated text in the result"),
        ("plain", "no generated text in the result"),
        (_chat_completion(f"{PROMPT} Blue."), "the result repeats the prompt instead of answering it"),
    ],
)
def test_fails_without_generated_text_or_on_the_prompt_echoed(aws, result, problem: str) -> None:
    code, out, _ = _run(aws, HandlerTransport(aws, results_after_polls=1, result=result))
    assert code == 1
    assert f"smoke test failed: {problem}" in out


def test_fails_when_submit_is_refused(aws) -> None:
    def refusing(method, url, headers, body) -> ApiResponse:
        return ApiResponse(403, {}, {"message": "User is not authorized"})

    clock, out = FakeClock(), io.StringIO()
    code = run(InferenceClient(API_URL, transport=refusing), timeout_s=60, out=out, clock=clock, sleep=clock.sleep)
    assert (code, out.getvalue().strip()) == (1, "smoke test failed: submit answered 403: {'message': 'User is not authorized'}")


def test_failed_inference_reports_its_reason() -> None:
    response = ApiResponse(200, {}, {"inferenceId": "x", "status": "Failed", "failureReason": "CUDA out of memory"})
    assert result_problem(response) == "inference x ended Failed: CUDA out of memory"


def test_a_url_that_is_not_an_api_gateway_url_is_a_usage_error(aws, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--api-url", "https://example.com/v1/"])
    assert exit_info.value.code == 2
    assert "--api-url: must be an API Gateway URL" in capsys.readouterr().err


def test_role_arn_signs_with_the_assumed_role(aws) -> None:
    from llm_async_tools.smoke_test import assumed_session

    credentials = assumed_session("arn:aws:iam::123456789012:role/llm-async-dev-smoke-test").get_credentials()
    assert credentials.token  # temporary credentials of the stage's smoke-test role, not the caller's own
