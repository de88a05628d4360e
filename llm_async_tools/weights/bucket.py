"""The S3 side, through boto3: the bucket check, each object's state, uploads, the manifest.

Each uploaded object carries the sha256 of its content in its metadata (`x-amz-meta-sha256`), and a regular git
file also its git blob id (`x-amz-meta-git-blob-id`, the Hub's identity for it): a later run or `verify` checks an
object with one HEAD, without downloading it. S3's own checksum cannot serve: a multipart upload's ChecksumSHA256 is
a checksum of the parts' checksums, not the file's sha256. It is still requested (ChecksumAlgorithm=SHA256) so S3
refuses any part corrupted in transit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from llm_async_tools.weights.errors import StagingFailed, UsageError

SHA256_KEY = "sha256"
BLOB_ID_KEY = "git-blob-id"
DEFAULT_TRANSFER = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024)
"""64 MiB parts: a 10 GB shard is 160 parts (S3 allows 10,000); s3transfer enlarges parts past that limit itself."""


@dataclass(frozen=True)
class ObjectState:
    size: int
    sha256: str | None
    blob_id: str | None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class StagingBucket:
    def __init__(self, s3: Any, name: str, transfer: TransferConfig = DEFAULT_TRANSFER) -> None:
        self.s3, self.name, self.transfer = s3, name, transfer

    def uri(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def require_access(self, prefix: str) -> None:
        """Exit-2 errors for a bucket that is missing or not reachable, before anything else is done.

        A listing of `prefix` (one key at most), not HeadBucket: HeadBucket needs s3:ListBucket on the whole bucket,
        while the roles the stack grants (llm_async/weights/construct.py) may list one revision's prefix only."""
        try:
            self.s3.list_objects_v2(Bucket=self.name, Prefix=prefix, MaxKeys=1)
        except ClientError as error:
            code = _code(error)
            if code in ("404", "NoSuchBucket"):
                raise UsageError(f"--bucket: no bucket {self.name!r} in this account") from None
            if code in ("403", "AccessDenied"):
                raise UsageError(f"--bucket: access denied to {self.name!r}: the role needs s3:ListBucket on it for the"
                                 f" prefix {prefix} (docs/weights.md lists the permissions)") from None
            raise UsageError(f"--bucket: S3 answered {code} for {self.name!r}") from None
        except NoCredentialsError:
            raise UsageError("no AWS credentials: run with a role or profile that may write the bucket") from None
        except (BotoCoreError, ValueError) as error:
            # ValueError: botocore's check of the bucket name's characters, before any request.
            raise UsageError(f"--bucket: {error}") from None

    def state(self, key: str) -> ObjectState | None:
        """The object's size and recorded digests, or None if there is no object at `key`."""
        try:
            head = self.s3.head_object(Bucket=self.name, Key=key)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StagingFailed(f"{self.uri(key)}: S3 answered {_code(error)} to HeadObject") from None
        metadata = head.get("Metadata", {})
        return ObjectState(size=head["ContentLength"], sha256=metadata.get(SHA256_KEY), blob_id=metadata.get(BLOB_ID_KEY))

    def upload(self, local: Path, key: str, metadata: dict[str, str], progress: Callable[[int], Any]) -> None:
        try:
            self.s3.upload_file(
                str(local),
                self.name,
                key,
                ExtraArgs={"Metadata": metadata, "ChecksumAlgorithm": "SHA256"},
                Config=self.transfer,
                Callback=progress,
            )
        except (S3UploadFailedError, ClientError, BotoCoreError) as error:
            raise StagingFailed(f"{self.uri(key)}: upload failed ({error}); run the command again to resume") from None

    def read(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                return None
            raise StagingFailed(f"{self.uri(key)}: S3 answered {_code(error)} to GetObject") from None

    def put_json(self, key: str, body: bytes) -> None:
        try:
            self.s3.put_object(Bucket=self.name, Key=key, Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256")
        except (ClientError, BotoCoreError) as error:
            raise StagingFailed(f"{self.uri(key)}: PutObject failed ({error}); run the command again") from None

    def sizes_under(self, prefix: str) -> dict[str, int]:
        """Every object under `prefix` and its size (what SageMaker would copy into /opt/ml/model)."""
        sizes: dict[str, int] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
                sizes.update({entry["Key"]: entry["Size"] for entry in page.get("Contents", [])})
        except ClientError as error:
            raise StagingFailed(f"{self.uri(prefix)}: S3 answered {_code(error)} to ListObjectsV2") from None
        return sizes
