"""POST /files and GET /files/{file_id}/content: a file record and a presigned PUT signed with its length; the content
by a presigned GET; another caller's file does not exist; bad input is a 400 naming the field, with nothing written."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.api.runtime.batch.conftest import MAX_FILE_BYTES, OTHER_CALLER, batch_event, call, keys, read_json, upload

REQUEST = {"purpose": "batch", "filename": "prompts.jsonl", "bytes": 1234}


def test_post_files_answers_the_file_and_a_presigned_put(batch_aws) -> None:
    status, _, body = call(batch_event("POST", "/files", REQUEST))
    assert status == 200
    file_id = body["id"]
    assert re.fullmatch(r"file-[0-9a-f]{32}", file_id)
    assert {k: body[k] for k in ("object", "bytes", "filename", "purpose")} == {
        "object": "file", "bytes": 1234, "filename": "prompts.jsonl", "purpose": "batch"
    }  # fmt: skip
    upload = body["upload"]
    assert (upload["method"], upload["headers"]) == ("PUT", {"Content-Length": "1234", "Content-Type": "application/jsonl"})
    assert upload["expires_at"] == body["created_at"] + 3600
    url = urlparse(upload["url"])
    assert url.path == f"/files/{file_id}"
    query = parse_qs(url.query)
    # SigV4 query signing over the length and type: S3 refuses a PUT of another size.
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == ["3600"]


def test_post_files_writes_the_record_with_its_caller_and_no_content(batch_aws) -> None:
    _, _, body = call(batch_event("POST", "/files", REQUEST))
    record = read_json(batch_aws["s3"], f"files/{body['id']}.json")
    assert record == {**{k: v for k, v in body.items() if k != "upload"}, "caller": "arn:aws:iam::123456789012:role/app"}
    assert keys(batch_aws["s3"]) == [f"files/{body['id']}.json"]


def test_an_assumed_roles_sessions_are_one_caller(batch_aws) -> None:
    session = "arn:aws:sts::123456789012:assumed-role/app/session-1"
    _, _, body = call(batch_event("POST", "/files", REQUEST, caller=session))
    assert read_json(batch_aws["s3"], f"files/{body['id']}.json")["caller"] == "arn:aws:sts::123456789012:assumed-role/app"


BAD_FILES = {
    "no purpose": ({"filename": "a", "bytes": 1}, "purpose: is required"),
    "another purpose": ({**REQUEST, "purpose": "fine-tune"}, 'purpose: must be batch (got "fine-tune")'),
    "no filename": ({"purpose": "batch", "bytes": 1}, "filename: is required"),
    "an empty filename": ({**REQUEST, "filename": ""}, 'filename: must be a string of 1–255 characters (got "")'),
    "a long filename": ({**REQUEST, "filename": "x" * 256}, f'filename: must be a string of 1–255 characters (got "{"x" * 76}...)'),
    "a filename that is no string": ({**REQUEST, "filename": 5}, "filename: must be a string of 1–255 characters (got 5)"),
    "no bytes": ({"purpose": "batch", "filename": "a"}, "bytes: is required"),
    "zero bytes": ({**REQUEST, "bytes": 0}, f"bytes: must be an integer from 1 to {MAX_FILE_BYTES} (got 0)"),
    "too many bytes": ({**REQUEST, "bytes": MAX_FILE_BYTES + 1},
                       f"bytes: must be an integer from 1 to {MAX_FILE_BYTES} (got {MAX_FILE_BYTES + 1})"),
    "bytes as text": ({**REQUEST, "bytes": "12"}, f'bytes: must be an integer from 1 to {MAX_FILE_BYTES} (got "12")'),
    "bytes as a boolean": ({**REQUEST, "bytes": True}, f"bytes: must be an integer from 1 to {MAX_FILE_BYTES} (got true)"),
    "an unknown field": ({**REQUEST, "expires_after": 1}, 'expires_after: must be one of bytes, filename, purpose (got "expires_after")'),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_request_is_a_400_naming_the_field_and_writes_nothing(batch_aws, case: str) -> None:
    request, message = BAD_FILES[case]
    status, _, body = call(batch_event("POST", "/files", request))
    assert (status, body) == (400, {"error": {"code": "InvalidParameter", "message": message}})
    assert keys(batch_aws["s3"]) == []


@pytest.mark.parametrize(("raw", "message"), [("{", "body: must be a JSON object (Expecting property name"),
                                              ("[1]", "body: must be a JSON object (got list)")])  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_a_400(batch_aws, raw: str, message: str) -> None:
    status, _, body = call(batch_event("POST", "/files", raw))
    assert (status, body["error"]["code"]) == (400, "MalformedJson")
    assert body["error"]["message"].startswith(message)


def _content(file_id: str, caller: str = "arn:aws:iam::123456789012:role/app") -> tuple[int, dict[str, str], Any]:
    return call(batch_event("GET", f"/files/{file_id}/content", caller=caller))


def test_the_content_is_a_303_to_a_presigned_get(batch_aws) -> None:
    file_id = upload(batch_aws["s3"], b'{"x": 1}\n')
    status, headers, body = _content(file_id)
    assert status == 303
    assert headers["location"] == body["url"]
    url = urlparse(body["url"])
    assert url.path == f"/files/{file_id}"
    assert parse_qs(url.query)["X-Amz-Expires"] == ["3600"]


def test_another_callers_file_does_not_exist(batch_aws) -> None:
    file_id = upload(batch_aws["s3"], b'{"x": 1}\n')
    status, _, body = _content(file_id, caller=OTHER_CALLER)
    assert (status, body) == (404, {"error": {"code": "NotFound", "message": f"no file {file_id!r}"}})


@pytest.mark.parametrize("file_id", ["file-" + "0" * 32, "file-XYZ", "..%2Fbatches"])
def test_an_unknown_or_malformed_file_id_is_a_404(batch_aws, file_id: str) -> None:
    status, _, body = _content(file_id)
    assert (status, body["error"]["code"]) == (404, "NotFound")


def test_a_file_without_its_content_yet_is_a_409(batch_aws) -> None:
    _, _, created = call(batch_event("POST", "/files", REQUEST))
    status, _, body = _content(created["id"])
    assert (status, body["error"]["code"]) == (409, "FileNotUploaded")
    assert body["error"]["message"] == f"file_id: {created['id']} has no content yet; upload it with the URL POST /files answered"
