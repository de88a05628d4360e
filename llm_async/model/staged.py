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


OWN_BUCKET_SUFFIX = "-weights-"
LONGEST_REGION = len("ap-southeast-4")
"""The longest region name SageMaker offers in the SDK's image tables (eusc-de-east-1 is as long)."""


def own_bucket_name(name_prefix: str, account: str, region: str) -> str:
    """The deployment's own weights bucket: `<name prefix>-weights-<account>-<region>`, known before it exists, so the
    operator, the pipeline's staging step and the model's role all name it without a cross-stack reference."""
    return f"{name_prefix.lower()}{OWN_BUCKET_SUFFIX}{account}-{region}"


def longest_own_bucket_prefix() -> int:
    """The longest name prefix whose own bucket name fits S3's 63 characters in every account and region."""
    return 63 - len(OWN_BUCKET_SUFFIX) - 12 - 1 - LONGEST_REGION
