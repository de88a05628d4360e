"""The two ways staging stops, which the exit codes tell apart (cli.py)."""

from __future__ import annotations


class UsageError(Exception):
    """Exit 2: an argument or the environment is wrong (model id, revision, bucket, token, access to a gated
    repository). Raised before anything is written to S3, and its message is one line."""


class StagingFailed(Exception):
    """Exit 1: the copy did not complete or does not verify (a corrupt or truncated download, a failed transfer,
    objects that differ from the manifest). No manifest is written; a new run resumes."""
