"""A deployed stage's smoke test: one prompt through its API, waiting as long as a wake from zero takes.

    python -m llm_async_tools.smoke_test --api-url URL [--role-arn ARN] [--timeout SECONDS]

Sends an OpenAI chat completion request (the shape most apps use) and exits 0 only when the inference
completes with generated text (the API's `text`) that is not the prompt echoed back; otherwise prints why
and exits 1. The pipeline runs it after each stage deploys, as the stage's
smoke-test role (`--role-arn`), which may call that stage's API and nothing else.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

import boto3

from llm_async_tools.client import ApiResponse, InferenceClient, Transport, chat_body, urllib_transport, wait_for_result

PROMPT = "Reply with one word: what colour is the sky on a clear day?"
REQUEST = chat_body([{"role": "user", "content": PROMPT}], parameters={"max_tokens": 16, "temperature": 0.1})


def result_problem(response: ApiResponse) -> str | None:
    """What is wrong with a final status response, or None for a well-formed completed inference."""
    body = response.body if isinstance(response.body, dict) else {}
    if response.status != 200:
        return f"status call answered {response.status}: {body}"
    if body.get("status") != "Completed":
        reason = body.get("failureReason", "no result before the timeout")
        return f"inference {body.get('inferenceId')} ended {body.get('status')}: {reason}"
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return f"no generated text in the result: {body.get('result')!r}"[:500]
    # An engine that echoes its input (TGI's return_full_text) would pass a non-empty check on the echo alone.
    if PROMPT in text:
        return f"the result repeats the prompt instead of answering it: {text!r}"[:500]
    return None


def assumed_session(role_arn: str) -> boto3.Session:
    credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="llm-async-smoke-test")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def run(
    client: InferenceClient,
    *,
    timeout_s: float,
    out: TextIO,
    poll_s: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    started = clock()
    submitted = client.submit(REQUEST, idempotency_key=f"smoke-{uuid.uuid4().hex}", sleep=sleep)
    if submitted.status != 202:
        print(f"smoke test failed: submit answered {submitted.status}: {submitted.body}", file=out)
        return 1
    inference_id = submitted.body["inferenceId"]
    print(f"submitted {inference_id}; waiting up to {timeout_s:g} s (a cold endpoint starts an instance first)", file=out)
    final = wait_for_result(client, inference_id, timeout_s=timeout_s, poll_s=poll_s, out=out, clock=clock, sleep=sleep)
    print(file=out)
    problem = result_problem(final)
    if problem:
        print(f"smoke test failed: {problem}", file=out)
        return 1
    text: Any = final.body["text"]
    print(f"smoke test passed: {inference_id} completed in {clock() - started:.0f} s: {text.strip()[:80]!r}", file=out)
    return 0


def main(argv: list[str] | None = None, *, transport: Transport = urllib_transport, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_async_tools.smoke_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", required=True, help="the stage's ApiUrl output")
    parser.add_argument("--role-arn", help="assume this role to call the API (the stage's SmokeTestRoleArn output)")
    parser.add_argument("--timeout", type=float, default=2100.0, help="seconds to wait for the result (default 2100)")
    args = parser.parse_args(argv)
    session = assumed_session(args.role_arn) if args.role_arn else boto3.Session()
    try:
        client = InferenceClient(args.api_url, session=session, transport=transport)
    except ValueError as error:
        parser.error(str(error))
    return run(client, timeout_s=args.timeout, out=out or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
