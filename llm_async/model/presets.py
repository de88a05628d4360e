"""Model presets: a model on its engine, with the instance type it is sized for."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llm_async.model.config import HubWeights, ModelArchitecture, ModelConfig, StagedWeights


@dataclass(frozen=True)
class ModelPreset:
    model: ModelConfig
    instance_type: str

    def variant(self, instance_type: str | None = None, **changes: Any) -> ModelPreset:
        """This preset's model with `changes` (its new name among them), on `instance_type` or on this preset's."""
        return ModelPreset(replace(self.model, **changes), instance_type or self.instance_type)

    def staged(self) -> ModelPreset:
        """The same model and revision, read from the deployment's own bucket of staged weights (StagedWeights)."""
        weights = self.model.weights
        if not isinstance(weights, HubWeights):
            raise ValueError(f"preset {self.model.name}: only Hub weights can be staged")
        return self.variant(weights=StagedWeights(weights.model_id, weights.revision))


# The seed notebook's model: 40B parameters sharded over the 4 A10G GPUs (96 GiB) of a g5.12xlarge.
FALCON_40B_INSTRUCT = ModelPreset(
    ModelConfig("falcon-40b-instruct", HubWeights("tiiuae/falcon-40b-instruct", "1e7fdcc9f45d13704f3826e99937917e007cd975"),
                num_gpus=4, max_input_tokens=1900, max_total_tokens=2048),
    instance_type="ml.g5.12xlarge",
)

# The notebook's cheaper variant: 4 T4 GPUs (64 GiB) only fit the 40B model quantized to 8 bits.
FALCON_40B_INSTRUCT_G4DN = FALCON_40B_INSTRUCT.variant(
    "ml.g4dn.12xlarge", name="falcon-40b-instruct-int8", quantize="bitsandbytes"
)

# The cheap default: an ungated Apache-2.0 7B instruct model; ~15 GiB of bf16 weights fit one A10G.
QWEN2_5_7B_INSTRUCT = ModelPreset(
    ModelConfig("qwen2-5-7b-instruct", HubWeights("Qwen/Qwen2.5-7B-Instruct", "a09a35458c702b33eeacc393d103063234e8bc28"),
                num_gpus=1, max_input_tokens=4096, max_total_tokens=8192,
                # total_size of the repository's model.safetensors.index.json (bf16, 7.62 B parameters)
                weights_bytes=15_231_233_024,
                # config.json: 28 layers, 4 KV heads (grouped-query), 3,584 / 28 heads = 128 per head
                architecture=ModelArchitecture(layers=28, kv_heads=4, head_dim=128)),
    instance_type="ml.g5.2xlarge",
)

# The default model on vLLM 0.30.0 (AWS's vLLM DLC): the same weights and context; ~14.4 GB of bf16 weights leave
# the KV cache about 4–5 GiB of the A10G at vLLM's 0.92 memory share (docs/design/vllm-engine.md §5).
QWEN2_5_7B_INSTRUCT_VLLM = QWEN2_5_7B_INSTRUCT.variant(name="qwen2-5-7b-instruct-vllm", engine="vllm")

# A gated family: Meta's Llama 3.1 Community License is accepted on the Hub by the account whose token stages the
# weights (docs/weights.md). Staged weights only, so no token reaches a template, the model's environment or the
# endpoint. On vLLM (maintained); 16.06 GB of bf16 weights (the index's total_size) on one A10G leave the KV cache
# about 5 GiB at vLLM's 0.92 memory share: at 128 KiB a token (32 layers × 8 KV heads × 128 × K and V × 2 bytes),
# ~40,000 tokens, several 8,192-token sequences.
LLAMA_3_1_8B_INSTRUCT = ModelPreset(
    ModelConfig("llama-3-1-8b-instruct",
                StagedWeights("meta-llama/Llama-3.1-8B-Instruct", "0e9e39f249a16976918f6564b8830bc894c89659"),
                num_gpus=1, max_input_tokens=4096, max_total_tokens=8192, engine="vllm", weights_bytes=16_060_522_496,
                # config.json: 32 layers, 8 KV heads, 4,096 / 32 heads = 128 per head
                architecture=ModelArchitecture(layers=32, kv_heads=8, head_dim=128)),
    instance_type="ml.g5.2xlarge",
)

PRESETS: dict[str, ModelPreset] = {
    p.model.name: p
    for p in (QWEN2_5_7B_INSTRUCT, QWEN2_5_7B_INSTRUCT_VLLM, LLAMA_3_1_8B_INSTRUCT, FALCON_40B_INSTRUCT, FALCON_40B_INSTRUCT_G4DN)
}
