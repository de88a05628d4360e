"""Gated and private repositories, the token from Secrets Manager or HF_TOKEN, and where the token never goes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.tools.weights.conftest import GATED_ID, PRIVATE_ID, REGION, TOKEN, UNGRANTED_TOKEN, manifest_at, objects

PROG = "python -m llm_async_tools.weights stage"


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (GATED_ID, f"{PROG}: error: --model-id: {GATED_ID} on {{endpoint}} is a gated repository and no token was given: "
                   "pass --token-secret-id (or set HF_TOKEN) with the token of an account granted access"),
        (PRIVATE_ID, f"{PROG}: error: --model-id: {PRIVATE_ID} on {{endpoint}} does not exist, or is private and no token "
                     "was given (the Hub answered 401: Repository not found)"),
    ],
)
def test_a_gated_or_private_repository_without_a_token_is_one_line_and_writes_nothing(run, hub, aws_session, model_id, expected) -> None:
    result = run(model_id=model_id)

    assert result.code == 2
    assert result.err.splitlines() == [expected.format(endpoint=hub.endpoint)]
    assert result.out == ""
    assert objects(aws_session) == {}
    assert hub.downloads() == []


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (UNGRANTED_TOKEN, "is gated and the token's account has no access yet (the Hub answered 403: Access to model "
                          f"{GATED_ID} is restricted and you are not in the authorized list."),
        ("hf_NotAToken", "the Hub refused the token for stand-in/tiny-llm-gated on {endpoint} (the Hub answered 401: "
                         "Invalid credentials in Authorization header)"),
    ],
)
def test_a_token_without_access_is_one_line_exit_2(run, hub, aws_session, token, expected) -> None:
    result = run(model_id=GATED_ID, environ={"HF_TOKEN": token})

    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert expected.format(endpoint=hub.endpoint) in result.err
    assert token not in result.err
    assert objects(aws_session) == {}


@pytest.mark.parametrize(
    ("secret", "by_arn"),
    [(TOKEN, False), (json.dumps({"token": TOKEN}), True), (f"{TOKEN}\n", False)],
    ids=["the token itself", "a JSON object's token, by ARN", "with a trailing newline"],
)
def test_a_token_from_secrets_manager_stages_a_gated_repository(run, hub, aws_session, secret, by_arn) -> None:
    created = aws_session.client("secretsmanager").create_secret(Name="hub-token", SecretString=secret)

    result = run("--token-secret-id", created["ARN"] if by_arn else "hub-token", model_id=GATED_ID)

    assert result.code == 0, result.err
    assert manifest_at(GATED_ID) in objects(aws_session)
    resolves = [seen for seen in hub.requests if seen.server == "hub" and "/resolve/" in seen.path]
    assert resolves and {seen.authorization for seen in resolves} == {f"Bearer {TOKEN}"}


def test_hf_token_from_the_environment_stages_a_gated_repository(run, aws_session) -> None:
    result = run(model_id=GATED_ID, environ={"HF_TOKEN": TOKEN})

    assert result.code == 0, result.err
    assert manifest_at(GATED_ID) in objects(aws_session)


def test_the_token_is_in_no_output_log_record_object_metadata_or_cached_file(run, hub, aws_session, cache_dir: Path, caplog) -> None:
    aws_session.client("secretsmanager").create_secret(Name="hub-token", SecretString=json.dumps({"token": TOKEN}))
    # Then every logger at DEBUG, botocore's included (it logs response bodies there, GetSecretValue's among them).
    caplog.set_level(logging.DEBUG)

    result = run("--token-secret-id", "hub-token", model_id=GATED_ID)

    assert result.code == 0, result.err
    assert caplog.records, "DEBUG logging captured nothing: the check below would prove nothing"
    assert TOKEN not in result.out + result.err
    assert TOKEN not in caplog.text
    for key, (content, metadata) in objects(aws_session).items():
        assert TOKEN.encode() not in content, key
        assert TOKEN not in json.dumps(metadata), key
    for path in cache_dir.rglob("*"):
        assert path.is_dir() or TOKEN.encode() not in path.read_bytes(), path
    # The signed CDN URL needs no token, and huggingface_hub sends none off the Hub.
    assert {seen.authorization for seen in hub.requests if seen.server == "cdn"} == {None}


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (json.dumps({"value": TOKEN}), "--token-secret-id: 'hub-token' is a JSON object without a \"token\" string"),
        ("{" + TOKEN, "--token-secret-id: 'hub-token' starts with '{' but is not JSON: store the token alone or "
                      '{"token": "hf_..."}'),
        (f"{TOKEN} {TOKEN}", "--token-secret-id: the token in 'hub-token' is empty or holds whitespace"),
    ],
)
def test_a_secret_that_holds_no_usable_token_is_one_line_without_its_value(run, aws_session, secret, expected) -> None:
    aws_session.client("secretsmanager").create_secret(Name="hub-token", SecretString=secret)

    result = run("--token-secret-id", "hub-token", model_id=GATED_ID)

    assert result.code == 2
    assert result.err.splitlines() == [f"{PROG}: error: {expected}"]
    assert TOKEN not in result.err


def test_a_missing_secret_is_one_line_exit_2(run, aws_session) -> None:
    result = run("--token-secret-id", "no-such-secret", model_id=GATED_ID)

    assert result.code == 2
    assert result.err.splitlines() == [f"{PROG}: error: --token-secret-id: no secret 'no-such-secret' in {REGION}"]
    assert objects(aws_session) == {}


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--model-id", "not-an-id", "--model-id: must be a Hub id 'owner/name' (got 'not-an-id')"),
        ("--revision", "main", "--revision: must be a 40-character lowercase commit sha (got 'main')"),
        ("--bucket", "no-such-bucket", "--bucket: no bucket 'no-such-bucket' in this account"),
        ("--hub-endpoint", "huggingface.co", "--hub-endpoint: must be an http(s):// URL (got 'huggingface.co')"),
        ("--include", "*.gguf", "--include/--exclude: no file of stand-in/tiny-llm is selected (it has .gitattributes, "),
    ],
)
def test_a_usage_error_is_one_line_exit_2_before_anything_is_written(run, hub, aws_session, flag, value, expected) -> None:
    result = run(flags={flag: value})

    assert result.code == 2
    [line] = result.err.splitlines()
    assert line.startswith(f"{PROG}: error: {expected}")
    assert objects(aws_session) == {}
    assert hub.downloads() == []
