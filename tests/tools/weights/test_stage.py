"""`stage`: a verified copy with the manifest last, refusals of bad downloads, skipping what is staged, resuming."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import huggingface_hub.constants
import pytest

from tests.tools.hub_stand_in import git_blob_id
from tests.tools.weights.conftest import BUCKET, FILES, MIB, MODEL_ID, REVISION, SELECTED, manifest_at, objects, prefix, writes


def test_a_repository_is_copied_with_each_files_digest_and_its_manifest(run, aws_session) -> None:
    result = run()

    assert result.code == 0, result.err
    stored = objects(aws_session)
    assert set(stored) == {prefix() + path for path in SELECTED} | {manifest_at()}
    for path in SELECTED:
        content, metadata = stored[prefix() + path]
        assert content == FILES[path].content
        assert metadata["sha256"] == hashlib.sha256(content).hexdigest()
        # The Hub's identity of a regular file, so a later run can recognise the object without downloading.
        assert metadata.get("git-blob-id") == (None if FILES[path].lfs else git_blob_id(content))
    manifest = json.loads(stored[manifest_at()][0])
    assert manifest["format"] == 1 and manifest["model_id"] == MODEL_ID and manifest["revision"] == REVISION
    assert manifest["files"][2] == {
        "path": "model.safetensors",
        "size": 6 * MIB,
        "sha256": hashlib.sha256(FILES["model.safetensors"].content).hexdigest(),
        "lfs_sha256": hashlib.sha256(FILES["model.safetensors"].content).hexdigest(),
    }
    assert manifest["files"][0] == {
        "path": "config.json",
        "size": len(FILES["config.json"].content),
        "sha256": hashlib.sha256(FILES["config.json"].content).hexdigest(),
        "blob_id": git_blob_id(FILES["config.json"].content),
    }
    assert [entry["path"] for entry in manifest["files"]] == SELECTED
    assert manifest["total_bytes"] == sum(len(FILES[path].content) for path in SELECTED)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["staged_at"])


def test_the_manifest_is_the_last_object_written(run, s3_calls) -> None:
    assert run().code == 0

    written = writes(s3_calls)
    assert written[-1] == ("PutObject", manifest_at())
    assert [call for call in written if call[1] == manifest_at()] == [("PutObject", manifest_at())]
    # model.safetensors went up in parts; its object exists only once CompleteMultipartUpload is done.
    completed = written.index(("CompleteMultipartUpload", prefix() + "model.safetensors"))
    assert completed < len(written) - 1
    assert {key for _, key in written[:-1]} == {prefix() + path for path in SELECTED}


def test_success_prints_the_manifest_and_model_prefix_uris_with_the_totals(run) -> None:
    result = run()

    total = sum(len(FILES[path].content) for path in SELECTED)
    assert result.out.splitlines() == [
        f"staged {MODEL_ID} at {REVISION}: 5 files, {total:,} bytes (6.1 MiB)",
        f"model prefix: s3://{BUCKET}/{prefix()}",
        f"manifest:     s3://{BUCKET}/{manifest_at()}",
    ]
    assert "upload: 100%" in result.err  # the progress bar's last state, in bytes with a rate
    assert re.search(r"6\.\d+M/6\.\d+M \[[^\]]*B/s\]", result.err)


def test_the_default_selection_leaves_out_original_and_the_duplicate_bin(run, aws_session, hub) -> None:
    assert run().code == 0

    staged = {key.removeprefix(prefix()) for key in objects(aws_session) if key.startswith(prefix())}
    assert staged == set(SELECTED)
    asked = {seen.file for seen in hub.requests if seen.file}
    assert asked == set(SELECTED)  # not even a HEAD for original/, pytorch_model.bin, README.md, .gitattributes


@pytest.mark.parametrize(
    ("path", "fault", "expected"),
    [
        ("model.safetensors", "corrupt", "model.safetensors: sha256 expected {sha256} (the Hub's LFS oid), got "),
        ("model.safetensors", "truncate", "model.safetensors: size expected {size} bytes (the Hub's listing), got 4194304"),
        ("tokenizer.json", "corrupt", "tokenizer.json: git blob id expected {blob_id} (the Hub's listing), got "),
    ],
)
def test_a_corrupt_or_truncated_download_is_refused_and_no_manifest_written(run, hub, aws_session, cache_dir, path, fault, expected) -> None:
    file = FILES[path]
    if fault == "corrupt":
        hub.corrupt.add(path)
    else:
        hub.truncate[path] = 4 * MIB

    result = run()

    assert result.code == 1
    message = expected.format(sha256=file.sha256, size=len(file.content), blob_id=file.blob_id)
    assert result.err.splitlines()[-1].startswith(f"python -m llm_async_tools.weights stage: failed: {message}")
    stored = objects(aws_session)
    assert manifest_at() not in stored and prefix() + path not in stored
    # The refused bytes are gone from the cache: a new run downloads the file afresh instead of reusing them.
    assert not (cache_dir / MODEL_ID / REVISION / path).exists()


def test_a_run_after_a_refused_download_fetches_the_file_again_and_stages(run, hub, aws_session) -> None:
    hub.corrupt.add("model.safetensors")
    assert run().code == 1
    hub.corrupt.clear()

    result = run()

    assert result.code == 0, result.err
    assert objects(aws_session)[prefix() + "model.safetensors"][0] == FILES["model.safetensors"].content


def test_a_second_run_of_a_staged_revision_asks_the_hub_nothing_and_writes_nothing(run, hub, s3_calls) -> None:
    assert run().code == 0
    hub.requests.clear()
    s3_calls.clear()

    result = run()

    assert result.code == 0
    assert result.out.startswith(f"already staged {MODEL_ID} at {REVISION}: 5 files")
    assert hub.requests == []
    assert writes(s3_calls) == []


def test_a_dropped_connection_resumes_with_a_range_request(run, hub, aws_session, monkeypatch) -> None:
    # huggingface_hub writes a download in DOWNLOAD_CHUNK_SIZE pieces (10 MiB; file_download.py, http_get, reads the
    # constant at each call): smaller pieces leave bytes on disk to resume from when the 6 MiB file is cut at 3 MiB.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 256 * 1024)
    hub.drop_after["model.safetensors"] = 3 * MIB + 1000

    result = run()

    assert result.code == 0, result.err
    gets = [seen for seen in hub.requests if seen.file == "model.safetensors" and seen.method == "GET"]
    assert [(seen.range, seen.status) for seen in gets] == [(None, 200), (f"bytes={3 * MIB}-", 206)]
    assert objects(aws_session)[prefix() + "model.safetensors"][0] == FILES["model.safetensors"].content


def test_an_interrupted_run_resumes_without_downloading_or_uploading_what_it_finished(run, hub, aws_session, s3_calls) -> None:
    hub.fail["tokenizer.json"] = 503
    first = run()
    assert first.code == 1
    assert "tokenizer.json: the Hub answered 503" in first.err.splitlines()[-1]
    assert manifest_at() not in objects(aws_session)
    del hub.fail["tokenizer.json"]
    hub.requests.clear()
    s3_calls.clear()

    result = run()

    assert result.code == 0, result.err
    assert hub.downloads() == ["tokenizer.json", "tokenizer_config.json"]
    assert {key for _, key in writes(s3_calls)} == {prefix() + "tokenizer.json", prefix() + "tokenizer_config.json", manifest_at()}
    assert "5 files selected: 3 already uploaded, 2 to copy" in result.err
    # The manifest of the resumed run is the same as an uninterrupted run's, sha256 of skipped files included.
    manifest = json.loads(objects(aws_session)[manifest_at()][0])
    assert [entry["sha256"] for entry in manifest["files"]] == [FILES[path].sha256 for path in SELECTED]


def test_a_staged_revision_whose_object_was_removed_is_restaged(run, hub, aws_session) -> None:
    assert run().code == 0
    aws_session.client("s3").delete_object(Bucket=BUCKET, Key=prefix() + "config.json")
    hub.requests.clear()

    result = run()

    assert result.code == 0, result.err
    assert "config.json: missing (the manifest has" in result.err
    assert hub.downloads() == ["config.json"]
    assert prefix() + "config.json" in objects(aws_session)


def test_an_object_under_the_prefix_that_was_not_selected_blocks_the_manifest(run, aws_session) -> None:
    # SageMaker copies every object under the prefix into /opt/ml/model: the manifest must describe all of them.
    aws_session.client("s3").put_object(Bucket=BUCKET, Key=prefix() + "stray.bin", Body=b"left over")

    result = run()

    assert result.code == 1
    assert "does not hold exactly the selected files: stray.bin not selected" in result.err
    assert manifest_at() not in objects(aws_session)


def test_the_local_copy_is_removed_once_uploaded(run, cache_dir: Path) -> None:
    # Disk use stays one file whatever the model's size (a build host's disk is smaller than large models).
    assert run().code == 0
    assert not [path for path in SELECTED if (cache_dir / MODEL_ID / REVISION / path).exists()]


def test_hf_endpoint_from_the_environment_is_the_default_hub(run, hub) -> None:
    result = run(flags={"--hub-endpoint": None}, environ={"HF_ENDPOINT": hub.endpoint})

    assert result.code == 0, result.err
    assert hub.downloads()
