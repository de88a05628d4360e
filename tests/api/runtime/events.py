"""What the API tests send and read, without importing a handler (the conftests set the Lambda's environment and import
them; tests/batch/test_end_to_end.py takes its environment from a synthesized template instead): API Gateway's REST
proxy events and responses, and batch input lines."""

from __future__ import annotations

import json
from typing import Any

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def rest_event(
    method: str,
    path: str,
    body: Any,
    *,
    resource: str,
    stage: str,
    caller: str,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as both APIs receive it (the batch tests' `batch_event` too)."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "pathParameters": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": "r-1",
            "identity": {"userArn": caller, "caller": caller, "sourceIp": "10.0.0.1"},
        },
    }


def answer(response: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """A proxy response's status, headers (lower-cased names, a multi-value header's first value) and JSON body."""
    body = json.loads(response["body"]) if response.get("body") else None
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), values[0])
    return response["statusCode"], headers, body


def chat_line(custom_id: str, content: str = "Say hi", url: str = CHAT, **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url,
            "body": {"messages": [{"role": "user", "content": content}], **body}}  # fmt: skip


def completions_line(custom_id: str, prompt: str = "Once upon a time", url: str = COMPLETIONS, **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": {"prompt": prompt, **body}}


def jsonl(lines: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
