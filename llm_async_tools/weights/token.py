"""The Hub token: from a Secrets Manager secret, else the environment's HF_TOKEN, else none.

The secret's SecretString is either the token itself ("hf_...") or a JSON object with a "token" key
({"token": "hf_..."}, the form the console's key/value editor writes); surrounding whitespace is ignored.
The token lives only in memory and in the Authorization header huggingface_hub sends to the Hub: no message
here or in the callers quotes it, and huggingface_hub drops it when a download is redirected off the Hub
(utils/_http.py, `_httpx2_follow_hub_redirects_with_backoff`; file_download.py, `_get_metadata_or_catch_error`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_async_tools.weights.errors import UsageError

FLAG = "--token-secret-id"


@contextmanager
def _response_bodies_unlogged() -> Iterator[None]:
    # botocore logs every response body at DEBUG (botocore/parsers.py, ResponseParser.parse): with DEBUG logging
    # on, GetSecretValue's body, the token, would be a log record. Raise that one logger above DEBUG meanwhile.
    logger = logging.getLogger("botocore.parsers")
    previous = logger.level
    logger.setLevel(max(previous, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(previous)


def _secret_region(secret_id: str, default: str | None) -> str | None:
    # A secret's ARN names its region, and Secrets Manager answers only in that region.
    parts = secret_id.split(":")
    return parts[3] if secret_id.startswith("arn:") and len(parts) > 6 and parts[3] else default


def _secret_string(session: Any, secret_id: str) -> str:
    region = _secret_region(secret_id, session.region_name)
    try:
        with _response_bodies_unlogged():
            answer = session.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise UsageError(f"{FLAG}: no secret {secret_id!r} in {region}") from None
        if code == "AccessDeniedException":
            raise UsageError(f"{FLAG}: not allowed to read {secret_id!r} (needs secretsmanager:GetSecretValue, "
                             "and kms:Decrypt on a customer-managed key)") from None
        raise UsageError(f"{FLAG}: Secrets Manager answered {code} for {secret_id!r}") from None
    except BotoCoreError as error:
        raise UsageError(f"{FLAG}: could not reach Secrets Manager: {error}") from None
    value = answer.get("SecretString")
    if value is None:
        raise UsageError(f"{FLAG}: {secret_id!r} holds binary data: store the token as its SecretString")
    return value


def token_of(secret_string: str, secret_id: str) -> str:
    """The token in a secret's SecretString: the string itself, or a JSON object's "token"."""
    value = secret_string.strip()
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise UsageError(f"{FLAG}: {secret_id!r} starts with '{{' but is not JSON: store the token alone or "
                             '{"token": "hf_..."}') from None
        value = parsed.get("token") if isinstance(parsed, dict) else None
        if not isinstance(value, str):
            raise UsageError(f'{FLAG}: {secret_id!r} is a JSON object without a "token" string')
        value = value.strip()
    if not value or any(character.isspace() for character in value):
        # A header value cannot hold a line break; an empty token would silently mean "no token".
        raise UsageError(f"{FLAG}: the token in {secret_id!r} is empty or holds whitespace")
    return value


def resolve_token(session: Any, secret_id: str | None, environ: Mapping[str, str]) -> str | None:
    """The Hub token to send, or None to send none (never huggingface_hub's locally saved one: see hub.py)."""
    if secret_id:
        return token_of(_secret_string(session, secret_id), secret_id)
    return environ.get("HF_TOKEN", "").strip() or None
