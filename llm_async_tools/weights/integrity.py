"""A downloaded file checked against what the Hub's listing says it is, before a byte of it reaches S3.

The Hub identifies each file of a commit in two ways (hf_api.py in huggingface_hub 2.4.0, `RepoSibling`):
- an LFS file by the sha256 of its content (`lfs.sha256`), with its size (`lfs.size`);
- a regular git file by its git blob id (`blobId`): sha1 of b"blob <size>\\0" + content, as `git hash-object`
  computes it (huggingface_hub utils/sha.py, `git_hash`).
huggingface_hub checks only the size of what it downloads (file_download.py, `http_get`'s "Consistency check"),
and against the size the download's own response announced: a mirror or CDN that serves other bytes, or fewer
with a matching length, passes it. Hence this check, against the listing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from llm_async_tools.weights.errors import StagingFailed

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class HubFile:
    """One file of the repository at the pinned commit, as the Hub's listing describes it."""

    path: str
    size: int
    blob_id: str
    lfs_sha256: str | None = None

    @property
    def is_lfs(self) -> bool:
        return self.lfs_sha256 is not None


def file_digests(local: Path) -> tuple[int, str, str]:
    """(size, sha256, git blob sha1) of a local file, in one read."""
    size = local.stat().st_size
    sha256 = hashlib.sha256()
    git_blob = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with local.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha256.update(chunk)
            git_blob.update(chunk)
    return size, sha256.hexdigest(), git_blob.hexdigest()


def verified_sha256(file: HubFile, local: Path) -> str:
    """The file's sha256 once its size and Hub identity match; otherwise StagingFailed naming the file."""
    size, sha256, git_blob = file_digests(local)
    if size != file.size:
        raise StagingFailed(f"{file.path}: size expected {file.size} bytes (the Hub's listing), got {size}")
    if file.lfs_sha256 is not None and sha256 != file.lfs_sha256:
        raise StagingFailed(f"{file.path}: sha256 expected {file.lfs_sha256} (the Hub's LFS oid), got {sha256}")
    if file.lfs_sha256 is None and git_blob != file.blob_id:
        raise StagingFailed(f"{file.path}: git blob id expected {file.blob_id} (the Hub's listing), got {git_blob}")
    return sha256
