"""`verify`: the staged objects against the manifest, with HEAD requests only."""

from __future__ import annotations

import hashlib

import pytest

from tests.tools.weights.conftest import BUCKET, FILES, MODEL_ID, REVISION, manifest_at, prefix

PROG = "python -m llm_async_tools.weights verify"
SAFETENSORS = FILES["model.safetensors"]


def test_a_staged_revision_verifies_reading_only_the_manifest(run, s3_calls) -> None:
    assert run().code == 0
    s3_calls.clear()

    result = run(command="verify")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"verified {MODEL_ID} at {REVISION}: 5 files, 6,357,346 bytes (6.1 MiB)"
    # No object is downloaded: the manifest is the one object read, the rest are HEAD requests and one listing.
    assert {operation for operation, _ in s3_calls} == {"GetObject", "HeadObject", "ListObjectsV2"}
    assert [key for operation, key in s3_calls if operation == "GetObject"] == [manifest_at()]


@pytest.mark.parametrize(
    ("body", "sha256", "expected"),
    [
        (SAFETENSORS.content[:-1], SAFETENSORS.sha256,
         f"model.safetensors: size expected {len(SAFETENSORS.content)} bytes (the manifest), got {len(SAFETENSORS.content) - 1}"),
        (SAFETENSORS.content, hashlib.sha256(b"other weights").hexdigest(),
         f"model.safetensors: sha256 metadata expected {SAFETENSORS.sha256} (the manifest), got {hashlib.sha256(b'other weights').hexdigest()}"),
        (SAFETENSORS.content, None, f"model.safetensors: sha256 metadata expected {SAFETENSORS.sha256} (the manifest), got None"),
    ],
    ids=["size", "sha256 metadata", "no sha256 metadata"],
)
def test_an_object_whose_size_or_sha256_differs_fails_verification_by_name(run, aws_session, body, sha256, expected) -> None:
    assert run().code == 0
    metadata = {"sha256": sha256} if sha256 else {}
    aws_session.client("s3").put_object(Bucket=BUCKET, Key=prefix() + "model.safetensors", Body=body, Metadata=metadata)

    result = run(command="verify")

    assert result.code == 1
    assert result.err.splitlines() == [
        expected,
        f"{PROG}: failed: 1 difference(s) between s3://{BUCKET}/{manifest_at()} and the objects under s3://{BUCKET}/{prefix()}",
    ]


def test_a_missing_object_and_an_unlisted_one_fail_verification(run, aws_session) -> None:
    assert run().code == 0
    s3 = aws_session.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=prefix() + "tokenizer.json")
    s3.put_object(Bucket=BUCKET, Key=prefix() + "extra.safetensors", Body=b"not staged")

    result = run(command="verify")

    assert result.code == 1
    assert result.err.splitlines()[:2] == [
        f"tokenizer.json: missing (the manifest has {len(FILES['tokenizer.json'].content)} bytes)",
        "extra.safetensors: not in the manifest, yet SageMaker would copy it into /opt/ml/model",
    ]


def test_a_revision_without_a_manifest_fails_verification(run) -> None:
    result = run(command="verify")

    assert result.code == 1
    assert result.err.splitlines() == [
        f"{PROG}: failed: no manifest at s3://{BUCKET}/{manifest_at()}: the revision is not staged, or its staging did not finish"
    ]


def test_a_manifest_of_another_format_fails_verification_and_is_not_overwritten_by_stage(run, aws_session) -> None:
    body = b'{"format": 2, "model_id": "%s", "revision": "%s"}' % (MODEL_ID.encode(), REVISION.encode())
    aws_session.client("s3").put_object(Bucket=BUCKET, Key=manifest_at(), Body=body)

    verified, staged = run(command="verify"), run()

    assert verified.code == 1 and "manifest.format: must be 1 (got 2)" in verified.err
    assert staged.code == 2 and "written by another version of this command, it is not overwritten" in staged.err
    assert aws_session.client("s3").get_object(Bucket=BUCKET, Key=manifest_at())["Body"].read() == body
