"""The staging command against the Hub stand-in (tests/tools/hub_stand_in.py) and moto's S3 and Secrets Manager.

One generated repository, served three times: public, gated and private. Its files are what a Llama-style
repository holds: configuration and tokenizer files in git, a 6 MiB model.safetensors in LFS (over one 5 MiB part,
so it is uploaded in two), and duplicates an engine does not read (pytorch_model.bin, Meta's original/ folder).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from moto import mock_aws

from llm_async.model.staged import manifest_key, model_prefix
from llm_async_tools.weights.cli import main
from tests.tools.hub_stand_in import HubStandIn, Repo, RepoFile

MODEL_ID = "stand-in/tiny-llm"
GATED_ID = "stand-in/tiny-llm-gated"
PRIVATE_ID = "stand-in/tiny-llm-private"
REVISION = hashlib.sha1(b"the stand-in's commit").hexdigest()
BUCKET = "llm-async-weights"
REGION = "us-east-1"
TOKEN = "hf_StandInTokenOfAnAccountGrantedAccess"
UNGRANTED_TOKEN = "hf_StandInTokenOfAnotherAccount"
MIB = 1024 * 1024
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
"""S3 (and moto) refuse parts under 5 MiB but the last; 5 MiB parts make model.safetensors a two-part upload."""
SELECTED = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


@functools.cache
def repository() -> tuple[RepoFile, ...]:
    generate = random.Random(14)
    vocabulary = {f"tok{index}": index for index in range(4000)}
    return (
        RepoFile(".gitattributes", b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
        RepoFile("README.md", b"# tiny-llm\n"),
        RepoFile("config.json", json.dumps({"model_type": "llama", "hidden_size": 64}).encode()),
        RepoFile("generation_config.json", json.dumps({"temperature": 0.6}).encode()),
        RepoFile("tokenizer.json", json.dumps({"model": {"vocab": vocabulary}}).encode()),
        RepoFile("tokenizer_config.json", json.dumps({"model_max_length": 2048}).encode()),
        RepoFile("model.safetensors", generate.randbytes(6 * MIB), lfs=True),
        RepoFile("pytorch_model.bin", generate.randbytes(256 * 1024), lfs=True),
        RepoFile("original/consolidated.00.pth", generate.randbytes(256 * 1024), lfs=True),
        RepoFile("original/params.json", b'{"dim": 64}'),
    )


FILES = {file.path: file for file in repository()}


def prefix(model_id: str = MODEL_ID) -> str:
    return model_prefix(model_id, REVISION)


def manifest_at(model_id: str = MODEL_ID) -> str:
    return manifest_key(model_id, REVISION)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail a test whose command looked up any host but the stand-in's (moto answers AWS inside botocore): the
    command must send every Hub request to --hub-endpoint, and nothing to huggingface.co."""
    looked_up: list[str] = []
    resolve = socket.getaddrinfo

    def loopback(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1"):
            looked_up.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: the tests reach the stand-in only")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    yield looked_up
    assert looked_up == [], f"the command looked up {looked_up}"


@pytest.fixture
def hub() -> Iterator[HubStandIn]:
    files = list(repository())
    repos = [
        Repo(MODEL_ID, REVISION, files),
        Repo(GATED_ID, REVISION, files, gated=True, granted=frozenset({TOKEN})),
        Repo(PRIVATE_ID, REVISION, files, private=True, granted=frozenset({TOKEN})),
    ]
    with HubStandIn(repos, tokens=frozenset({TOKEN, UNGRANTED_TOKEN})) as stand_in:
        yield stand_in


@pytest.fixture
def aws_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session


@pytest.fixture
def s3_calls(aws_session: boto3.session.Session) -> list[tuple[str, str | None]]:
    """(operation, key) of every S3 call the command makes, in order (botocore's parameter-build event)."""
    calls: list[tuple[str, str | None]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("Key")))

    aws_session.events.register("before-parameter-build.s3", record)
    return calls


WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject")


def writes(calls: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [call for call in calls if call[0] in WRITES]


def objects(session: boto3.session.Session) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every object in the bucket: its content and its user metadata."""
    s3 = session.client("s3")
    found = {}
    for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        answer = s3.get_object(Bucket=BUCKET, Key=entry["Key"])
        found[entry["Key"]] = (answer["Body"].read(), answer["Metadata"])
    return found


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def run(hub: HubStandIn, aws_session: boto3.session.Session, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """The command in this process: `stage` by default, against the stand-in, with an empty environment
    (no HF_TOKEN) unless `environ` is given; `flags` replace the default --model-id, --revision, --bucket...
    (None leaves the flag out)."""

    def run_command(
        *extra: str,
        command: str = "stage",
        model_id: str = MODEL_ID,
        environ: dict[str, str] | None = None,
        flags: dict[str, str | None] | None = None,
    ) -> Run:
        options = {"--model-id": model_id, "--revision": REVISION, "--bucket": BUCKET}
        if command == "stage":
            options |= {"--hub-endpoint": hub.endpoint, "--cache-dir": str(cache_dir)}
        options |= flags or {}
        argv = [command, *[part for option in options.items() if option[1] is not None for part in option], *extra]
        capsys.readouterr()
        code = main(argv, session=aws_session, environ=environ or {}, transfer=SMALL_PARTS)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run_command
