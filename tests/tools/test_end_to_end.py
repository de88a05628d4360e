"""End to end, offline: the client → the real handler (moto S3) → a stand-in of the engine's container → the status
call → what the user reads, for every request shape and both engines. The stand-ins encode TGI 3.3.6's and vLLM
0.30.0's own rules independently of the handler's validation (tests/tools/engine_stand_in*.py), so a request the API
forwards and the engine would refuse fails here.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any
from urllib.parse import urlparse

import pytest
from inference_api import handler

from llm_async_tools.client import ApiResponse, InferenceClient, chat_body, generate_body, main
from tests.api.runtime.conftest import API_ENVIRONMENT, BUCKET, api_event, call
from tests.tools.engine_stand_in import TgiStandIn, complete_from_s3
from tests.tools.engine_stand_in_vllm import VllmStandIn
from tests.tools.test_client import API_URL

ANSWER = "The sky is blue."


class EndToEnd:
    """A transport to the handler; SageMaker's part (run the container on the request, write its answer) happens
    on the first status call after a submit."""

    def __init__(self, aws: dict[str, Any], engine: str = "tgi") -> None:
        self.s3 = aws["s3"]
        env = API_ENVIRONMENT
        self.engine = (
            TgiStandIn(max_input_tokens=env.max_input_tokens, max_total_tokens=env.max_total_tokens, answer=ANSWER)
            if engine == "tgi"
            # The container's SM_VLLM_MAX_MODEL_LEN is the model's max_total_tokens (llm_async/model/environment.py).
            else VllmStandIn(max_model_len=env.max_total_tokens, answer=ANSWER)
        )
        self.pending: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> ApiResponse:
        if method == "GET":
            self._run_pending()
        key_header = {k: v for k, v in headers.items() if k.lower() == "idempotency-key"}
        status, response_headers, response_body = call(
            api_event(method, urlparse(url).path.removeprefix("/v1"), body.decode() if body else None, key_header)
        )
        if method == "POST" and status == 202:
            self._clear_moto_default_result(response_body)
            self.pending.append(response_body)
        return ApiResponse(status, response_headers, response_body)

    def _clear_moto_default_result(self, accepted: dict[str, Any]) -> None:
        # moto's InvokeEndpointAsync writes a placeholder output: the stand-in writes the real one.
        for key in ("outputLocation", "failureLocation"):
            location = urlparse(accepted[key])
            self.s3.delete_object(Bucket=location.netloc, Key=location.path.lstrip("/"))

    def _run_pending(self) -> None:
        for accepted in self.pending:
            complete_from_s3(
                self.s3,
                input_location=f"s3://{BUCKET}/input/{accepted['inferenceId']}.json",
                output_location=accepted["outputLocation"],
                failure_location=accepted["failureLocation"],
                stand_in=self.engine,
            )
        self.pending.clear()


def _completed(transport: EndToEnd, body: dict[str, Any]) -> dict[str, Any]:
    client = InferenceClient(API_URL, transport=transport)
    submitted = client.submit(body)
    assert submitted.status == 202, submitted.body
    final = client.status(submitted.body["inferenceId"])
    assert final.status == 200 and final.body["status"] == "Completed", final.body
    return final.body


@pytest.mark.parametrize(
    "body",
    [
        chat_body([{"role": "user", "content": "What colour is the sky?"}], system="Answer in one sentence."),
        # OpenAI clients send a model name and top_p 1; TGI would read the name as a LoRA adapter and refuses top_p 1.
        {**chat_body([{"role": "user", "content": "Sky?"}]), "model": "gpt-4o", "top_p": 1, "temperature": 0},
        {"prompt": "The colour of the sky is", "max_tokens": 16},
        {"model": "gpt-3.5-turbo-instruct", "prompt": "The colour of the sky is", "top_p": 1, "frequency_penalty": 0.5},
        generate_body("The colour of the sky is", {"temperature": 0.7}),
        generate_body("The colour of the sky is", {}),
    ],
    ids=["chat", "chat-openai-defaults", "completions", "completions-openai-defaults", "generate", "generate-bare"],
)
@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_every_shape_completes_with_the_generated_text_only(aws, engine: str, body: dict[str, Any], monkeypatch) -> None:
    _serve_with(engine, monkeypatch)
    transport = EndToEnd(aws, engine)
    final = _completed(transport, body)
    assert final["text"] == ANSWER  # the answer, not the prompt echoed before it
    (received,) = transport.engine.requests
    # Every forwarded request carries an explicit budget of new tokens, under the engine's name for it.
    names = ("max_tokens", "max_completion_tokens")
    budget = next((received[n] for n in names if n in received), received.get("parameters", {}).get("max_new_tokens"))
    assert 1 <= budget <= API_ENVIRONMENT.max_new_tokens


def _serve_with(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler as the construct configures it for `engine` (ENGINE in its environment)."""
    monkeypatch.setattr(handler, "_environment", lambda: dataclasses.replace(API_ENVIRONMENT, engine=engine))


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_the_prompt_is_echoed_only_when_asked(aws, engine: str, monkeypatch) -> None:
    _serve_with(engine, monkeypatch)
    final = _completed(EndToEnd(aws, engine), generate_body("The sky is", {"return_full_text": True}))
    assert final["text"].startswith("The sky is") and final["text"].endswith(ANSWER)


def test_a_chat_result_is_the_engines_chat_completion_unchanged(aws) -> None:
    final = _completed(EndToEnd(aws), chat_body([{"role": "user", "content": "Sky?"}]))
    assert final["result"]["object"] == "chat.completion"
    assert final["result"]["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_structured_output_follows_the_schema(aws, engine: str, tmp_path, monkeypatch) -> None:
    _serve_with(engine, monkeypatch)
    schema = {"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]}
    schema_path = tmp_path / "answer.schema.json"
    schema_path.write_text(json.dumps(schema))
    transport, out = EndToEnd(aws, engine), io.StringIO()
    argv = ["--api-url", API_URL, "chat", "Sky colour?", "--json-schema", str(schema_path), "--wait", "--poll-seconds", "0"]
    assert main(argv, transport=transport, out=out) == 0
    assert set(json.loads(out.getvalue())) == {"colour"}
