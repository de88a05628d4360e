"""What the model container serves and how: weights, GPU shards, token limits, quantization, TGI version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.model.dlc_table import available_tgi_versions
from llm_async.validators import fail, int_in_range

# TGI's `--quantize` choices (text-generation-launcher 3.x).
TGI_QUANTIZE_METHODS = (
    "awq",
    "bitsandbytes",
    "bitsandbytes-fp4",
    "bitsandbytes-nf4",
    "compressed-tensors",
    "eetq",
    "exl2",
    "fp8",
    "gptq",
    "marlin",
)
_HUB_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_S3_PREFIX = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+/)$")


@dataclass(frozen=True)
class HubWeights:
    """Weights the TGI container downloads from the Hugging Face Hub at start (needs internet)."""

    model_id: str
    revision: str
    """A full commit sha, so a redeploy never silently picks up new weights."""

    def __post_init__(self) -> None:
        if not _HUB_MODEL_ID.match(self.model_id):
            fail("model.weights.model_id", "a Hub id 'owner/name'", self.model_id)
        if not _GIT_SHA.match(self.revision):
            fail("model.weights.revision", "a 40-character lowercase commit sha", self.revision)


@dataclass(frozen=True)
class S3Weights:
    """Uncompressed weights under an S3 prefix, mounted at /opt/ml/model (allows network isolation)."""

    s3_uri: str
    """s3://bucket/prefix/ (trailing slash: SageMaker copies every object under the prefix)."""

    def __post_init__(self) -> None:
        if not _S3_PREFIX.match(self.s3_uri):
            fail("model.weights.s3_uri", "an S3 prefix 's3://bucket/prefix/' ending in '/'", self.s3_uri)

    @property
    def bucket_name(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(1)  # type: ignore[union-attr]

    @property
    def key_prefix(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(2)  # type: ignore[union-attr]


@dataclass(frozen=True)
class ModelConfig:
    """What the TGI container serves and how (its environment variables)."""

    name: str
    """Short preset name, used in the summary and default resource names."""
    weights: HubWeights | S3Weights
    num_gpus: int
    """SM_NUM_GPUS: the tensor-parallel shard count."""
    max_input_tokens: int
    max_total_tokens: int
    quantize: str | None = None
    tgi_version: str = "3.3.6"
    """Version key of the SageMaker SDK's `huggingface-llm` image table."""

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", self.name):
            fail("model.name", "1–40 lowercase letters, digits or '-'", self.name)
        if not isinstance(self.weights, (HubWeights, S3Weights)):
            fail("model.weights", "HubWeights or S3Weights", self.weights)
        int_in_range("model.num_gpus", self.num_gpus, 1, 8)
        int_in_range("model.max_input_tokens", self.max_input_tokens, 1)
        int_in_range("model.max_total_tokens", self.max_total_tokens, 2)
        if self.max_input_tokens >= self.max_total_tokens:
            fail(
                "model.max_input_tokens",
                f"< model.max_total_tokens ({self.max_total_tokens})",
                self.max_input_tokens,
            )
        if self.quantize is not None and self.quantize not in TGI_QUANTIZE_METHODS:
            fail("model.quantize", f"None or one of {', '.join(TGI_QUANTIZE_METHODS)}", self.quantize)
        versions = available_tgi_versions()
        if self.tgi_version not in versions:
            fail("model.tgi_version", f"a version of the SDK's TGI image table ({', '.join(versions)})", self.tgi_version)


