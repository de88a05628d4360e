"""The engines' KV cache on an instance (llm_async/model/capacity.py): what sizes the concurrency per instance."""

from __future__ import annotations

import dataclasses

import pytest

from llm_async.model.capacity import (
    GIB,
    RUNTIME_RESERVE_BYTES,
    TGI_MAX_CONCURRENT_REQUESTS,
    TYPICAL_PROMPT_TOKENS,
    VLLM_MAX_NUM_SEQS,
    capacity,
    capacity_metadata,
)
from llm_async.model.config import ModelArchitecture
from llm_async.model.instance_types import GPU_INSTANCE_TYPES
from llm_async.model.presets import FALCON_40B_INSTRUCT, LLAMA_3_1_8B_INSTRUCT, PRESETS, QWEN2_5_7B_INSTRUCT

G5_2XL = GPU_INSTANCE_TYPES["ml.g5.2xlarge"]
BUDGET = 512  # the API's default new-token budget for the default model (llm_async/api/config.py)


def test_kv_bytes_per_token_is_a_key_and_a_value_per_layer_and_kv_head() -> None:
    # Qwen2.5-7B: 28 layers × 4 KV heads × 128 × (K, V) × 2 bytes; Llama 3.1 8B: 32 × 8 × 128 × 2 × 2.
    assert QWEN2_5_7B_INSTRUCT.model.architecture.kv_bytes_per_token == 57_344
    assert LLAMA_3_1_8B_INSTRUCT.model.architecture.kv_bytes_per_token == 131_072


def test_tgi_keeps_its_wiggle_room_of_what_weights_and_runtime_leave() -> None:
    fit = capacity(QWEN2_5_7B_INSTRUCT.model, G5_2XL, BUDGET)
    assert fit is not None
    expected = int((24 * GIB - 15_231_233_024 - RUNTIME_RESERVE_BYTES) * 0.90)
    assert fit.kv_cache_bytes == expected
    assert (fit.kv_cache_tokens, fit.sequences, fit.engine_limit) == (expected // 57_344, 84, TGI_MAX_CONCURRENT_REQUESTS)


def test_vllm_takes_its_memory_share_then_subtracts_weights_and_runtime() -> None:
    fit = capacity(PRESETS["qwen2-5-7b-instruct-vllm"].model, G5_2XL, BUDGET)
    assert fit is not None
    assert fit.kv_cache_bytes == int(24 * GIB * 0.92) - 15_231_233_024 - RUNTIME_RESERVE_BYTES
    assert (fit.sequences, fit.engine_limit) == (71, VLLM_MAX_NUM_SEQS)


def test_a_larger_kv_cache_per_token_holds_fewer_sequences() -> None:
    fit = capacity(LLAMA_3_1_8B_INSTRUCT.model, G5_2XL, BUDGET)
    assert fit is not None and fit.sequences == 27


def test_the_engines_limit_caps_the_sequences() -> None:
    # A short context on a big instance: the KV cache would hold far more than the router admits.
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, num_gpus=8, max_input_tokens=32, max_total_tokens=64)
    fit = capacity(model, GPU_INSTANCE_TYPES["ml.p4d.24xlarge"], 32)
    assert fit is not None and fit.kv_cache_tokens // (32 + 32) > TGI_MAX_CONCURRENT_REQUESTS
    assert fit.sequences == TGI_MAX_CONCURRENT_REQUESTS


def test_only_the_gpus_the_model_uses_count() -> None:
    one, four = (capacity(QWEN2_5_7B_INSTRUCT.model, GPU_INSTANCE_TYPES[t], BUDGET) for t in ("ml.g5.2xlarge", "ml.g5.12xlarge"))
    assert one is not None and four is not None and one.kv_cache_bytes == four.kv_cache_bytes


def test_a_request_is_a_typical_prompt_and_the_default_budget() -> None:
    # A larger default budget leaves room for fewer requests; the engine queues one that asks for more than its share.
    small, large = (capacity(QWEN2_5_7B_INSTRUCT.model, G5_2XL, budget) for budget in (512, 4096))
    assert small is not None and large is not None
    assert (small.sequence_tokens, large.sequence_tokens) == (TYPICAL_PROMPT_TOKENS + 512, TYPICAL_PROMPT_TOKENS + 4096)
    assert (small.sequences, large.sequences) == (84, 26)
    assert (small.full_request_tokens, large.full_request_tokens) == (4096 + 512, 4096 + 4096)


def test_a_model_of_shorter_prompts_says_so_and_gets_more_requests() -> None:
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, typical_prompt_tokens=600)
    fit = capacity(model, G5_2XL, BUDGET)
    assert fit is not None and (fit.sequence_tokens, fit.sequences) == (600 + 512, 140_122 // 1112)


def test_the_typical_prompt_is_never_longer_than_a_full_one() -> None:
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, max_input_tokens=512, max_total_tokens=1024)
    fit = capacity(model, G5_2XL, BUDGET)
    assert fit is not None and fit.sequence_tokens == fit.full_request_tokens == 512 + 512


def test_a_cache_that_holds_typical_requests_may_still_not_hold_a_full_one() -> None:
    model = dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, max_input_tokens=150_000, max_total_tokens=160_000)
    fit = capacity(model, G5_2XL, BUDGET)
    assert fit is not None and fit.sequences == 84 and not fit.holds_full_request
    full = capacity(QWEN2_5_7B_INSTRUCT.model, G5_2XL, BUDGET)
    assert full is not None and full.holds_full_request


def test_a_model_that_does_not_fit_holds_no_sequence() -> None:
    # Llama 3.1 8B's 16.06 GB of weights leave nothing of a T4's 16 GiB at vLLM's 0.92 share.
    fit = capacity(LLAMA_3_1_8B_INSTRUCT.model, GPU_INSTANCE_TYPES["ml.g4dn.xlarge"], BUDGET)
    assert fit is not None and (fit.kv_cache_tokens, fit.sequences, fit.holds_full_request) == (0, 0, False)
    assert "0.92 × 16.0 GiB − 15.0 GiB weights − 1.5 GiB runtime" in fit.summary


@pytest.mark.parametrize("model", [FALCON_40B_INSTRUCT.model, dataclasses.replace(QWEN2_5_7B_INSTRUCT.model, architecture=None)])
def test_unknown_without_the_shape_or_the_weight_size(model) -> None:  # noqa: ANN001
    assert capacity(model, G5_2XL, BUDGET) is None


def test_the_summary_shows_the_arithmetic() -> None:
    fit = capacity(QWEN2_5_7B_INSTRUCT.model, G5_2XL, BUDGET)
    assert fit is not None and fit.summary == (
        "qwen2-5-7b-instruct on 1 GPU(s) of ml.g5.2xlarge (TGI): KV cache 0.9 × (24.0 GiB − 14.2 GiB weights − 1.5 GiB"
        " runtime) = 7.5 GiB, 57,344 bytes a token → 140,122 tokens, 84 requests of 1,667 tokens (1,155 of typical prompt"
        " + 512 new; model.typical_prompt_tokens) (engine limit 128)"
    )


def test_the_template_metadata_carries_what_the_simulator_batches_with() -> None:
    assert capacity_metadata(QWEN2_5_7B_INSTRUCT.model, G5_2XL, BUDGET) == {
        "Engine": "tgi",
        "NumGpus": 1,
        "WeightsBytes": 15_231_233_024,
        "KvBytesPerToken": 57_344,
        "MaxInputTokens": 4096,
        "MaxTotalTokens": 8192,
        "TypicalPromptTokens": TYPICAL_PROMPT_TOKENS,
        "KvCacheBytes": capacity(QWEN2_5_7B_INSTRUCT.model, G5_2XL, BUDGET).kv_cache_bytes,
        "EngineLimit": 128,
    }
    unknown = capacity_metadata(FALCON_40B_INSTRUCT.model, GPU_INSTANCE_TYPES["ml.g5.12xlarge"], BUDGET)
    assert (unknown["KvBytesPerToken"], unknown["KvCacheBytes"], unknown["EngineLimit"]) == (None, None, None)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [("layers", 0, "an integer 1–1000"), ("kv_heads", 0, "an integer 1–1024"), ("head_dim", 2048, "an integer 1–1024")],
)
def test_architecture_ranges(field: str, value: int, allowed: str) -> None:
    arguments = {"layers": 28, "kv_heads": 4, "head_dim": 128, field: value}
    with pytest.raises(ValueError, match=f"^model.architecture.{field}: must be {allowed} \\(got {value}\\)$"):
        ModelArchitecture(**arguments)


def test_architecture_kv_dtype_is_a_width_the_engines_cache_in() -> None:
    with pytest.raises(ValueError, match=r"^model.architecture.kv_dtype_bytes: must be 1, 2 or 4 \(got 3\)$"):
        ModelArchitecture(layers=28, kv_heads=4, head_dim=128, kv_dtype_bytes=3)
