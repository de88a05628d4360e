"""The published measurements the batching model is calibrated against, and the closed loop that reproduces them.

Source: Philipp Schmid, "Llama 2 on Amazon SageMaker a Benchmark", Hugging Face blog, 2023-09-26
(https://huggingface.co/blog/llama-sagemaker-benchmark), raw data in github.com/philschmid/text-generation-inference-tests,
results/sagemaker.csv, rows "meta-llama/Llama-2-7b-hf, ml.g5.2xlarge, 1, none, 50, True": the Hugging Face LLM DLC
(TGI 1.0.3) serving Llama-2-7b-hf in fp16 on one A10G, k6 sending 1, 5, 10 or 20 concurrent clients (constant virtual
users for 90 s, sagemaker_llm_container/sagemaker_load.js), each request a ShareGPT prompt (samples.json, in order)
with max_new_tokens 50 and sampling. "Latency Inference ms med" is TGI's own inference time (its x-inference-time,
prefill to last token, without its queue); throughput is generated tokens per second over the run.

The model: Llama-2-7b-hf is 6.74 B parameters in fp16, 13,476,839,424 bytes of weights (its
model.safetensors.index.json total_size); its config.json has 32 layers, 32 KV heads (no grouped-query attention)
and 128 dimensions per head: 2 × 32 × 32 × 128 × 2 bytes = 524,288 KV bytes a token.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from llm_async_tools.simulation.batching import EngineLimits, LoopResult, Roofline, closed_loop

A10G_GB_PER_S = 600.0
"""One A10G's memory bandwidth (llm_async/model/instance_types.py: NVIDIA's A10G figure as AWS's G5 page gives it)."""
LLAMA_2_7B_WEIGHTS_BYTES = 13_476_839_424
LLAMA_2_7B_KV_BYTES_PER_TOKEN = 2 * 32 * 32 * 128 * 2
NEW_TOKENS = 50
DURATION_S = 90.0
"""k6's constant-VUs scenario ran each configuration for 90 s."""
PROMPT_TOKENS = (8, 539, 67, 846, 20, 262, 137, 35, 397, 14)
"""The sample's prompt lengths: the deciles' midpoints of samples.json's 1,000 prompt token counts (8, 14, 20, 35, 67,
137, 262, 397, 539, 846; mean 232.5 against the file's 233.1), interleaved so that short and long ones alternate as
the file's do."""
KV_CACHE_TOKENS = 16_000
"""The KV budget given to the replay: an estimate, since the benchmark's launcher logs (where TGI states the
max_batch_total_tokens its warm-up found) are not published. It does not matter here: 20 requests of the sample's
sizes hold about 20 × 283 tokens, and the replay gives the same figures with an unlimited cache (test_batching.py)."""


@dataclass(frozen=True)
class Measured:
    clients: int
    inference_median_s: float
    tokens_per_second: float


PUBLISHED = (
    Measured(1, 1.547696, 32.38),
    Measured(5, 1.871321, 131.29),
    Measured(10, 2.201357, 220.06),
    Measured(20, 3.020721, 313.53),
)


def benchmark_roofline(bandwidth_efficiency: float, compute_efficiency: float, peak_tflops: float) -> Roofline:
    """One A10G serving Llama-2-7b-hf, as in the benchmark."""
    return Roofline(
        weights_bytes=LLAMA_2_7B_WEIGHTS_BYTES,
        kv_bytes_per_token=LLAMA_2_7B_KV_BYTES_PER_TOKEN,
        bandwidth=A10G_GB_PER_S * 1e9 * bandwidth_efficiency,
        flops=peak_tflops * 1e12 * compute_efficiency,
    )


def reproduce(bandwidth_efficiency: float, compute_efficiency: float, peak_tflops: float) -> list[tuple[Measured, LoopResult]]:
    roofline = benchmark_roofline(bandwidth_efficiency, compute_efficiency, peak_tflops)
    # TGI 1.0.3's router admits at most 128 concurrent requests by default (--max-concurrent-requests), far above 20.
    limits = EngineLimits(kv_cache_tokens=KV_CACHE_TOKENS, max_running=128)
    return [(m, closed_loop(roofline, limits, m.clients, PROMPT_TOKENS, NEW_TOKENS, DURATION_S)) for m in PUBLISHED]


def error(results: list[tuple[Measured, LoopResult]]) -> float:
    """Sum of squared log ratios of the model's median inference times to the published ones."""
    return sum(math.log(r.inference_median_s / m.inference_median_s) ** 2 for m, r in results)


def fit(peak_tflops: float) -> tuple[float, float]:
    """The (bandwidth, compute) efficiencies that best reproduce the published medians: a 0.02 × 0.05 grid over
    0.6–1.0 × 0.1–0.9, then a 0.005 × 0.01 grid around its best point."""

    def best(bandwidths: list[float], computes: list[float]) -> tuple[float, float]:
        pairs = itertools.product(bandwidths, computes)
        return min(pairs, key=lambda pair: error(reproduce(pair[0], pair[1], peak_tflops)))

    coarse = best([0.6 + 0.02 * i for i in range(21)], [0.1 + 0.05 * j for j in range(17)])
    fine = best([coarse[0] + 0.005 * i for i in range(-4, 5)], [coarse[1] + 0.01 * j for j in range(-5, 6)])
    return round(fine[0], 3), round(fine[1], 3)
