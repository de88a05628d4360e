"""Command-line client of the inference API, signing each request with SigV4 (botocore) as IAM auth requires.

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
        self,
        prompt: str,
        parameters: dict[str, Any],
        idempotency_key: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ApiResponse:
        """Retries 429/503 after Retry-After with one Idempotency-Key, so a retry never invokes twice."""
        body: dict[str, Any] = {"inputs": prompt}
        if parameters:
            body["parameters"] = parameters
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        for _ in range(MAX_RETRIES):
            response = self._call("POST", "/invocations", body, headers)
            if response.status not in RETRYABLE:
                return response
            sleep(_retry_after_s(response))
        return self._call("POST", "/invocations", body, headers)

    def status(self, inference_id: str) -> ApiResponse:
        return self._call("GET", f"/invocations/{inference_id}")


def generated_text(result: Any) -> str:
    """TGI answers `[{"generated_text": ...}]` (or the object alone); anything else is shown as JSON."""
    first = result[0] if isinstance(result, list) and result else result
    if isinstance(first, dict) and isinstance(first.get("generated_text"), str):
        return first["generated_text"]
    return json.dumps(result, indent=2)


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


def main(argv: list[str] | None = None, *, transport: Transport = urllib_transport, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m llm_async_tools.client", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--api-url", help="the stack's ApiUrl output")
    source.add_argument("--stack", help="read ApiUrl from this deployed stack's outputs")
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="submit a prompt")
    invoke.add_argument("prompt")
    invoke.add_argument("--param", action="append", type=_parameter, default=[], help="TGI parameter NAME=VALUE (JSON value)")
    invoke.add_argument("--idempotency-key")
    invoke.add_argument("--wait", action="store_true", help="poll until the result is ready and print the text")
    invoke.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait with --wait (default 1800)")
    invoke.add_argument("--poll-seconds", type=float, default=10.0, help="seconds between status checks (default 10)")
    status = commands.add_parser("status", help="show an inference's status or result")
    status.add_argument("inference_id")
    args = parser.parse_args(argv)

    client = InferenceClient(_api_url(args), transport=transport)
    if args.command == "status":
        response = client.status(args.inference_id)
    else:
        response = client.submit(args.prompt, dict(args.param), args.idempotency_key)
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
        print(generated_text(body["result"]), file=out)
    elif body.get("status") == "Failed":
        print(f"failed: {body.get('failureReason', '')}", file=sys.stderr)
        return 1
    else:
        print(json.dumps(body, indent=2), file=out)
        if args.command == "invoke" and args.wait:
            print(f"still {body.get('status')} after {args.timeout:g} s: ask again with `status`", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
