"""The manifest: what a staged revision holds, written after every object is uploaded and checked.

    {"format": 1, "model_id": "owner/name", "revision": "<40-hex sha>",
     "files": [{"path": "config.json", "size": 654, "sha256": "<hex>", "blob_id": "<git sha1>"},
               {"path": "model.safetensors", "size": 6291456, "sha256": "<hex>", "lfs_sha256": "<hex>"}],
     "total_bytes": 6292110, "staged_at": "2026-05-01T12:00:00Z"}

Each file carries the sha256 of its content (also the S3 object's `sha256` metadata, so an object can be checked
with a HEAD) and the Hub's identity of it: `lfs_sha256` for LFS files (equal to sha256), `blob_id` for regular
git files. Its presence means the revision is complete: readers trust nothing under a prefix without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from llm_async.model.staged import MANIFEST_FORMAT
from llm_async_tools.weights.integrity import HubFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


class ManifestError(ValueError):
    """A manifest this tool cannot read: its message says which field, what it must be and what it is."""


class UnknownFormat(ManifestError):
    """A manifest of another `format`: another version of this command wrote it, and knows what it means."""


# A staged file is the Hub's file (path, size, its identity) with the sha256 of its content: one definition of the
# Hub's side. The manifest records blob_id for regular git files only, so here it may be None for an LFS file.
@dataclass(frozen=True, kw_only=True)
class StagedFile(HubFile):
    blob_id: str | None = None  # type: ignore[assignment]
    sha256: str

    def to_json(self) -> dict[str, Any]:
        identity = {"lfs_sha256": self.lfs_sha256} if self.lfs_sha256 is not None else {"blob_id": self.blob_id}
        return {"path": self.path, "size": self.size, "sha256": self.sha256, **identity}


@dataclass(frozen=True)
class Manifest:
    model_id: str
    revision: str
    files: tuple[StagedFile, ...]
    staged_at: str

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)

    def to_json(self) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "model_id": self.model_id,
            "revision": self.revision,
            "files": [file.to_json() for file in self.files],
            "total_bytes": self.total_bytes,
            "staged_at": self.staged_at,
        }
        return (json.dumps(body, indent=1) + "\n").encode()


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _field(data: dict[str, Any], name: str, kind: type, where: str = "manifest") -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ManifestError(f"{where}.{name}: must be a {kind.__name__} (got {value!r})")
    return value


def _staged_file(entry: Any, index: int) -> StagedFile:
    where = f"manifest.files[{index}]"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: must be an object (got {entry!r})")
    path, size, sha256 = _field(entry, "path", str, where), _field(entry, "size", int, where), _field(entry, "sha256", str, where)
    if not _SHA256.match(sha256):
        raise ManifestError(f"{where}.sha256: must be 64 lowercase hex digits (got {sha256!r})")
    lfs_sha256, blob_id = entry.get("lfs_sha256"), entry.get("blob_id")
    if lfs_sha256 is not None and lfs_sha256 != sha256:
        raise ManifestError(f"{where}.lfs_sha256: must equal its sha256 (got {lfs_sha256!r})")
    if lfs_sha256 is None and not (isinstance(blob_id, str) and _SHA1.match(blob_id)):
        raise ManifestError(f"{where}: must have lfs_sha256 or a 40-hex blob_id (got {blob_id!r})")
    return StagedFile(path=path, size=size, sha256=sha256, lfs_sha256=lfs_sha256, blob_id=None if lfs_sha256 else blob_id)


def parse(body: bytes, model_id: str, revision: str) -> Manifest:
    """The manifest of `model_id` at `revision`, or ManifestError if it is not one this tool wrote for them."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ManifestError(f"manifest: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ManifestError("manifest: must be a JSON object")
    if data.get("format") != MANIFEST_FORMAT:
        raise UnknownFormat(f"manifest.format: must be {MANIFEST_FORMAT} (got {data.get('format')!r})")
    for name, expected in (("model_id", model_id), ("revision", revision)):
        if data.get(name) != expected:
            raise ManifestError(f"manifest.{name}: must be {expected!r} (got {data.get(name)!r})")
    entries = _field(data, "files", list)
    manifest = Manifest(
        model_id=model_id,
        revision=revision,
        files=tuple(_staged_file(entry, index) for index, entry in enumerate(entries)),
        staged_at=_field(data, "staged_at", str),
    )
    if _field(data, "total_bytes", int) != manifest.total_bytes:
        raise ManifestError(f"manifest.total_bytes: must be the sum of the files' sizes, {manifest.total_bytes} (got {data['total_bytes']!r})")
    return manifest
