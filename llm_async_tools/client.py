"""Command-line client of the inference API, signing each request with SigV4 (botocore) as IAM auth requires.

    python -m llm_async_tools.client --api-url URL chat "What are cookies?" --system "Answer briefly." --wait
    python -m llm_async_tools.client --api-url URL chat --json-schema answer.schema.json --wait < messages.json
    python -m llm_async_tools.client --api-url URL invoke "Hello, how are you?" --param temperature=0.8 --wait
    python -m llm_async_tools.client --api-url URL status INFERENCE_ID

`--stack LlmAsyncStack` reads the URL from the deployed stack's `ApiUrl` output instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

_API_HOST = re.compile(r"^https://[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any


Transport = Callable[[str, str, dict[str, str], bytes | None], ApiResponse]


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return {"error": {"code": "NotJson", "message": raw.decode(errors="replace")[:500]}}


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None) -> ApiResponse:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return ApiResponse(response.status, dict(response.headers), _json_body(response.read()))
    except urllib.error.HTTPError as error:
        return ApiResponse(error.code, dict(error.headers), _json_body(error.read()))


RETRYABLE = {429, 503}
MAX_RETRIES = 3


def _retry_after_s(response: ApiResponse) -> float:
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        return min(float(headers.get("retry-after", "5")), 30.0)
    except ValueError:
        return 5.0


class InferenceClient:
    def __init__(self, api_url: str, *, session: boto3.Session | None = None, transport: Transport = urllib_transport) -> None:
        match = _API_HOST.match(api_url)
        if not match:
            raise ValueError(f"--api-url: must be an API Gateway URL like https://ID.execute-api.REGION.amazonaws.com/v1/ (got {api_url!r})")
        self._base = api_url.rstrip("/")
        self._region = match.group(1)
        self._session = session or boto3.Session()
        self._transport = transport

    def _call(self, method: str, path: str, body: dict | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        data = json.dumps(body).encode() if body is not None else None
        request = AWSRequest(method=method, url=f"{self._base}{path}", data=data, headers={"Content-Type": "application/json", **(headers or {})})
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found: configure a profile or role that may call the API")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(request)
        return self._transport(method, request.url, dict(request.headers.items()), data)

    def submit(
        self, body: dict[str, Any], idempotency_key: str | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> ApiResponse:
        """Any of the API's request shapes (chat `messages`, completions `prompt`, TGI `inputs`).

        Retries 429/503 after Retry-After with one Idempotency-Key, so a retry never invokes twice."""
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        for _ in range(MAX_RETRIES):
            response = self._call("POST", "/invocations", body, headers)
            if response.status not in RETRYABLE:
                return response
            sleep(_retry_after_s(response))
        return self._call("POST", "/invocations", body, headers)

    def status(self, inference_id: str) -> ApiResponse:
        return self._call("GET", f"/invocations/{inference_id}")


def generate_body(prompt: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A TGI generate request."""
    return {"inputs": prompt, "parameters": parameters} if parameters else {"inputs": prompt}


def chat_body(
    messages: list[dict[str, Any]], *, system: str | None = None, json_schema: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An OpenAI chat completions request; `json_schema` asks for structured output that follows it."""
    body: dict[str, Any] = {"messages": ([{"role": "system", "content": system}] if system else []) + messages}
    if json_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": json_schema}}
    return {**body, **(parameters or {})}


def generated_text(status_body: dict[str, Any]) -> str:
    """The API's `text` (the generated text, whatever the request shape); the raw result as JSON without it."""
    text = status_body.get("text")
    return text if isinstance(text, str) else json.dumps(status_body.get("result"), indent=2)


def wait_for_result(
    client: InferenceClient,
    inference_id: str,
    *,
    timeout_s: float,
    poll_s: float = 10.0,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ApiResponse:
    """Polls until Completed or Failed, telling the user what a cold start is waiting for."""
    out = out or sys.stderr
    start = clock()
    while True:
        response = client.status(inference_id)
        transient = response.status in RETRYABLE
        if not transient and (response.status != 200 or response.body.get("status") != "InProgress"):
            return response
        waited = clock() - start
        if waited >= timeout_s:
            return response
        minutes, seconds = divmod(int(waited), 60)
        stage = "queued; a cold endpoint starts an instance and loads the model (several minutes)" if waited > 30 else "queued"
        print(f"\r[{minutes:02d}:{seconds:02d}] {inference_id}: {stage}", end="", file=out, flush=True)
        sleep(poll_s)


def _parameter(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--param: must be NAME=VALUE (got {text!r})")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _api_url(args: argparse.Namespace) -> str:
    if args.api_url:
        return args.api_url
    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "ApiUrl")


def chat_messages(arguments: list[str], stdin: TextIO) -> list[dict[str, Any]]:
    """Messages from the command line (user, assistant, user, ... in turn) or, without any, from standard
    input: a JSON list of {"role", "content"} objects, or plain text as one user message."""
    if arguments:
        return [{"role": ("user", "assistant")[i % 2], "content": text} for i, text in enumerate(arguments)]
    text = stdin.read()
    try:
        messages = json.loads(text)
    except ValueError:
        messages = None
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        return messages
    if not text.strip():
        raise ValueError("chat: give messages as arguments, or on standard input (a JSON list of messages or text)")
    return [{"role": "user", "content": text}]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llm_async_tools.client", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--api-url", help="the stack's ApiUrl output")
    source.add_argument("--stack", help="read ApiUrl from this deployed stack's outputs")
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="an OpenAI chat completion: messages, system prompt, structured output")
    chat.add_argument("messages", nargs="*", help="user, assistant, user, ... in turn; none: read standard input")
    chat.add_argument("--system", help="a system prompt, sent first")
    chat.add_argument("--json-schema", type=argparse.FileType("r"), help="a JSON Schema file the answer must follow")
    invoke = commands.add_parser("invoke", help="a TGI generate request: a prompt as it is, no chat template")
    invoke.add_argument("prompt")
    for command in (chat, invoke):
        command.add_argument("--param", action="append", type=_parameter, default=[], help="request parameter NAME=VALUE (JSON value)")
        command.add_argument("--idempotency-key")
        command.add_argument("--wait", action="store_true", help="poll until the result is ready and print the text")
        command.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait with --wait (default 1800)")
        command.add_argument("--poll-seconds", type=float, default=10.0, help="seconds between status checks (default 10)")
    status = commands.add_parser("status", help="show an inference's status or result")
    status.add_argument("inference_id")
    return parser


def _request_body(args: argparse.Namespace, parser: argparse.ArgumentParser, stdin: TextIO) -> dict[str, Any]:
    if args.command == "invoke":
        return generate_body(args.prompt, dict(args.param))
    try:
        messages = chat_messages(args.messages, stdin)
        schema = json.load(args.json_schema) if args.json_schema else None
    except ValueError as error:
        parser.error(str(error))
    return chat_body(messages, system=args.system, json_schema=schema, parameters=dict(args.param))


def main(
    argv: list[str] | None = None, *, transport: Transport = urllib_transport, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)

    client = InferenceClient(_api_url(args), transport=transport)
    if args.command == "status":
        response = client.status(args.inference_id)
    else:
        response = client.submit(_request_body(args, parser, stdin or sys.stdin), args.idempotency_key)
        if response.status == 202 and args.wait:
            print(f"accepted {response.body['inferenceId']}", file=sys.stderr)
            response = wait_for_result(
                client, response.body["inferenceId"], timeout_s=args.timeout, poll_s=args.poll_seconds
            )
            print(file=sys.stderr)
    if response.status >= 400:
        print(f"error {response.status}: {json.dumps(response.body)}", file=sys.stderr)
        return 1
    body = response.body
    if body.get("status") == "Completed":
        print(generated_text(body), file=out)
    elif body.get("status") == "Failed":
        print(f"failed: {body.get('failureReason', '')}", file=sys.stderr)
        return 1
    else:
        print(json.dumps(body, indent=2), file=out)
        if args.command != "status" and args.wait:
            print(f"still {body.get('status')} after {args.timeout:g} s: ask again with `status`", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
