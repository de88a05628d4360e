"""Where staged Hub weights live in S3: the one layout the staging command writes and the model construct reads.

    s3://<bucket>/hub/<owner>/<name>/<revision>/model/<file path in the repository>   what /opt/ml/model receives
    s3://<bucket>/hub/<owner>/<name>/<revision>/manifest.json                         written last, after verification

The manifest sits beside the model prefix, not under it: SageMaker copies every object under the model's S3 prefix
into /opt/ml/model, and the engine should find there exactly the repository's files.
Stdlib only: the staging command (llm_async_tools.weights) imports it without aws-cdk-lib.
"""

from __future__ import annotations

ROOT = "hub"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
"""The manifest's `format`: bumped if its fields change meaning, so a reader can refuse what it does not know."""


def revision_prefix(model_id: str, revision: str) -> str:
    """`hub/<owner>/<name>/<revision>/`: everything staged for one pinned commit of one repository."""
    return f"{ROOT}/{model_id}/{revision}/"


def model_prefix(model_id: str, revision: str) -> str:
    """The prefix the model's S3DataSource names (ends in '/', as SageMaker's S3Prefix requires)."""
    return f"{revision_prefix(model_id, revision)}model/"


def manifest_key(model_id: str, revision: str) -> str:
    return f"{revision_prefix(model_id, revision)}{MANIFEST_NAME}"


WEIGHTS_METADATA = "LlmAsync::Weights"
"""The model resource's template metadata key: {"Source": "s3" | "hub", "Bytes": <weights bytes> | null}, written by
ServingModel so that a tool reading only the template (the simulator's cold start) knows where the weights come from
and how large they are."""
