"""How many sequences an engine batches at once on an instance: what sizes the endpoint's concurrency per instance.

Both engines batch continuously: every running sequence holds its keys and values in the KV cache, and a decode
step reads the weights once for the whole batch. So the requests an instance should be sent at once are the
sequences its KV cache holds, capped by the engine's own limit on running sequences. A sequence is sized as a typical
prompt plus the API's default budget of new tokens (every request the API forwards names its budget): TGI allocates
a request's input_length + max_new_tokens of KV blocks when it admits it (backends/v3/src/queue.rs:315-327 at
v3.3.6), so the KV cache holds as many requests as their mean prompt allows, not as a full prompt would. A longer
request is still safe: when the blocks are not free TGI puts the request back at the front of its queue (the same
lines), and vLLM's scheduler admits a sequence only when its KV-cache manager has the blocks; it waits inside the
container instead of in SageMaker's queue. Sizing every request at a full prompt (4,096 + 512 tokens for the default
model) gave 30 requests per instance, 0.23 of the largest batch's tokens/s on traces of 565-token prompts
(docs/simulator.md).

The typical prompt is TYPICAL_PROMPT_TOKENS unless the model names its own (ModelConfig.typical_prompt_tokens), and
never more than max_input_tokens. A model whose KV cache does not hold one request of a full prompt and the default
budget does not fit the instance (`holds_full_request`).

- vLLM 0.30.0 gives itself `gpu_memory_utilization` of each GPU (0.92, vllm/config/cache.py; docs/design/vllm-engine.md
  §5) for weights, activations and the KV cache, and runs at most `max_num_seqs` sequences: 256 for its OpenAI server
  on GPUs under 70 GiB (vllm/engine/arg_utils.py, get_batch_defaults).
- TGI 3.3.6 loads the weights, warms up, then gives the KV cache TGI_WIGGLE_ROOM (0.90) of the free memory
  (server/text_generation_server/models/globals.py; flash_causal_lm.py, warmup; CUDA_MEMORY_FRACTION defaults to 1.0,
  launcher/src/main.rs), and its router admits at most `--max-concurrent-requests` (128, launcher/src/main.rs).

Stdlib only: the simulator (llm_async_tools.simulation) sizes its batches with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llm_async.model.config import ModelConfig
from llm_async.model.instance_types import GpuInstanceType

GIB = 1024**3
RUNTIME_RESERVE_BYTES = int(1.5 * GIB)
"""Per GPU, besides weights and KV cache: the CUDA context, a prefill's activations, CUDA graphs. An estimate — no
source gives it for these models — on the safe side of vLLM's and TGI's start-up logs of 7–8B models on 24 GiB GPUs."""
VLLM_GPU_MEMORY_UTILIZATION = 0.92
VLLM_MAX_NUM_SEQS = 256
TGI_WIGGLE_ROOM = 0.90
TGI_MAX_CONCURRENT_REQUESTS = 128
CAPACITY_METADATA = "LlmAsync::Capacity"
"""The model resource's template metadata key: what a template reader (the simulator's batching model) needs of the
model — {"Engine", "NumGpus", "WeightsBytes", "KvBytesPerToken", "MaxInputTokens", "MaxTotalTokens",
"TypicalPromptTokens", "KvCacheBytes", "EngineLimit"}, each null when unknown. Written by ServingModel from
`capacity_metadata`."""
TYPICAL_PROMPT_TOKENS = 1155
"""The mean prompt (ContextTokens) of Azure's LLM inference trace 2023, conversation: 19,366 production requests to
an Azure LLM chat service (Azure/AzurePublicDataset, data/AzureLLMInferenceTrace_conv.csv, computed at commit b469a11;
median 1,020, 98 % at most 4,096; Patel et al., "Splitwise", ISCA 2024, analyse the same sample). Chat is what the
API serves; the mean, because the KV cache holds the sum of the running requests' tokens."""
DEFAULT_CONCURRENCY = 4
"""Requests per instance when the model's KV-cache shape or weight size is not known (a custom model)."""


@dataclass(frozen=True)
class Capacity:
    kv_cache_bytes: int
    kv_bytes_per_token: int
    sequence_tokens: int
    """The KV room a request is sized at: a typical prompt and the default new-token budget."""
    full_request_tokens: int
    """The KV room of the longest request the API forwards with the default budget: max_input_tokens + that budget."""
    engine_limit: int
    """The engine's own cap on running sequences."""
    summary: str
    """How the numbers were reached, for an error message or the synth summary."""

    @property
    def kv_cache_tokens(self) -> int:
        return max(self.kv_cache_bytes, 0) // self.kv_bytes_per_token

    @property
    def sequences(self) -> int:
        return sequences_held(self.kv_cache_tokens, self.sequence_tokens, self.engine_limit)

    @property
    def holds_full_request(self) -> bool:
        """The KV cache holds one request of a full prompt and the default budget (else such a request never runs)."""
        return self.kv_cache_tokens >= self.full_request_tokens


def sequences_held(kv_cache_tokens: int, sequence_tokens: int, engine_limit: int) -> int:
    """Sequences of `sequence_tokens` a KV cache of `kv_cache_tokens` holds at once, at most the engine's limit (0: none
    fits): the concurrency per instance the construct derives, and the simulator's."""
    return min(kv_cache_tokens // sequence_tokens, engine_limit)


def capacity(model: ModelConfig, instance: GpuInstanceType, default_new_tokens: int) -> Capacity | None:
    """The KV cache the model's engine keeps on the GPUs it uses and the requests of a typical prompt and
    `default_new_tokens` it holds, or None when the model's shape is unknown."""
    if model.architecture is None or model.weights_bytes is None:
        return None
    gpu_bytes = instance.gpu_memory_gib * GIB // instance.gpus * model.num_gpus
    reserve = RUNTIME_RESERVE_BYTES * model.num_gpus
    if model.engine == "vllm":
        kv_bytes = int(gpu_bytes * VLLM_GPU_MEMORY_UTILIZATION) - model.weights_bytes - reserve
        share, limit = f"{VLLM_GPU_MEMORY_UTILIZATION} × {_gib(gpu_bytes)}", VLLM_MAX_NUM_SEQS
        how = f"{share} − {_gib(model.weights_bytes)} weights − {_gib(reserve)} runtime"
    else:
        kv_bytes = int((gpu_bytes - model.weights_bytes - reserve) * TGI_WIGGLE_ROOM)
        limit = TGI_MAX_CONCURRENT_REQUESTS
        how = f"{TGI_WIGGLE_ROOM} × ({_gib(gpu_bytes)} − {_gib(model.weights_bytes)} weights − {_gib(reserve)} runtime)"
    per_token = model.architecture.kv_bytes_per_token
    prompt = typical_prompt_tokens(model)
    sequence, full = prompt + default_new_tokens, model.max_input_tokens + default_new_tokens
    result = Capacity(kv_bytes, per_token, sequence, full, limit, "")
    summary = (
        f"{model.name} on {model.num_gpus} GPU(s) of {instance.name} ({model.serving_engine.label}): KV cache {how}"
        f" = {_gib(max(kv_bytes, 0))}, {per_token:,} bytes a token → {result.kv_cache_tokens:,} tokens,"
        f" {result.kv_cache_tokens // sequence} requests of {sequence:,} tokens ({prompt:,} of typical prompt"
        f" + {default_new_tokens:,} new; model.typical_prompt_tokens) (engine limit {limit})"
    )
    return replace(result, summary=summary)


def typical_prompt_tokens(model: ModelConfig) -> int:
    """The prompt the model's concurrency is sized at: its own, else the default within its max_input_tokens."""
    return model.typical_prompt_tokens or default_typical_prompt_tokens(model.max_input_tokens)


def default_typical_prompt_tokens(max_input_tokens: int) -> int:
    """TYPICAL_PROMPT_TOKENS, never more than a full prompt (the simulator's too, for a template without the figure)."""
    return min(TYPICAL_PROMPT_TOKENS, max_input_tokens)


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


def capacity_metadata(model: ModelConfig, instance: GpuInstanceType, default_new_tokens: int) -> dict[str, object]:
    fit = capacity(model, instance, default_new_tokens)
    return {
        "Engine": model.engine,
        "NumGpus": model.num_gpus,
        "WeightsBytes": model.weights_bytes,
        "KvBytesPerToken": None if fit is None else fit.kv_bytes_per_token,
        "MaxInputTokens": model.max_input_tokens,
        "MaxTotalTokens": model.max_total_tokens,
        "TypicalPromptTokens": typical_prompt_tokens(model),
        "KvCacheBytes": None if fit is None else max(fit.kv_cache_bytes, 0),
        "EngineLimit": None if fit is None else fit.engine_limit,
    }
