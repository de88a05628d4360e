"""What the model container serves and how: engine and its version, weights, GPU shards, token limits, quantization."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.model.dlc_table import available_versions
from llm_async.model.engines import ENGINES, Engine
from llm_async.validators import fail, int_in_range

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
    """What the engine's container serves and how (its environment variables)."""

    name: str
    """Short preset name, used in the summary and default resource names."""
    weights: HubWeights | S3Weights
    num_gpus: int
    """The tensor-parallel degree: TGI's SM_NUM_GPUS, vLLM's SM_VLLM_TENSOR_PARALLEL_SIZE."""
    max_input_tokens: int
    max_total_tokens: int
    quantize: str | None = None
    """A quantization method of the engine's (engines.py): pre-quantized weights, or TGI's on-the-fly ones."""
    engine: str = "tgi"
    """`tgi` (Hugging Face TGI) or `vllm` (AWS's vLLM DLC): engines.py."""
    engine_version: str | None = None
    """Version key of the engine's SageMaker SDK image table; None: the engine's default."""

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
        if self.engine not in ENGINES:
            fail("model.engine", f"one of {', '.join(ENGINES)}", self.engine)
        methods = self.serving_engine.quantize_methods
        if self.quantize is not None and self.quantize not in methods:
            fail("model.quantize", f"None or one of {', '.join(methods)} ({self.serving_engine.label})", self.quantize)
        versions = available_versions(self.serving_engine.framework)
        if self.image_version not in versions:
            table = self.serving_engine.framework
            fail("model.engine_version", f"None or a version of the SDK's {table} image table ({', '.join(versions)})", self.engine_version)

    @property
    def serving_engine(self) -> Engine:
        return ENGINES[self.engine]

    @property
    def image_version(self) -> str:
        return self.engine_version or self.serving_engine.default_version


