"""What the tests of both engine stand-ins (test_engine_stand_in.py, test_engine_stand_in_vllm.py) share: request
bodies, server-sent events, and SageMaker's side, the S3 locations of one async inference."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

BUCKET = "payloads"
LOCATIONS = {
    "input_location": f"s3://{BUCKET}/input/a.json",
    "output_location": f"s3://{BUCKET}/output/a.out",
    "failure_location": f"s3://{BUCKET}/failure/a-error.out",
}


def request_body(request: Any) -> bytes:
    return request if isinstance(request, bytes) else json.dumps(request).encode()


def words(count: int) -> str:
    return " ".join(["word"] * count)


def sse_events(body: bytes) -> list[Any]:
    """The data of each server-sent event ("data: ...\\n\\n")."""
    events = []
    for block in body.decode().split("\n\n"):
        if block:
            assert block.startswith("data: "), block
            data = block[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def payloads_bucket() -> Any:
    """An S3 client with the (mocked) bucket of LOCATIONS."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def complete_through_s3(s3: Any, complete_from_s3: Callable[..., Any], stand_in: Any, request: Any) -> None:
    """SageMaker's side of one async inference: the request written to the input location, any earlier output removed,
    then `complete_from_s3` (the stand-in's module's) has the stand-in answer it into the output or failure location."""
    s3.put_object(Bucket=BUCKET, Key="input/a.json", Body=request_body(request))
    s3.delete_object(Bucket=BUCKET, Key="output/a.out")
    complete_from_s3(s3, stand_in=stand_in, **LOCATIONS)


def written_output(s3: Any) -> Any:
    return s3.get_object(Bucket=BUCKET, Key="output/a.out")


def written_failure(s3: Any) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key="failure/a-error.out")["Body"].read())
