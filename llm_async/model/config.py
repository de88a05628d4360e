"""What the model container serves and how: engine and its version, weights, GPU shards, token limits, quantization."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_async.model import staged
from llm_async.model.dlc_table import available_versions
from llm_async.model.engines import ENGINES, Engine
from llm_async.validators import fail, int_in_range

_HUB_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
_BUCKET_NAME = re.compile(f"^{_BUCKET}$")
_S3_PREFIX = re.compile(rf"^s3://({_BUCKET})/(\S+/)$")
# A key ARN, not an alias: IAM grants kms:Decrypt on the key itself. A multi-Region key's id is mrk- and 32 hex digits.
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2,4}(-[a-z]+)+-\d:\d{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$")


def _check_pinned(model_id: str, revision: str) -> None:
    if not _HUB_MODEL_ID.match(model_id):
        fail("model.weights.model_id", "a Hub id 'owner/name'", model_id)
    if not _GIT_SHA.match(revision):
        fail("model.weights.revision", "a 40-character lowercase commit sha", revision)


def _check_kms_key_arn(value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and _KMS_KEY_ARN.match(value)):
        fail("model.weights.kms_key_arn", "None or a KMS key ARN 'arn:aws:kms:REGION:ACCOUNT:key/ID'", value)


@dataclass(frozen=True)
class HubWeights:
    """Weights the TGI container downloads from the Hugging Face Hub at start (needs internet)."""

    model_id: str
    revision: str
    """A full commit sha, so a redeploy never silently picks up new weights."""

    def __post_init__(self) -> None:
        _check_pinned(self.model_id, self.revision)


@dataclass(frozen=True)
class S3Weights:
    """Uncompressed weights under an S3 prefix, mounted at /opt/ml/model (allows network isolation)."""

    s3_uri: str
    """s3://bucket/prefix/ (trailing slash: SageMaker copies every object under the prefix)."""
    kms_key_arn: str | None = None
    """The bucket's customer-managed KMS key, if its objects use one: the model's role may then decrypt with it."""

    def __post_init__(self) -> None:
        if not _S3_PREFIX.match(self.s3_uri):
            fail("model.weights.s3_uri", "an S3 prefix 's3://bucket/prefix/' ending in '/'", self.s3_uri)
        _check_kms_key_arn(self.kms_key_arn)

    @property
    def bucket_name(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(1)  # type: ignore[union-attr]

    @property
    def key_prefix(self) -> str:
        return _S3_PREFIX.match(self.s3_uri).group(2)  # type: ignore[union-attr]


@dataclass(frozen=True)
class StagedWeights:
    """A Hub repository at a pinned commit, staged into S3 by `python -m llm_async_tools.weights stage` (docs/weights.md).

    SageMaker copies the staged files to /opt/ml/model before the container starts: the endpoint runs network-isolated,
    a wake downloads nothing from the internet, and a gated model's token is needed only where the staging runs.
    """

    model_id: str
    revision: str
    """A full commit sha: the staged copy is of that commit and no other."""
    bucket_name: str | None = None
    """An existing bucket to read the staged copy from; None: the deployment's own (LlmAsyncWeightsStack)."""
    kms_key_arn: str | None = None
    """The existing bucket's customer-managed KMS key, if it has one (the own bucket's key is granted by the stack)."""

    def __post_init__(self) -> None:
        _check_pinned(self.model_id, self.revision)
        if self.bucket_name is not None and not (isinstance(self.bucket_name, str) and _BUCKET_NAME.match(self.bucket_name)):
            fail("model.weights.bucket_name", "None or an S3 bucket name (3–63 lowercase letters, digits, '.', '-')", self.bucket_name)
        _check_kms_key_arn(self.kms_key_arn)
        if self.bucket_name is None and self.kms_key_arn is not None:
            fail("model.weights.kms_key_arn", "None when bucket_name is None (the own bucket's key is the stack's)", self.kms_key_arn)

    @property
    def model_prefix(self) -> str:
        """The key prefix SageMaker copies from (staged.model_prefix)."""
        return staged.model_prefix(self.model_id, self.revision)

    @property
    def manifest_key(self) -> str:
        return staged.manifest_key(self.model_id, self.revision)

    @property
    def own_bucket(self) -> bool:
        """Read from the deployment's own weights bucket, which LlmAsyncWeightsStack creates."""
        return self.bucket_name is None


Weights = HubWeights | S3Weights | StagedWeights


@dataclass(frozen=True)
class ModelArchitecture:
    """What sizes the KV cache, from the model's config.json: llm_async/model/capacity.py turns it into sequences."""

    layers: int
    """num_hidden_layers (n_layer)."""
    kv_heads: int
    """num_key_value_heads (n_head_kv): fewer than the attention heads with grouped-query attention."""
    head_dim: int
    """hidden_size / num_attention_heads, unless config.json names head_dim."""
    kv_dtype_bytes: int = 2
    """Bytes per cached value: 2 for bf16/fp16, the engines' default KV dtype for bf16 weights."""

    def __post_init__(self) -> None:
        int_in_range("model.architecture.layers", self.layers, 1, 1000)
        int_in_range("model.architecture.kv_heads", self.kv_heads, 1, 1024)
        int_in_range("model.architecture.head_dim", self.head_dim, 1, 1024)
        if self.kv_dtype_bytes not in (1, 2, 4):
            fail("model.architecture.kv_dtype_bytes", "1, 2 or 4", self.kv_dtype_bytes)

    @property
    def kv_bytes_per_token(self) -> int:
        """A key and a value vector per layer and KV head."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.kv_dtype_bytes


@dataclass(frozen=True)
class ModelConfig:
    """What the engine's container serves and how (its environment variables)."""

    name: str
    """Short preset name, used in the summary and default resource names."""
    weights: Weights
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
    weights_bytes: int | None = None
    """Bytes of the weights the engine loads (a safetensors index's total_size): the simulator's load time and, with
    `architecture`, the KV cache left on the GPUs (capacity.py). None: unknown."""
    architecture: ModelArchitecture | None = None
    """The KV-cache shape; with `weights_bytes`, the default concurrency per instance is derived from it."""
    typical_prompt_tokens: int | None = None
    """The prompt length the default concurrency per instance is sized at (capacity.py): set it to your traffic's mean
    prompt. None: capacity.TYPICAL_PROMPT_TOKENS (1,155, a production chat trace's mean), at most max_input_tokens."""

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", self.name):
            fail("model.name", "1–40 lowercase letters, digits or '-'", self.name)
        if not isinstance(self.weights, (HubWeights, S3Weights, StagedWeights)):
            fail("model.weights", "HubWeights, S3Weights or StagedWeights", self.weights)
        if self.weights_bytes is not None:
            int_in_range("model.weights_bytes", self.weights_bytes, 1)
        if self.architecture is not None and not isinstance(self.architecture, ModelArchitecture):
            fail("model.architecture", "None or a ModelArchitecture", self.architecture)
        int_in_range("model.num_gpus", self.num_gpus, 1, 8)
        int_in_range("model.max_input_tokens", self.max_input_tokens, 1)
        int_in_range("model.max_total_tokens", self.max_total_tokens, 2)
        if self.max_input_tokens >= self.max_total_tokens:
            fail(
                "model.max_input_tokens",
                f"< model.max_total_tokens ({self.max_total_tokens})",
                self.max_input_tokens,
            )
        if self.typical_prompt_tokens is not None:
            int_in_range("model.typical_prompt_tokens", self.typical_prompt_tokens, 1, self.max_input_tokens)
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


