"""Command-line client of the inference API, signing each request with SigV4 (botocore) as IAM auth requires.

    python -m llm_async_tools.client --api-url URL chat "What are cookies?" --system "Answer briefly." --wait
    python -m llm_async_tools.client --api-url URL chat --json-schema answer.schema.json --wait < messages.json
    python -m llm_async_tools.client --api-url URL invoke "Hello, how are you?" --param temperature=0.8 --wait
    python -m llm_async_tools.client --api-url URL status INFERENCE_ID
    python -m llm_async_tools.client --api-url URL batch submit prompts.jsonl --endpoint /v1/chat/completions --wait
    python -m llm_async_tools.client --api-url URL batch results BATCH_ID -o out.jsonl [--errors]
    python -m llm_async_tools.client --api-url URL batch status|cancel BATCH_ID
    python -m llm_async_tools.client --api-url URL batch list [--limit 20]

`--stack LlmAsyncStack` reads the URL from the deployed stack's `ApiUrl` output instead. Batch jobs are described in
docs/batch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

_API_HOST = re.compile(r"^https://[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any


Transport = Callable[[str, str, dict[str, str], bytes | BinaryIO | None], ApiResponse]
"""(method, url, headers, body) → the answer, its body read as JSON. The body is bytes, or an open binary file for the
upload of a batch input file (sent as it is read, with the Content-Length header the caller gives)."""
Download = Callable[[str, BinaryIO], ApiResponse]
"""(url, destination) → the answer of a plain GET of `url`, its body written to `destination` when the status is 200
(an error's body is read as JSON into the answer instead). Used for presigned S3 URLs: nothing signs the request."""


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return {"error": {"code": "NotJson", "message": raw.decode(errors="replace")[:500]}}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered to the caller, not followed: GET /files/{id}/content answers 303 to a presigned S3 URL,
    and urllib would send the request's SigV4 Authorization header on to S3, which refuses a request authenticated
    twice (the URL's query signature and the header)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201  (urllib's signature)
        return None


_NOT_FOLLOWING = urllib.request.build_opener(_NoRedirect)


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | BinaryIO | None) -> ApiResponse:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with _NOT_FOLLOWING.open(request, timeout=30) as response:
            return ApiResponse(response.status, dict(response.headers), _json_body(response.read()))
    except urllib.error.HTTPError as error:
        return ApiResponse(error.code, dict(error.headers), _json_body(error.read()))


DOWNLOAD_BLOCK_BYTES = 1 << 20


def urllib_download(url: str, destination: BinaryIO) -> ApiResponse:
    """A plain GET (no headers of ours: a presigned URL carries its signature), streamed to `destination`."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=60) as response:
            shutil.copyfileobj(response, destination, DOWNLOAD_BLOCK_BYTES)
            return ApiResponse(response.status, dict(response.headers), None)
    except urllib.error.HTTPError as error:
        return ApiResponse(error.code, dict(error.headers), _json_body(error.read()))


RETRYABLE = {429, 503}
UPLOAD_RETRYABLE = {500, 503}
"""S3's answers to a PUT that another attempt may not meet (InternalError, SlowDown)."""
MAX_RETRIES = 3


def _retry_after_s(response: ApiResponse) -> float:
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        return min(float(headers.get("retry-after", "5")), 30.0)
    except ValueError:
        return 5.0


def _backoff_s(attempt: int) -> float:
    """After no answer at all (a connection refused, reset or timed out): 1, 2, 4 s."""
    return float(2**attempt)


class InferenceClient:
    def __init__(
        self,
        api_url: str,
        *,
        session: boto3.Session | None = None,
        transport: Transport = urllib_transport,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        match = _API_HOST.match(api_url)
        if not match:
            raise ValueError(f"--api-url: must be an API Gateway URL like https://ID.execute-api.REGION.amazonaws.com/v1/ (got {api_url!r})")
        self._base = api_url.rstrip("/")
        self._region = match.group(1)
        self._session = session or boto3.Session()
        self._transport = transport
        self._sleep = sleep

    def _call(self, method: str, path: str, body: dict | None = None, headers: dict[str, str] | None = None) -> ApiResponse:
        data = json.dumps(body).encode() if body is not None else None
        request = AWSRequest(method=method, url=f"{self._base}{path}", data=data, headers={"Content-Type": "application/json", **(headers or {})})
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found: configure a profile or role that may call the API")
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(request)
        return self._transport(method, request.url, dict(request.headers.items()), data)

    def _send(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> ApiResponse:
        """A signed call, retried after 429/503 (Retry-After) and after no answer at all, MAX_RETRIES times: every call
        that goes through here is safe to repeat (a read, a cancel, or a POST with its Idempotency-Key)."""
        sleep = sleep or self._sleep
        for attempt in range(MAX_RETRIES + 1):
            try:
                response = self._call(method, path, body, headers)
            except OSError:  # urllib's URLError, a reset connection, a timeout
                if attempt == MAX_RETRIES:
                    raise
                sleep(_backoff_s(attempt))
                continue
            if response.status not in RETRYABLE or attempt == MAX_RETRIES:
                return response
            sleep(_retry_after_s(response))
        raise AssertionError("unreachable")

    def submit(
        self, body: dict[str, Any], idempotency_key: str | None = None, sleep: Callable[[float], None] | None = None
    ) -> ApiResponse:
        """Any of the API's request shapes (chat `messages`, completions `prompt`, TGI `inputs`).

        Retries 429/503 after Retry-After with one Idempotency-Key, so a retry never invokes twice."""
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return self._send("POST", "/invocations", body, headers, sleep)

    def status(self, inference_id: str) -> ApiResponse:
        return self._call("GET", f"/invocations/{inference_id}")

    # Batch jobs (docs/batch.md): OpenAI's Batch API routes on the same API.

    def create_file(self, filename: str, size: int) -> ApiResponse:
        """POST /files: a file object and its `upload` target, a presigned PUT signed with `size`."""
        return self._send("POST", "/files", {"purpose": "batch", "filename": filename, "bytes": size})

    def upload(self, upload: dict[str, Any], path: Path) -> ApiResponse:
        """The file's bytes to the presigned URL POST /files answered, with exactly its headers (the URL's signature
        covers Content-Length and Content-Type) and no signature of ours. Retried on S3's 500/503 and on no answer;
        each attempt reads the file from its start."""
        for attempt in range(MAX_RETRIES + 1):
            with path.open("rb") as content:
                try:
                    response = self._transport(upload["method"], upload["url"], dict(upload["headers"]), content)
                except OSError:
                    if attempt == MAX_RETRIES:
                        raise
                    self._sleep(_backoff_s(attempt))
                    continue
            if response.status not in UPLOAD_RETRYABLE or attempt == MAX_RETRIES:
                return response
            self._sleep(_backoff_s(attempt))
        raise AssertionError("unreachable")

    def create_batch(
        self,
        input_file_id: str,
        endpoint: str,
        completion_window: str = "24h",
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> ApiResponse:
        """POST /batches with one Idempotency-Key for all its attempts: a retry answers the batch the first attempt
        created, never a second one."""
        body: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": endpoint, "completion_window": completion_window}
        if metadata:
            body["metadata"] = metadata
        return self._send("POST", "/batches", body, {"Idempotency-Key": idempotency_key or uuid.uuid4().hex})

    def batch(self, batch_id: str) -> ApiResponse:
        return self._send("GET", f"/batches/{urllib.parse.quote(batch_id, safe='')}")

    def batches(self, limit: int | None = None, after: str | None = None) -> ApiResponse:
        query = urllib.parse.urlencode({k: v for k, v in (("limit", limit), ("after", after)) if v is not None})
        return self._send("GET", f"/batches?{query}" if query else "/batches")

    def cancel_batch(self, batch_id: str) -> ApiResponse:
        return self._send("POST", f"/batches/{urllib.parse.quote(batch_id, safe='')}/cancel")

    def file_content(self, file_id: str) -> ApiResponse:
        """GET /files/{file_id}/content: 303, its Location (and body's `url`) a presigned GET of the content."""
        return self._send("GET", f"/files/{urllib.parse.quote(file_id, safe='')}/content")


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


BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/completions")
BATCH_FINAL = ("completed", "failed", "expired", "cancelled")
POLL_GROWTH = 1.5
"""--wait's polls: every --poll-seconds at first, each wait POLL_GROWTH times the last, up to --max-poll-seconds (a
GET of a running batch lists its lines' count markers: a 24-hour batch is asked ~1,500 times, not ~17,000)."""


def wait_for_batch(
    client: InferenceClient,
    batch_id: str,
    *,
    poll_s: float = 5.0,
    max_poll_s: float = 60.0,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ApiResponse:
    """Polls GET /batches/{id} until a final status, with a progress bar on `err`: the status, lines done (completed
    and failed) of the total, the rate and the time left. Answers the final batch, or the first error the API gives
    (429 and 503 are waited out)."""
    interval = poll_s
    # Imported here: the pipeline's smoke test runs this module in a venv of boto3 alone (stacks/pipeline_stack.py).
    from tqdm import tqdm

    with tqdm(total=None, unit="line", desc="validating", file=err or sys.stderr, mininterval=0, dynamic_ncols=True) as bar:
        while True:
            response = client.batch(batch_id)
            if response.status not in RETRYABLE:
                if response.status != 200:
                    return response
                batch = response.body
                counts = batch.get("request_counts") or {}
                completed, failed = int(counts.get("completed") or 0), int(counts.get("failed") or 0)
                if counts.get("total") and bar.total != counts["total"]:
                    bar.total = int(counts["total"])
                bar.set_description_str(str(batch.get("status")), refresh=False)
                bar.set_postfix_str(f"completed={completed}, failed={failed}", refresh=False)
                bar.update(completed + failed - bar.n)  # prints: mininterval 0, each poll is one line of progress
                if batch.get("status") in BATCH_FINAL:
                    return response
            sleep(interval)
            interval = min(max_poll_s, interval * POLL_GROWTH)


def batch_outcome(batch: dict[str, Any]) -> str | None:
    """One line on how a finished batch ended, None for a completed one."""
    status, batch_id = batch.get("status"), batch.get("id")
    counts = batch.get("request_counts") or {}
    done = f"{counts.get('completed', 0)} of {counts.get('total', 0)} lines completed, {counts.get('failed', 0)} failed"
    if status == "completed":
        return None
    if status == "failed":
        errors = (batch.get("errors") or {}).get("data") or []
        if not errors:
            return f"batch {batch_id} failed"
        first = errors[0]
        where = f"line {first['line']}: " if first.get("line") is not None else ""
        more = f" (and {len(errors) - 1} more errors: see errors.data)" if len(errors) > 1 else ""
        return f"batch {batch_id} failed: {where}{first.get('code')}: {first.get('message')}{more}"
    return f"batch {batch_id} {status}: {done}; `batch results {batch_id} -o FILE` (and --errors) give what there is"


def _metadata_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must be KEY=VALUE (got {text!r})")
    return name, value


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
    _batch_parser(commands)
    return parser


def _batch_parser(commands: Any) -> None:  # noqa: ANN401  (argparse's private _SubParsersAction)
    batch = commands.add_parser("batch", help="OpenAI batch jobs: a JSONL file of requests in, a JSONL file of results out")
    batch_commands = batch.add_subparsers(dest="batch_command", required=True)
    submit = batch_commands.add_parser("submit", help="upload a JSONL file of requests and start a batch of them")
    submit.add_argument("file", type=Path, help="the input: one {custom_id, method, url, body} JSON object a line")
    submit.add_argument("--endpoint", required=True, choices=BATCH_ENDPOINTS, help="every line's url, and its body's shape")
    submit.add_argument("--completion-window", default="24h", help="lines not done by then are reported expired (default 24h)")
    submit.add_argument("--metadata", action="append", type=_metadata_pair, default=[], metavar="KEY=VALUE",
                        help="a metadata pair of the batch (repeatable)")  # fmt: skip
    submit.add_argument("--wait", action="store_true", help="show progress until the batch finishes; exit 0 only if it completed")
    submit.add_argument("--poll-seconds", type=float, default=5.0, help="first wait between status checks (default 5)")
    submit.add_argument("--max-poll-seconds", type=float, default=60.0, help="longest wait between status checks (default 60)")
    submit.set_defaults(usage_error=submit.error)
    for name, help_text in (("status", "show a batch"), ("cancel", "stop a batch: what finished is reported, the rest cancelled")):
        command = batch_commands.add_parser(name, help=help_text)
        command.add_argument("batch_id")
    listing = batch_commands.add_parser("list", help="your batches, newest first")
    listing.add_argument("--limit", type=int, help="at most this many (1–100; the API's default 20)")
    listing.add_argument("--after", metavar="BATCH_ID", help="the page after this batch")
    results = batch_commands.add_parser("results", help="download a finished batch's output file (or error file)")
    results.add_argument("batch_id")
    results.add_argument("-o", "--output", type=Path, required=True, help="the file to write (replaced once complete)")
    results.add_argument("--errors", action="store_true", help="the error file: the lines that failed, expired or were cancelled")
    results.set_defaults(usage_error=results.error)


def _request_body(args: argparse.Namespace, parser: argparse.ArgumentParser, stdin: TextIO) -> dict[str, Any]:
    if args.command == "invoke":
        return generate_body(args.prompt, dict(args.param))
    try:
        messages = chat_messages(args.messages, stdin)
        schema = json.load(args.json_schema) if args.json_schema else None
    except ValueError as error:
        parser.error(str(error))
    return chat_body(messages, system=args.system, json_schema=schema, parameters=dict(args.param))


def _api_error(response: ApiResponse) -> int:
    print(f"error {response.status}: {json.dumps(response.body)}", file=sys.stderr)
    return 1


def _s3_error(response: ApiResponse) -> str:
    """S3's XML error as `Code: Message`, or the answer's body as JSON."""
    body = response.body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") == "NotJson":
        text = str(error.get("message", ""))
        code, message = re.search(r"<Code>([^<]*)</Code>", text), re.search(r"<Message>([^<]*)</Message>", text)
        if code:
            return f"{code.group(1)}: {message.group(1)}" if message else code.group(1)
        return " ".join(text.split())
    return json.dumps(body)


def _check_batch_usage(args: argparse.Namespace) -> None:
    """What the command line alone can refuse, before any call (--stack's included)."""
    if args.batch_command == "submit":
        path: Path = args.file
        if not path.exists():
            args.usage_error(f"FILE: {path} does not exist")
        if not path.is_file():
            args.usage_error(f"FILE: {path} is not a file")
        if not os.access(path, os.R_OK):
            args.usage_error(f"FILE: {path} is not readable")
        if path.stat().st_size == 0:
            args.usage_error(f"FILE: {path} is empty (a batch needs at least one line)")
    elif args.batch_command == "results":
        output: Path = args.output
        if output.is_dir():
            args.usage_error(f"--output: {output} is a directory")
        if not output.absolute().parent.is_dir():
            args.usage_error(f"--output: {output.absolute().parent} is not a directory")


def _batch(args: argparse.Namespace, client: InferenceClient, out: TextIO, download: Download, sleep: Callable[[float], None]) -> int:
    if args.batch_command == "submit":
        return _submit_batch(args, client, out, sleep)
    if args.batch_command == "results":
        return _batch_results(args, client, download)
    if args.batch_command == "list":
        response = client.batches(args.limit, args.after)
    elif args.batch_command == "cancel":
        response = client.cancel_batch(args.batch_id)
    else:
        response = client.batch(args.batch_id)
    if response.status != 200:
        return _api_error(response)
    print(json.dumps(response.body, indent=2), file=out)
    return 0


def _submit_batch(args: argparse.Namespace, client: InferenceClient, out: TextIO, sleep: Callable[[float], None]) -> int:
    """POST /files, the PUT of the file to its presigned URL, POST /batches; with --wait, its progress to the end."""
    path: Path = args.file
    size = path.stat().st_size
    created = client.create_file(path.name, size)
    if created.status != 200:
        return _api_error(created)
    file = created.body
    uploaded = client.upload(file["upload"], path)
    if uploaded.status != 200:
        print(f"error {uploaded.status}: S3 refused the upload of {path} as {file['id']}: {_s3_error(uploaded)}", file=sys.stderr)
        return 1
    print(f"uploaded {path} as {file['id']} ({size} bytes)", file=sys.stderr)
    response = client.create_batch(file["id"], args.endpoint, args.completion_window, dict(args.metadata) or None)
    if response.status != 200:
        return _api_error(response)
    batch = response.body
    if not args.wait:
        print(json.dumps(batch, indent=2), file=out)
        return 0
    batch_id = batch["id"]
    print(f"created {batch_id} ({batch['status']}); Ctrl-C stops waiting, not the batch", file=sys.stderr)
    try:
        response = wait_for_batch(client, batch_id, poll_s=args.poll_seconds, max_poll_s=args.max_poll_seconds, sleep=sleep)
    except KeyboardInterrupt:
        print(f"stopped waiting: {batch_id} goes on (`batch status {batch_id}`)", file=sys.stderr)
        return 130
    if response.status != 200:
        return _api_error(response)
    print(json.dumps(response.body, indent=2), file=out)
    outcome = batch_outcome(response.body)
    if outcome is not None:
        print(outcome, file=sys.stderr)
        return 1
    return 0


def _no_file(batch: dict[str, Any], kind: str) -> str:
    batch_id, status = batch.get("id"), batch.get("status")
    if status not in BATCH_FINAL:
        return f"batch {batch_id} is {status}: its {kind} file is written when it finishes (`batch status {batch_id}`)"
    counts = batch.get("request_counts") or {}
    text = (f"batch {batch_id} is {status} and has no {kind} file: "
            f"{counts.get('completed', 0)} lines completed, {counts.get('failed', 0)} failed")  # fmt: skip
    if kind == "output" and batch.get("error_file_id"):
        text += "; the failed lines are in the error file (--errors)"
    if status == "failed" and (batch.get("errors") or {}).get("data"):
        text += f"; why it failed is in its errors (`batch status {batch_id}`)"
    return text


def _batch_results(args: argparse.Namespace, client: InferenceClient, download: Download) -> int:
    """The batch's output (or error) file: GET /files/{id}/content's 303, then its Location with a plain GET, written to
    a `.part` file first and renamed once complete."""
    response = client.batch(args.batch_id)
    if response.status != 200:
        return _api_error(response)
    batch = response.body
    kind = "error" if args.errors else "output"
    file_id = batch.get(f"{kind}_file_id")
    if not file_id:
        print(_no_file(batch, kind), file=sys.stderr)
        return 1
    content = client.file_content(file_id)
    location = {k.lower(): v for k, v in content.headers.items()}.get("location")
    if content.status != 303 or not location:
        return _api_error(content)
    output: Path = args.output
    partial = output.with_name(f"{output.name}.part")
    try:
        with partial.open("wb") as destination:
            downloaded = download(location, destination)
        if downloaded.status != 200:
            print(f"error {downloaded.status}: S3 refused the download of {file_id}: {_s3_error(downloaded)}", file=sys.stderr)
            return 1
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {batch['id']}'s {kind} file {file_id} to {output} ({output.stat().st_size} bytes)", file=sys.stderr)
    return 0


def main(
    argv: list[str] | None = None,
    *,
    transport: Transport = urllib_transport,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    download: Download = urllib_download,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)

    if args.command == "batch":
        _check_batch_usage(args)
        client = InferenceClient(_api_url(args), transport=transport, sleep=sleep)
        try:
            return _batch(args, client, out, download, sleep)
        except OSError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    client = InferenceClient(_api_url(args), transport=transport, sleep=sleep)
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
