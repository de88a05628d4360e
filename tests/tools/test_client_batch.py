"""The client's `batch` commands against the real batch API handler (moto): the upload by presigned PUT, one batch per
Idempotency-Key, --wait's progress to a final status, the results by the 303's URL, cancel, list, status, and the
usage errors refused before any call. The state machine's steps are driven between polls by the runtime's own
records and steps (Validate, the line outcomes the tracker writes, Finalize)."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, parse_qsl, unquote, urlparse

import pytest
from batch_jobs import records, steps

from llm_async_tools.client import ApiResponse, main, urllib_download, urllib_transport
from tests.api.runtime.batch import conftest as batch_conftest
from tests.api.runtime.batch.conftest import STATE_MACHINE_ARN, FakeContext, batch_event, call
from tests.api.runtime.events import CHAT, chat_line, jsonl
from tests.api.runtime.conftest import BUCKET

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# The batch runtime tests' fixture: the inference tests' moto mock, the batch state machine, fresh Lambda caches.
stack = batch_conftest.batch_aws

API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/"


def _s3_error(status: int, code: str, message: str) -> ApiResponse:
    """S3's XML error, as urllib_transport reads a body that is not JSON."""
    xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return ApiResponse(status, {}, {"error": {"code": "NotJson", "message": xml}})


class Stand:
    """API Gateway and S3 as the client meets them. A signed call becomes the proxy event API Gateway sends the batch
    handler after IAM auth; a presigned PUT lands in moto, refused as S3 refuses it without exactly the headers
    POST /files signed (Content-Length, Content-Type) or with a body of another length. `before_poll` runs one step
    before each GET /batches/{id}; `lose_batch_answers` replaces that many POST /batches answers, after the handler
    ran, with a 503 (an answer lost on its way back)."""

    def __init__(self, stack: dict[str, Any], *, before_poll: list[Callable[[], None]] | None = None,
                 lose_batch_answers: int = 0, refuse_uploads: bool = False) -> None:  # fmt: skip
        self.s3 = stack["s3"]
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.signed_uploads: dict[str, dict[str, str]] = {}
        self.before_poll = list(before_poll or [])
        self.lose_batch_answers = lose_batch_answers
        self.refuse_uploads = refuse_uploads
        self.polls = 0

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes | BinaryIO | None) -> ApiResponse:
        self.requests.append((method, url, dict(headers)))
        parsed = urlparse(url)
        if ".execute-api." in parsed.netloc:
            return self._api(method, parsed.path.removeprefix("/v1"), dict(parse_qsl(parsed.query)) or None, headers, body)
        return self._s3_put(method, url, headers, body)

    def api_calls(self) -> list[tuple[str, str]]:
        return [(method, urlparse(url).path.removeprefix("/v1")) for method, url, _ in self.requests if ".execute-api." in url]

    def _api(self, method: str, path: str, query: dict[str, str] | None, headers: dict[str, str], body: Any) -> ApiResponse:
        if method == "GET" and path.startswith("/batches/"):
            self.polls += 1
            if self.before_poll:
                self.before_poll.pop(0)()
        key = {k: v for k, v in headers.items() if k.lower() == "idempotency-key"}
        status, answer_headers, answer = call(batch_event(method, path, body.decode() if body else None, headers=key, query=query))
        if method == "POST" and path == "/files" and status == 200:
            self.signed_uploads[answer["upload"]["url"]] = answer["upload"]["headers"]
        if method == "POST" and path == "/batches" and self.lose_batch_answers:
            self.lose_batch_answers -= 1
            return ApiResponse(503, {"Retry-After": "1"}, {"message": "Service Unavailable"})
        return ApiResponse(status, answer_headers, answer)

    def _s3_put(self, method: str, url: str, headers: dict[str, str], body: Any) -> ApiResponse:
        assert method == "PUT"
        assert not any(name.lower() in ("authorization", "x-amz-date") for name in headers), "a presigned PUT is not signed again"
        if self.refuse_uploads:
            return _s3_error(403, "AccessDenied", "Request has expired")
        if headers != self.signed_uploads.get(url):
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        data = body.read() if hasattr(body, "read") else body
        if len(data) != int(headers["Content-Length"]):
            return _s3_error(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
        parsed = urlparse(url)
        bucket = parsed.netloc.split(".s3", 1)[0]  # the presigner's virtual-hosted URL
        self.s3.put_object(Bucket=bucket, Key=unquote(parsed.path.lstrip("/")), Body=data, ContentType=headers["Content-Type"])
        return ApiResponse(200, {}, None)


class S3Download:
    """A plain GET of a presigned URL (the client's `download`): the object from moto, or S3's 404."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.urls: list[str] = []

    def __call__(self, url: str, destination: BinaryIO) -> ApiResponse:
        self.urls.append(url)
        parsed = urlparse(url)
        try:
            body = self.s3.get_object(Bucket=parsed.netloc.split(".s3", 1)[0], Key=unquote(parsed.path.lstrip("/")))["Body"]
        except self.s3.exceptions.NoSuchKey:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        destination.write(body.read())
        return ApiResponse(200, {}, None)


def _input(tmp_path: Path, lines: list[Any]) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(jsonl(lines))
    return path


THREE = [chat_line("req-1"), chat_line("req-2", "Say hello"), chat_line("req-3", "Say bye")]


def _submit(stand: Stand, path: Path, *extra: str, **options: Any) -> tuple[int, dict[str, Any] | None]:
    out = io.StringIO()
    code = main(["--api-url", API_URL, "batch", "submit", str(path), "--endpoint", CHAT, *extra], transport=stand, out=out, **options)
    return code, json.loads(out.getvalue()) if out.getvalue() else None


def _run(stand: Stand, *arguments: str, download: Any = None) -> tuple[int, str]:
    out = io.StringIO()
    options = {"download": download} if download else {}
    code = main(["--api-url", API_URL, "batch", *arguments], transport=stand, out=out, **options)
    return code, out.getvalue()


# The runtime's steps, between polls --------------------------------------------------------------------------------


def _validate(batch_id: str) -> None:
    steps.validate({"batch_id": batch_id}, FakeContext())


def _completed(s3: Any, batch_id: str, line: int) -> None:
    """The line's result where SageMaker writes it, and its outcome as the tracker records it."""
    inference_id = records.line_inference_id(batch_id, line)
    answer = {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {line}"}}]}
    s3.put_object(Bucket=BUCKET, Key=f"output/{inference_id}.out", Body=json.dumps(answer).encode())
    done = records.outcome(line, None, inference_id, "completed", output_location=f"s3://{BUCKET}/output/{inference_id}.out")
    steps._store().record_outcome(batch_id, done)


def _failed(batch_id: str, line: int) -> None:
    inference_id = records.line_inference_id(batch_id, line)
    reason = "Received client error (422) from primary with message \"Input validation error\"."
    steps._store().record_outcome(batch_id, records.outcome(line, None, inference_id, "failed",
                                                            error={"code": "inference_failed", "message": reason}))  # fmt: skip


def _finalize(batch_id: str) -> None:
    steps.finalize({"batch_id": batch_id}, FakeContext())


def _in_progress(stand: Stand, tmp_path: Path, lines: list[Any] = THREE) -> dict[str, Any]:
    """A batch of `lines` submitted by the client and validated (in progress, no line done): the client's answer."""
    _, batch = _submit(stand, _input(tmp_path, lines))
    assert batch is not None
    _validate(batch["id"])
    return batch


def _finished(stack: dict[str, Any], stand: Stand, tmp_path: Path) -> dict[str, Any]:
    """A batch of THREE submitted by the client and run to completed: lines 1 and 3 answered, line 2 refused (422)."""
    batch = _in_progress(stand, tmp_path)
    _completed(stack["s3"], batch["id"], 1)
    _failed(batch["id"], 2)
    _completed(stack["s3"], batch["id"], 3)
    _finalize(batch["id"])
    return batch


# submit ------------------------------------------------------------------------------------------------------------


def test_submit_uploads_the_file_by_its_presigned_put_and_creates_the_batch(stack, tmp_path) -> None:
    stand = Stand(stack)
    path = _input(tmp_path, THREE)
    code, batch = _submit(stand, path, "--metadata", "project=eval", "--metadata", "owner=ml")
    assert code == 0 and batch is not None
    assert {k: batch[k] for k in ("object", "status", "endpoint", "completion_window", "metadata")} == {
        "object": "batch", "status": "validating", "endpoint": CHAT, "completion_window": "24h",
        "metadata": {"project": "eval", "owner": "ml"},
    }  # fmt: skip
    stored = stack["s3"].get_object(Bucket=BUCKET, Key=f"files/{batch['input_file_id']}")
    assert (stored["Body"].read(), stored["ContentType"]) == (path.read_bytes(), "application/jsonl")
    assert [(method, urlparse(url).netloc.endswith("amazonaws.com")) for method, url, _ in stand.requests] == [
        ("POST", True), ("PUT", True), ("POST", True)]  # fmt: skip
    assert stand.api_calls() == [("POST", "/files"), ("POST", "/batches")]
    for _, _, headers in (stand.requests[0], stand.requests[2]):
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]
    (execution,) = stack["sfn"].list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]
    assert execution["name"] == batch["id"]


def test_a_retried_submit_starts_one_batch(stack, tmp_path) -> None:
    # The first POST /batches created the batch and started its execution, but its answer was lost: the retry, with
    # the same Idempotency-Key, is answered that batch.
    stand = Stand(stack, lose_batch_answers=1)
    slept: list[float] = []
    code, batch = _submit(stand, _input(tmp_path, THREE), sleep=slept.append)
    assert code == 0 and batch is not None
    posts = [headers for method, url, headers in stand.requests if method == "POST" and url.endswith("/batches")]
    assert len(posts) == 2
    assert len({headers["Idempotency-Key"] for headers in posts}) == 1
    assert slept == [1.0]
    (execution,) = stack["sfn"].list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]
    assert execution["name"] == batch["id"]
    assert batch_conftest.keys(stack["s3"], "batches/by-caller/") == [f"{records.caller_prefix(batch_conftest.CALLER)}{batch['id']}"]


def test_an_upload_s3_refuses_is_one_line_and_creates_no_batch(stack, tmp_path, capsys) -> None:
    stand = Stand(stack, refuse_uploads=True)
    code, batch = _submit(stand, _input(tmp_path, THREE))
    assert (code, batch) == (1, None)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error 403: S3 refused the upload of ") and line.endswith(": AccessDenied: Request has expired")
    assert stand.api_calls() == [("POST", "/files")]


def test_a_file_the_api_refuses_is_its_error(stack, tmp_path, capsys, monkeypatch) -> None:
    batch_conftest.with_environment(monkeypatch, max_file_bytes=10)
    code, _ = _submit(Stand(stack), _input(tmp_path, THREE))
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error 400: ") and "bytes: must be an integer from 1 to 10" in line


# submit --wait -----------------------------------------------------------------------------------------------------


def test_wait_shows_progress_to_completed_and_exits_0(stack, tmp_path, capsys) -> None:
    s3 = stack["s3"]
    batch_ids: list[str] = []

    def batch_id() -> str:
        if not batch_ids:  # the batch the client created: the only one
            (marker,) = batch_conftest.keys(s3, "batches/by-caller/")
            batch_ids.append(marker.rsplit("/", 1)[1])
        return batch_ids[0]

    def two_lines_done() -> None:
        _completed(s3, batch_id(), 1)
        _failed(batch_id(), 2)

    def last_line_and_finalize() -> None:
        _completed(s3, batch_id(), 3)
        _finalize(batch_id())

    # Poll 1 finds it validating, 2 in progress with nothing done, 3 two lines of three done, 4 completed.
    stand = Stand(stack, before_poll=[lambda: None, lambda: _validate(batch_id()), two_lines_done, last_line_and_finalize])
    slept: list[float] = []
    code, final = _submit(stand, _input(tmp_path, THREE), "--wait", sleep=slept.append)
    assert code == 0 and final is not None
    assert (final["id"], final["status"], final["request_counts"]) == (batch_id(), "completed", {"total": 3, "completed": 2, "failed": 1})
    assert final["output_file_id"] and final["error_file_id"]
    assert stand.polls == 4 and len(slept) == 3
    bar = capsys.readouterr().err
    for shown in ("validating", "in_progress: ", "0/3", "2/3", "completed=1, failed=1", "completed: 100%", "3/3", "completed=2, failed=1",
                  "line/s"):  # fmt: skip
        assert shown in bar, shown


def test_wait_exits_non_zero_with_the_first_error_when_the_batch_fails(stack, tmp_path, capsys) -> None:
    s3 = stack["s3"]

    def validate() -> None:
        (marker,) = batch_conftest.keys(s3, "batches/by-caller/")
        _validate(marker.rsplit("/", 1)[1])

    lines = [chat_line("req-1"), chat_line("req-2", url="/v1/completions")]
    code, final = _submit(Stand(stack, before_poll=[validate]), _input(tmp_path, lines), "--wait", sleep=lambda _: None)
    assert code == 1 and final is not None and final["status"] == "failed"
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"batch {final['id']} failed: line 2: invalid_url: url: must be /v1/chat/completions, the batch's endpoint"
                    ' (got "/v1/completions")')  # fmt: skip


# results -----------------------------------------------------------------------------------------------------------


def test_results_downloads_the_output_file_by_the_303s_url(stack, tmp_path, capsys) -> None:
    stand, download = Stand(stack), S3Download(stack["s3"])
    batch = _finished(stack, stand, tmp_path)
    output = tmp_path / "out.jsonl"
    code, _ = _run(stand, "results", batch["id"], "-o", str(output), download=download)
    assert code == 0
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(line["custom_id"], line["response"]["status_code"], line["error"]) for line in written] == [
        ("req-1", 200, None), ("req-3", 200, None)]  # fmt: skip
    assert written[0]["response"]["body"]["choices"][0]["message"]["content"] == "answer 1"
    final = json.loads(stack["s3"].get_object(Bucket=BUCKET, Key=f"batches/{batch['id']}/batch.json")["Body"].read())
    assert stand.api_calls()[-2:] == [("GET", f"/batches/{batch['id']}"), ("GET", f"/files/{final['output_file_id']}/content")]
    (url,) = download.urls
    assert urlparse(url).path == f"/files/{final['output_file_id']}" and "X-Amz-Signature" in parse_qs(urlparse(url).query)
    assert not (tmp_path / "out.jsonl.part").exists()
    assert f"to {output}" in capsys.readouterr().err


def test_results_errors_downloads_the_error_file(stack, tmp_path) -> None:
    stand, download = Stand(stack), S3Download(stack["s3"])
    batch = _finished(stack, stand, tmp_path)
    output = tmp_path / "errors.jsonl"
    code, _ = _run(stand, "results", batch["id"], "-o", str(output), "--errors", download=download)
    assert code == 0
    (line,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert (line["custom_id"], line["response"]["status_code"], line["error"]) == ("req-2", 422, None)


def test_results_of_a_running_batch_is_a_clear_error_and_writes_nothing(stack, tmp_path, capsys) -> None:
    stand, download = Stand(stack), S3Download(stack["s3"])
    batch = _in_progress(stand, tmp_path)
    code, _ = _run(stand, "results", batch["id"], "-o", str(tmp_path / "out.jsonl"), download=download)
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"batch {batch['id']} is in_progress: its output file is written when it finishes (`batch status {batch['id']}`)")
    assert download.urls == [] and not (tmp_path / "out.jsonl").exists()
    assert stand.api_calls()[-1] == ("GET", f"/batches/{batch['id']}")


def test_results_of_a_finished_batch_without_that_file_says_so(stack, tmp_path, capsys) -> None:
    stand = Stand(stack)
    batch = _in_progress(stand, tmp_path, [chat_line("req-1")])
    _completed(stack["s3"], batch["id"], 1)
    _finalize(batch["id"])
    code, _ = _run(stand, "results", batch["id"], "-o", str(tmp_path / "errors.jsonl"), "--errors", download=S3Download(stack["s3"]))
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"batch {batch['id']} is completed and has no error file: 1 lines completed, 0 failed")


# status, list, cancel ----------------------------------------------------------------------------------------------


def test_status_prints_the_batch(stack, tmp_path) -> None:
    stand = Stand(stack)
    batch = _in_progress(stand, tmp_path)
    code, out = _run(stand, "status", batch["id"])
    assert code == 0
    shown = json.loads(out)
    assert (shown["id"], shown["status"], shown["request_counts"]) == (batch["id"], "in_progress", {"total": 3, "completed": 0, "failed": 0})


def test_status_of_an_unknown_batch_is_the_apis_404(stack, capsys) -> None:
    code, _ = _run(Stand(stack), "status", "batch_" + "0" * 32)
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('error 404: {"error": {"code": "NotFound"')


def test_list_pages_the_callers_batches(stack, tmp_path) -> None:
    stand = Stand(stack)
    ids = {_submit(stand, _input(tmp_path, THREE))[1]["id"] for _ in range(2)}  # type: ignore[index]
    code, out = _run(stand, "list", "--limit", "1")
    assert code == 0
    page = json.loads(out)
    assert (page["object"], len(page["data"]), page["has_more"]) == ("list", 1, True)
    assert urlparse(stand.requests[-1][1]).query == "limit=1"
    code, out = _run(stand, "list", "--after", page["last_id"])
    rest = json.loads(out)
    assert code == 0 and {page["data"][0]["id"], *(b["id"] for b in rest["data"])} == ids and not rest["has_more"]


def test_cancel_answers_the_cancelling_batch(stack, tmp_path) -> None:
    stand = Stand(stack)
    batch = _in_progress(stand, tmp_path)
    code, out = _run(stand, "cancel", batch["id"])
    assert code == 0 and json.loads(out)["status"] == "cancelling"
    assert stand.api_calls()[-1] == ("POST", f"/batches/{batch['id']}/cancel")
    assert steps._store().is_cancelled(batch["id"])


def test_cancel_of_a_finished_batch_is_the_apis_409(stack, tmp_path, capsys) -> None:
    stand = Stand(stack)
    batch = _finished(stack, stand, tmp_path)
    code, _ = _run(stand, "cancel", batch["id"])
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith('error 409: {"error": {"code": "NotCancellable"')


# Usage errors: refused before any call -------------------------------------------------------------------------------


def _usage(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    empty, good = tmp_path / "empty.jsonl", tmp_path / "good.jsonl"
    empty.write_bytes(b"")
    good.write_bytes(jsonl(THREE))
    return {
        "a missing file": (["submit", str(tmp_path / "nope.jsonl"), "--endpoint", CHAT], f"FILE: {tmp_path / 'nope.jsonl'} does not exist"),
        "an empty file": (["submit", str(empty), "--endpoint", CHAT], f"FILE: {empty} is empty (a batch needs at least one line)"),
        "a directory": (["submit", str(tmp_path), "--endpoint", CHAT], f"FILE: {tmp_path} is not a file"),
        "no endpoint": (["submit", str(good)], "the following arguments are required: --endpoint"),
        "another endpoint": (["submit", str(good), "--endpoint", "/v1/embeddings"], "argument --endpoint: invalid choice: '/v1/embeddings'"),
        "metadata without =": (["submit", str(good), "--endpoint", CHAT, "--metadata", "project"],
                               "argument --metadata: must be KEY=VALUE (got 'project')"),
        "results without -o": (["results", "batch_" + "0" * 32], "the following arguments are required: -o/--output"),
        "results into a missing folder": (["results", "batch_" + "0" * 32, "-o", str(tmp_path / "no" / "out.jsonl")],
                                          f"--output: {tmp_path / 'no'} is not a directory"),
        "no batch command": ([], "the following arguments are required: batch_command"),
    }  # fmt: skip


@pytest.mark.parametrize("case", ["a missing file", "an empty file", "a directory", "no endpoint", "another endpoint",
                                  "metadata without =", "results without -o", "results into a missing folder",
                                  "no batch command"])  # fmt: skip
def test_usage_errors_exit_2_before_any_call(stack, tmp_path, capsys, case: str) -> None:
    arguments, message = _usage(tmp_path)[case]
    stand = Stand(stack)
    with pytest.raises(SystemExit) as exit_info:
        _run(stand, *arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
    assert stand.requests == []


# urllib: the 303 is answered, not followed; the presigned GET is plain -----------------------------------------------


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """/content answers 303 to /file; /file answers its bytes. Records each request's headers."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if self.path == "/content":
                body = json.dumps({"url": f"{base}/file"}).encode()
                self.send_response(303)
                self.send_header("Location", f"{base}/file")
            else:
                body = b'{"custom_id": "a"}\n{"custom_id": "b"}\n'
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, seen
    server.shutdown()
    server.server_close()


def test_urllib_transport_answers_a_303_without_following_it(local_server) -> None:
    base, seen = local_server
    response = urllib_transport("GET", f"{base}/content", {"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, None)
    assert (response.status, response.headers["Location"], response.body) == (303, f"{base}/file", {"url": f"{base}/file"})
    assert [request["path"] for request in seen] == ["/content"]  # the signed header never reaches the Location


def test_urllib_download_streams_the_body_with_no_header_of_ours(local_server) -> None:
    base, seen = local_server
    destination = io.BytesIO()
    assert urllib_download(f"{base}/file", destination).status == 200
    assert destination.getvalue() == b'{"custom_id": "a"}\n{"custom_id": "b"}\n'
    assert "authorization" not in seen[0]
