"""Continuous batching: the roofline's arithmetic, the slowdown of sharing a GPU, the engine's limits, and the
calibration against the published TGI benchmark."""

from __future__ import annotations

import dataclasses

import pytest

from llm_async.model.capacity import TYPICAL_PROMPT_TOKENS
from llm_async_tools.simulation import calibration
from llm_async_tools.simulation.batching import (
    BANDWIDTH_EFFICIENCY,
    COMPUTE_EFFICIENCY,
    PEAK_TFLOPS,
    EngineLimits,
    InstanceBatch,
    Roofline,
    closed_loop,
    instance_capacity,
)
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters

# Round numbers: 10 GB of weights, 100 kB of KV a token, 500 GB/s, 50 TFLOPS (so 5e9 parameters, 1e10 FLOPs a token).
ROOF = Roofline(weights_bytes=10e9, kv_bytes_per_token=100e3, bandwidth=500e9, flops=50e12)
ROOMY = EngineLimits(kv_cache_tokens=10**9, max_running=1000)


@dataclasses.dataclass
class Job:
    prompt_tokens: float
    output_tokens: float


def test_a_decode_step_reads_the_weights_once_and_every_sequences_context() -> None:
    # (10e9 + 100e3 × 4 × 1000) / 500e9 = 20.8 ms for four sequences of 1,000 tokens; compute 4e10 / 5e13 = 0.8 ms.
    assert ROOF.step_s(4, 4000) == pytest.approx(0.0208)
    assert ROOF.tokens_per_second(4, 1000) == pytest.approx(4 / 0.0208)
    # Four times the sequences for 4 % more time a step: the weights dominate what a step reads.
    assert ROOF.step_s(4, 4000) / ROOF.step_s(1, 1000) == pytest.approx(10.4 / 10.1)


def test_a_large_batch_becomes_compute_bound() -> None:
    # 1,000 sequences of 10 tokens: memory (10e9 + 1e9) / 500e9 = 22 ms, compute 1e13 / 5e13 = 200 ms.
    assert ROOF.step_s(1000, 10_000) == pytest.approx(0.2)


def test_a_prefill_is_compute_bound_but_reads_the_weights_at_least_once() -> None:
    assert ROOF.prefill_s(1000) == pytest.approx(1e13 / 50e12)  # 0.2 s
    assert ROOF.prefill_s(1) == pytest.approx(10e9 / 500e9)  # 20 ms: one read of the weights


def test_steps_time_integrates_the_growing_context_and_steps_within_inverts_it() -> None:
    # One sequence from 1,000 tokens for 100 steps: Σ (10e9 + 100e3 × (1000 + j)) / 500e9 over j < 100, to within the
    # fluid approximation's half a step of context.
    exact = sum((10e9 + 100e3 * (1000 + j)) / 500e9 for j in range(100))
    assert ROOF.steps_time(1, 1000, 100) == pytest.approx(exact, rel=1e-4)
    for seconds in (0.001, 0.5, 2.0, 30.0):
        assert ROOF.steps_time(1, 1000, ROOF.steps_within(1, 1000, seconds)) == pytest.approx(seconds)
    compute_bound = ROOF.steps_within(1000, 10_000, 1.0)
    assert compute_bound == pytest.approx(5.0)  # 0.2 s a step while compute-bound


def test_a_service_time_converts_to_the_tokens_that_take_that_long_alone() -> None:
    tokens = ROOF.output_tokens_alone(20.0, 233)
    assert ROOF.alone_s(233, tokens) == pytest.approx(20.0)


def _finish_times(batch: InstanceBatch, jobs: list[Job]) -> dict[int, float]:
    for job in jobs:
        batch.add(0.0, job)
    done: dict[int, float] = {}
    while (now := batch.next_event_s()) is not None:
        for finished in batch.progress(now):
            done[id(finished.job)] = now
    return done


def test_sharing_the_gpu_slows_each_request_but_not_in_proportion() -> None:
    alone = ROOF.alone_s(200, 500)
    jobs = [Job(200, 500) for _ in range(8)]
    finished = _finish_times(InstanceBatch(ROOF, ROOMY), jobs)
    together = max(finished.values())
    # Eight at once: each takes longer than alone (more KV to read, eight prompts to prefill first) …
    assert together > alone
    # … but far less than eight times as long, because each step reads the weights once for all eight.
    assert together < 2 * alone


def test_a_request_waits_while_the_kv_cache_is_full() -> None:
    limits = EngineLimits(kv_cache_tokens=800, max_running=10)  # room for one request of 200 + 500 tokens
    first, second = Job(200, 500), Job(200, 500)
    finished = _finish_times(InstanceBatch(ROOF, limits), [first, second])
    assert finished[id(first)] == pytest.approx(ROOF.alone_s(200, 500))
    assert finished[id(second)] == pytest.approx(2 * ROOF.alone_s(200, 500))


def test_the_engine_runs_no_more_than_its_limit() -> None:
    batch = InstanceBatch(ROOF, EngineLimits(kv_cache_tokens=10**9, max_running=2))
    for _ in range(3):
        batch.add(0.0, Job(100, 100))
    most, finished = 0, 0
    while (now := batch.next_event_s()) is not None:
        finished += len(batch.progress(now))
        most = max(most, batch.running)
    assert (most, finished) == (2, 3)


def test_the_calibration_reproduces_the_published_benchmark() -> None:
    """Schmid's Llama-2-7b-hf on ml.g5.2xlarge with TGI 1.0.3: median inference time within 3 %, throughput within 5 %,
    at 1, 5, 10 and 20 concurrent clients."""
    results = calibration.reproduce(BANDWIDTH_EFFICIENCY, COMPUTE_EFFICIENCY, PEAK_TFLOPS["NVIDIA A10G"])
    for measured, simulated in results:
        assert simulated.inference_median_s == pytest.approx(measured.inference_median_s, rel=0.03), measured.clients
        assert simulated.tokens_per_second == pytest.approx(measured.tokens_per_second, rel=0.05), measured.clients


def test_without_batching_gains_the_benchmark_could_not_be_reproduced() -> None:
    """The calibration can fail: a model whose per-sequence speed never falls with the batch (weights read per
    sequence, as if nothing were shared) misses the 20-client median by far."""
    unshared = calibration.benchmark_roofline(BANDWIDTH_EFFICIENCY, COMPUTE_EFFICIENCY, PEAK_TFLOPS["NVIDIA A10G"])
    unshared = dataclasses.replace(unshared, kv_bytes_per_token=unshared.weights_bytes / 300)
    loop = closed_loop(unshared, EngineLimits(10**6, 128), 20, calibration.PROMPT_TOKENS, calibration.NEW_TOKENS,
                       calibration.DURATION_S)
    assert loop.inference_median_s > 2 * calibration.PUBLISHED[-1].inference_median_s


def test_the_template_sizes_the_batching(ours: ScalingModel) -> None:
    batching = SimulationParameters().batching(ours)
    # Qwen2.5-7B on TGI on one A10G: 8,035,162,214 bytes of KV cache at 57,344 a token.
    assert (batching.limits.kv_cache_tokens, batching.limits.max_running) == (8_035_162_214 // 57_344, 128)
    # capacity.py's sizing: requests of a typical prompt and the API's default budget, 1,155 + 512 tokens: 140,122 // 1,667.
    assert (batching.prompt_tokens, batching.sequence_tokens, batching.max_concurrent_sequences) == (1155, 1155 + 512, 84)
    assert batching.roofline.bandwidth == pytest.approx(600e9 * BANDWIDTH_EFFICIENCY)
    assert batching.defaults == ()


def test_at_the_default_concurrency_an_instance_stays_under_its_roofline(ours: ScalingModel) -> None:
    capacity = instance_capacity(SimulationParameters().batching(ours), ours.concurrency_per_instance, 233, 750)
    assert 0 < capacity.tokens_per_second <= capacity.roofline_tokens_per_second
    assert capacity.largest_batch == 128  # 140,121 tokens of cache hold 140 such requests; TGI runs 128
    assert capacity.largest_batch_tokens_per_second > capacity.roofline_tokens_per_second


def test_the_calibrations_estimated_kv_budget_does_not_decide_its_figures() -> None:
    roofline = calibration.benchmark_roofline(BANDWIDTH_EFFICIENCY, COMPUTE_EFFICIENCY, PEAK_TFLOPS["NVIDIA A10G"])
    for measured in calibration.PUBLISHED:
        loops = [closed_loop(roofline, EngineLimits(tokens, 128), measured.clients, calibration.PROMPT_TOKENS,
                             calibration.NEW_TOKENS, calibration.DURATION_S) for tokens in (calibration.KV_CACHE_TOKENS, 10**9)]
        assert loops[0] == loops[1]


def test_the_simulator_sizes_a_request_as_the_construct_does(ours: ScalingModel) -> None:
    # The template's concurrency is capacity.py's rule on its own metadata: the same number from both sides.
    assert SimulationParameters().batching(ours).max_concurrent_sequences == ours.concurrency_per_instance == 84


def test_the_apis_default_budget_sizes_a_request(ours: ScalingModel) -> None:
    # A larger default budget leaves room for fewer requests: 140,122 // (1,155 + 1,024) = 64.
    batching = SimulationParameters().batching(dataclasses.replace(ours, default_new_tokens=1024))
    assert (batching.sequence_tokens, batching.max_concurrent_sequences, batching.defaults) == (2179, 64, ())
    # A model built by hand without it: the API's default, 512, named as a default.
    batching = SimulationParameters().batching(dataclasses.replace(ours, default_new_tokens=None))
    assert (batching.sequence_tokens, batching.defaults) == (1667, ("default new tokens",))


def test_a_template_without_the_typical_prompt_sizes_at_capacitys_default_within_its_max_input(ours: ScalingModel) -> None:
    # A template synthesized before TypicalPromptTokens existed: TYPICAL_PROMPT_TOKENS, named as a default.
    assert ours.capacity is not None
    older = dataclasses.replace(ours, capacity=dataclasses.replace(ours.capacity, typical_prompt_tokens=None))
    batching = SimulationParameters().batching(older)
    assert (batching.prompt_tokens, batching.defaults) == (TYPICAL_PROMPT_TOKENS, ("typical prompt tokens",))
    short = dataclasses.replace(ours, capacity=dataclasses.replace(older.capacity, max_input_tokens=1000))
    assert SimulationParameters().batching(short).prompt_tokens == 1000
