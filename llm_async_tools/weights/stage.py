"""The order of the work, which is what makes a staged revision trustworthy:

1. the bucket exists (exit 2 otherwise), and a manifest whose objects all match means "already staged": exit 0
   without a request to the Hub;
2. the token, the listing with file metadata, the selection (selection.py);
3. each selected file whose object already matches the Hub's identity is kept (an interrupted run's work);
4. one HEAD proves the token can download, before anything is written (a gated repository: exit 2);
5. each remaining file: download, verify against the listing (exit 1, nothing uploaded, if it differs), upload,
   delete the local copy (disk use stays one file, whatever the model's size);
6. the prefix holds exactly the selected files at their sizes; then, last, the manifest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from llm_async.model.staged import manifest_key, model_prefix, revision_prefix
from llm_async_tools.weights import manifest as manifests
from llm_async_tools.weights.bucket import BLOB_ID_KEY, SHA256_KEY, ObjectState, StagingBucket
from llm_async_tools.weights.errors import StagingFailed, UsageError
from llm_async_tools.weights.hub import Hub
from llm_async_tools.weights.integrity import HubFile, verified_sha256
from llm_async_tools.weights.manifest import Manifest, ManifestError, StagedFile, UnknownFormat
from llm_async_tools.weights.selection import select
from llm_async_tools.weights.token import resolve_token


@dataclass(frozen=True)
class Target:
    """Where one revision of one repository is staged."""

    bucket: StagingBucket
    model_id: str
    revision: str

    @property
    def prefix(self) -> str:
        return model_prefix(self.model_id, self.revision)

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.model_id, self.revision)

    def key(self, path: str) -> str:
        return f"{self.prefix}{path}"


def _size(count: int) -> str:
    """Bytes in binary units, as the progress bar shows them."""
    if count < 1024:
        return f"{count} B"
    exponent = min(int(math.log(count, 1024)), 4)
    return f"{count / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB', 'TiB')[exponent - 1]}"


def report(out: TextIO, verb: str, target: Target, manifest: Manifest) -> None:
    print(f"{verb} {manifest.model_id} at {manifest.revision}: {len(manifest.files)} files, "
          f"{manifest.total_bytes:,} bytes ({_size(manifest.total_bytes)})", file=out)
    print(f"model prefix: {target.bucket.uri(target.prefix)}", file=out)
    print(f"manifest:     {target.bucket.uri(target.manifest_key)}", file=out)


def object_problems(target: Target, manifest: Manifest) -> list[str]:
    """How the objects under the prefix differ from the manifest, one line each (none: they match)."""
    problems = []
    for file in manifest.files:
        state = target.bucket.state(target.key(file.path))
        if state is None:
            problems.append(f"{file.path}: missing (the manifest has {file.size} bytes)")
        elif state.size != file.size:
            problems.append(f"{file.path}: size expected {file.size} bytes (the manifest), got {state.size}")
        elif state.sha256 != file.sha256:
            problems.append(f"{file.path}: sha256 metadata expected {file.sha256} (the manifest), got {state.sha256}")
    listed = {target.key(file.path) for file in manifest.files}
    for key in sorted(set(target.bucket.sizes_under(target.prefix)) - listed):
        problems.append(f"{key[len(target.prefix):]}: not in the manifest, yet SageMaker would copy it into /opt/ml/model")
    return problems


def read_manifest(target: Target) -> Manifest | None:
    body = target.bucket.read(target.manifest_key)
    return None if body is None else manifests.parse(body, target.model_id, target.revision)


def verify(target: Target, out: TextIO, err: TextIO) -> None:
    target.bucket.require_access(revision_prefix(target.model_id, target.revision))
    uri = target.bucket.uri(target.manifest_key)
    try:
        manifest = read_manifest(target)
    except ManifestError as error:
        raise StagingFailed(f"{uri}: {error}") from None
    if manifest is None:
        raise StagingFailed(f"no manifest at {uri}: the revision is not staged, or its staging did not finish")
    problems = object_problems(target, manifest)
    for problem in problems:
        print(problem, file=err)
    if problems:
        raise StagingFailed(f"{len(problems)} difference(s) between {uri} and the objects under {target.bucket.uri(target.prefix)}")
    report(out, "verified", target, manifest)


def _already_uploaded(file: HubFile, state: ObjectState | None) -> str | None:
    """The sha256 of an object that already holds this file (checked by its metadata), else None."""
    if state is None or state.size != file.size or not re.fullmatch(r"[0-9a-f]{64}", state.sha256 or ""):
        return None
    if file.is_lfs:
        return state.sha256 if state.sha256 == file.lfs_sha256 else None
    return state.sha256 if state.blob_id == file.blob_id else None


def _staged(file: HubFile, sha256: str) -> StagedFile:
    if file.is_lfs:
        return StagedFile(path=file.path, size=file.size, sha256=sha256, lfs_sha256=file.lfs_sha256)
    return StagedFile(path=file.path, size=file.size, sha256=sha256, blob_id=file.blob_id)


def _upload_bar(total: int, err: TextIO) -> tqdm:
    # A terminal redraws the bar in place; a build log (CodeBuild) gets a line every 30 s instead of a flood.
    interactive = getattr(err, "isatty", lambda: False)()
    return tqdm(total=total, desc="upload", unit="B", unit_scale=True, unit_divisor=1024, file=err,
                mininterval=0.5 if interactive else 30, disable=total == 0)


def _prefix_differences(target: Target, files: list[HubFile]) -> list[str]:
    """What under the prefix is not exactly the selected files at their sizes (S3's listing, after the uploads)."""
    expected = {target.key(file.path): file.size for file in files}
    found = target.bucket.sizes_under(target.prefix)
    differences = []
    for key in sorted(set(expected) | set(found)):
        path = key[len(target.prefix):]
        if key not in found:
            differences.append(f"{path} missing")
        elif key not in expected:
            differences.append(f"{path} not selected")
        elif found[key] != expected[key]:
            differences.append(f"{path} has {found[key]} bytes, expected {expected[key]}")
    return differences


@dataclass(frozen=True)
class StageRequest:
    target: Target
    endpoint: str
    cache_dir: Path
    include: list[str] | None = None
    exclude: list[str] | None = None
    token_secret_id: str | None = None


def _already_staged(request: StageRequest, out: TextIO, err: TextIO) -> bool:
    target = request.target
    try:
        manifest = read_manifest(target)
    except UnknownFormat as error:
        raise UsageError(f"{target.bucket.uri(target.manifest_key)}: {error}; written by another version "
                         "of this command, it is not overwritten") from None
    except ManifestError as error:
        print(f"the manifest is not usable ({error}): staging again", file=err)
        return False
    if manifest is None:
        return False
    problems = object_problems(target, manifest)
    if not problems:
        report(out, "already staged", target, manifest)
        if request.include or request.exclude:
            print("note: --include/--exclude apply only to a revision not yet staged; the manifest's files stand", file=err)
        return True
    print(f"the objects differ from the manifest ({len(problems)}): staging again", file=err)
    for problem in problems:
        print(f"  {problem}", file=err)
    return False


def stage(request: StageRequest, session: Any, environ: Mapping[str, str], out: TextIO, err: TextIO) -> None:
    target = request.target
    target.bucket.require_access(revision_prefix(target.model_id, target.revision))
    if _already_staged(request, out, err):
        return
    token = resolve_token(session, request.token_secret_id, environ)
    hub = Hub(request.endpoint, token, target.model_id, target.revision, request.cache_dir)
    listing = {file.path: file for file in hub.list_files()}
    files = [listing[path] for path in select(listing, request.include, request.exclude)]
    if not files:
        # One line even for a repository of thousands of files.
        names = sorted(listing)
        shown = ", ".join(names[:12]) + (f", … ({len(names)} files)" if len(names) > 12 else "")
        raise UsageError(f"--include/--exclude: no file of {target.model_id} is selected (it has {shown})")

    staged: dict[str, StagedFile] = {}
    todo: list[HubFile] = []
    for file in files:
        sha256 = _already_uploaded(file, target.bucket.state(target.key(file.path)))
        if sha256 is not None:
            staged[file.path] = _staged(file, sha256)
        else:
            todo.append(file)
    if todo:
        hub.require_access(max(todo, key=lambda file: file.size).path)
    print(f"{len(files)} files selected: {len(staged)} already uploaded, {len(todo)} to copy "
          f"({_size(sum(file.size for file in todo))})", file=err)

    with _upload_bar(sum(file.size for file in todo), err) as bar:
        for file in todo:
            local = hub.download(file)
            try:
                sha256 = verified_sha256(file, local)
            except StagingFailed:
                # huggingface_hub would hand these bytes back to the next run without a request: remove them.
                local.unlink(missing_ok=True)
                raise
            metadata = {SHA256_KEY: sha256} if file.is_lfs else {SHA256_KEY: sha256, BLOB_ID_KEY: file.blob_id}
            target.bucket.upload(local, target.key(file.path), metadata, bar.update)
            local.unlink()
            staged[file.path] = _staged(file, sha256)
            bar.write(f"{file.path}: {file.size:,} bytes verified and uploaded", file=err)

    differences = _prefix_differences(target, files)
    if differences:
        raise StagingFailed(f"{target.bucket.uri(target.prefix)} does not hold exactly the selected files: "
                            f"{'; '.join(differences)}. Delete what was not selected, then run again")
    manifest = Manifest(target.model_id, target.revision, tuple(staged[file.path] for file in files), manifests.now())
    target.bucket.put_json(target.manifest_key, manifest.to_json())
    report(out, "staged", target, manifest)
