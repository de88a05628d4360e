"""Continuous batching on one instance: how fast each running request generates, against how many share the GPU.

The engines (TGI, vLLM) run every admitted sequence in one batch. A decode step produces one token for each running
sequence and reads, from GPU memory, the weights once plus each sequence's KV cache (its context so far); it also
computes about 2 FLOPs per parameter per sequence. So a step takes the longer of the two (the roofline):

    step = max((weights + KV bytes per token × Σ contexts) / effective bandwidth,  2 × parameters × sequences / effective FLOPS)

and per-sequence speed falls as the batch grows, while the instance's tokens/s grows almost linearly until the KV
reads or compute dominate. A new sequence's prompt is first processed in one prefill (compute-bound: 2 × parameters ×
prompt tokens FLOPs, at least one read of the weights), during which the running sequences wait: TGI runs a new
request's prefill between decode steps, as its own forward pass. The prefill produces the first output token.

Effective bandwidth = GPUs × per-GPU bandwidth (instance_types.py, NVIDIA's data sheets) × BANDWIDTH_EFFICIENCY;
effective FLOPS = GPUs × PEAK_TFLOPS × COMPUTE_EFFICIENCY. The two efficiencies are calibrated against a published
TGI benchmark on the project's default instance type (calibration.py; the figures and sources are there and in
docs/simulator.md).

An instance holds up to MaxConcurrentInvocationsPerInstance requests (SageMaker sends no more); the engine runs
those whose KV cache fits (each reserves its prompt + output tokens when admitted, so none is ever preempted) and
no more than its own limit on running sequences; the others wait inside the container in arrival order.

The arithmetic is a fluid approximation: all running sequences advance together by a real number of steps, and
the time for k steps integrates the step time as contexts grow by one token a step.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from llm_async.model.capacity import sequences_held

# Peak dense tensor throughput per GPU in the dtype the engines run these models in (bf16; fp16 on the T4, which has
# no bf16), from NVIDIA's data sheets: A10 125 TFLOPS BF16 (NVIDIA A10 Tensor Core GPU data sheet), T4 65 TFLOPS FP16
# mixed precision (NVIDIA T4 data sheet), A100 312 TFLOPS BF16 (NVIDIA A100 Tensor Core GPU data sheet). AWS publishes
# no tensor figure for its A10G; Baseten ("NVIDIA A10 vs A10G for ML model inference") reports the A10G has the A10's
# memory and bandwidth but less tensor compute. We use the A10's 125: only the product with COMPUTE_EFFICIENCY
# matters, and that product is what calibration.py fits on A10G measurements.
PEAK_TFLOPS = {"NVIDIA A10G": 125.0, "NVIDIA T4": 65.0, "NVIDIA A100": 312.0}
# Share of the data-sheet bandwidth a decode step achieves, and of the peak FLOPS a prefill achieves: fitted by
# calibration.fit() to Philipp Schmid's "Llama 2 on Amazon SageMaker a Benchmark" (Hugging Face blog, 2023-09-26;
# raw data github.com/philschmid/text-generation-inference-tests results/sagemaker.csv): Llama-2-7b-hf on
# ml.g5.2xlarge, TGI 1.0.3, 1/5/10/20 concurrent clients, 50 new tokens each. The fit reproduces each median
# request inference time within 1.5 % and each throughput within 3 % (tests/tools/simulation/test_batching.py checks
# it). 0.42 of 125 TFLOPS is 52.5 effective TFLOPS for prefill. Cross-check, not fitted: vLLM 0.23 decodes
# Llama-3.1-8B on an A100 40GB at one request "at roughly 77 % of the GPU's memory-bandwidth ceiling"
# (johnmusgrave.com, "vLLM throughput-latency sweep on NVIDIA A100"); the same efficiency is used for both engines.
BANDWIDTH_EFFICIENCY = 0.74
COMPUTE_EFFICIENCY = 0.42
BYTES_PER_PARAMETER = 2
"""bf16/fp16 weights: parameters = weight bytes / 2, for the FLOPs of a token (an estimate for quantized weights)."""
DEFAULT_PROMPT_TOKENS = 233
"""A trace row without prompt_tokens: the mean prompt of the ShareGPT sample the calibration benchmark sent
(samples.json of philschmid/text-generation-inference-tests, 1,000 prompts, 233.1 tokens on average)."""
_DONE = 1e-6
"""Steps left below which a sequence counts as finished (float rounding of the fluid arithmetic)."""


@dataclass(frozen=True)
class Roofline:
    """One instance's decode and prefill times, from bytes moved and FLOPs done."""

    weights_bytes: float
    kv_bytes_per_token: float
    bandwidth: float
    """Effective bytes/s: GPUs × per-GPU bandwidth × BANDWIDTH_EFFICIENCY."""
    flops: float
    """Effective FLOP/s: GPUs × peak × COMPUTE_EFFICIENCY."""

    @property
    def flops_per_token(self) -> float:
        return 2 * self.weights_bytes / BYTES_PER_PARAMETER

    def step_s(self, sequences: int, context_tokens: float) -> float:
        """One decode step of `sequences` sequences holding `context_tokens` tokens of KV cache in all."""
        memory = (self.weights_bytes + self.kv_bytes_per_token * context_tokens) / self.bandwidth
        return max(memory, self.flops_per_token * sequences / self.flops)

    def prefill_s(self, prompt_tokens: float) -> float:
        """One forward pass over the prompts: their FLOPs, at least one read of the weights."""
        return max(self.flops_per_token * prompt_tokens / self.flops, self.weights_bytes / self.bandwidth)

    def tokens_per_second(self, sequences: int, context_per_sequence: float) -> float:
        """The instance's decode rate (prefill aside) with `sequences` running at that context each."""
        return sequences / self.step_s(sequences, sequences * context_per_sequence)

    def _steps(self, sequences: int, context_tokens: float) -> tuple[float, float, float]:
        """(a, b, c): a step at x steps from now takes max(c, a + b·x); contexts grow by `sequences` tokens a step."""
        a = (self.weights_bytes + self.kv_bytes_per_token * context_tokens) / self.bandwidth
        return a, self.kv_bytes_per_token * sequences / self.bandwidth, self.flops_per_token * sequences / self.flops

    def steps_time(self, sequences: int, context_tokens: float, steps: float) -> float:
        """Seconds for `steps` decode steps from a batch whose contexts total `context_tokens`."""
        a, b, c = self._steps(sequences, context_tokens)
        # Compute-bound while a + b·x < c, memory-bound after (the KV reads only grow).
        cross = min(max((c - a) / b, 0.0), steps) if c > a else 0.0
        return c * cross + a * (steps - cross) + b * (steps**2 - cross**2) / 2

    def steps_within(self, sequences: int, context_tokens: float, seconds: float) -> float:
        """The (fractional) decode steps that fit in `seconds`: steps_time's inverse."""
        if seconds <= 0:
            return 0.0
        a, b, c = self._steps(sequences, context_tokens)
        cross = max((c - a) / b, 0.0) if c > a else 0.0
        if seconds <= c * cross:
            return seconds / c
        rest = seconds - c * cross + a * cross + b * cross**2 / 2
        return (-a + math.sqrt(a * a + 2 * b * rest)) / b

    def output_tokens_alone(self, service_s: float, prompt_tokens: float) -> float:
        """The output tokens a request generates in `service_s` alone on an idle instance (at least the prefill's one)."""
        decoding = service_s - self.prefill_s(prompt_tokens)
        return 1.0 + (self.steps_within(1, prompt_tokens + 1, decoding) if decoding > 0 else 0.0)

    def alone_s(self, prompt_tokens: float, output_tokens: float) -> float:
        """A request's time alone on an idle instance: prefill, then one decode step per further token."""
        return self.prefill_s(prompt_tokens) + self.steps_time(1, prompt_tokens + 1, max(output_tokens - 1, 0.0))


@dataclass(frozen=True)
class EngineLimits:
    kv_cache_tokens: int
    """Tokens the KV cache holds on the instance (KV cache bytes ÷ KV bytes per token)."""
    max_running: int
    """The engine's own cap on running sequences (TGI's max concurrent requests, vLLM's max_num_seqs)."""


class Job(Protocol):
    """What a batch runs: a request's prompt and output sizes."""

    prompt_tokens: float
    output_tokens: float


@dataclass
class Running:
    """A job the engine has admitted: in its prefill, or decoding."""

    job: Job
    admitted_s: float
    remaining: float
    """Decode steps still to run."""
    context: float
    """Tokens in its KV cache now."""
    reserved: float
    """KV tokens reserved for it when admitted: prompt + output."""


@dataclass
class InstanceBatch:
    """The engine on one instance: requests waiting, one prefill at a time, the decoding batch."""

    roofline: Roofline
    limits: EngineLimits
    clock: float = 0.0
    waiting: deque[Job] = field(default_factory=deque)
    prefilling: list[Running] = field(default_factory=list)
    prefill_end: float | None = None
    decoding: list[Running] = field(default_factory=list)
    reserved: float = 0.0
    tokens: float = 0.0
    """Output tokens generated so far (prefills' first tokens included)."""
    version: int = 0
    """Bumped at every change: a scheduled progress event of an older version is stale."""

    def add(self, now: float, job: Job) -> None:
        self.advance(now)
        self.waiting.append(job)
        self._start_prefill(now)

    def next_event_s(self) -> float | None:
        """When a prefill ends or the first running sequence finishes, as things stand."""
        if self.prefill_end is not None:
            return self.prefill_end
        if not self.decoding:
            return None
        steps = min(s.remaining for s in self.decoding)
        return self.clock + self.roofline.steps_time(len(self.decoding), self._context(), steps)

    def progress(self, now: float) -> list[Running]:
        """Advances to `now` and returns what finished; starts the next prefill if one can start."""
        self.advance(now)
        finished: list[Running] = []
        if self.prefill_end is not None and now >= self.prefill_end:
            self.tokens += len(self.prefilling)
            self.decoding.extend(self.prefilling)
            self.prefilling, self.prefill_end = [], None
        for sequence in [s for s in self.decoding if s.remaining <= _DONE]:
            self.decoding.remove(sequence)
            self.reserved -= sequence.reserved
            finished.append(sequence)
        self._start_prefill(now)
        return finished

    def advance(self, now: float) -> None:
        """Runs the decode batch from the clock to `now` (nothing decodes while a prefill runs)."""
        if self.prefill_end is None and self.decoding and now > self.clock:
            count = len(self.decoding)
            steps = self.roofline.steps_within(count, self._context(), now - self.clock)
            steps = min(steps, min(s.remaining for s in self.decoding))
            for sequence in self.decoding:
                sequence.remaining -= steps
                sequence.context += steps
            self.tokens += steps * count
        self.clock = max(self.clock, now)

    @property
    def running(self) -> int:
        return len(self.decoding) + len(self.prefilling)

    def _context(self) -> float:
        return sum(s.context for s in self.decoding)

    def _start_prefill(self, now: float) -> None:
        if self.prefill_end is not None:
            return
        admitted: list[Running] = []
        while self.waiting and self.running + len(admitted) < self.limits.max_running:
            job = self.waiting[0]
            need = job.prompt_tokens + job.output_tokens
            # A request larger than the whole cache still runs, alone: the API's token limits keep that from
            # happening on a template whose concurrency was derived from the cache.
            alone = self.running == 0 and not admitted
            if self.reserved + need > self.limits.kv_cache_tokens and not alone:
                break
            self.waiting.popleft()
            self.reserved += need
            admitted.append(Running(job, now, max(job.output_tokens - 1, 0.0), job.prompt_tokens + 1, need))
        if admitted:
            self.prefilling = admitted
            self.prefill_end = now + self.roofline.prefill_s(sum(s.job.prompt_tokens for s in admitted))


@dataclass(frozen=True)
class Batching:
    """What one instance of a deployment can batch: its roofline and its engine's limits."""

    roofline: Roofline
    limits: EngineLimits
    prompt_tokens: int
    """The typical prompt the construct sizes a request at (llm_async/model/capacity.py)."""
    new_tokens: int
    """The API's default budget of new tokens, the rest of that request."""
    defaults: tuple[str, ...] = ()
    """Inputs the template did not give (its LlmAsync::Capacity metadata, the API's default budget), taken from the
    default preset and the API's default."""

    @property
    def sequence_tokens(self) -> int:
        """The KV room of the request the construct's concurrency is sized at: a typical prompt and the budget."""
        return self.prompt_tokens + self.new_tokens

    @property
    def max_concurrent_sequences(self) -> int:
        """Requests of `sequence_tokens` the KV cache holds at once, at most the engine's limit (the construct's rule)."""
        return sequences_held(self.limits.kv_cache_tokens, self.sequence_tokens, self.limits.max_running)

    def largest_batch(self, tokens_per_sequence: float) -> int:
        """The most sequences of that final size (prompt + output) the KV cache and the engine run at once."""
        return max(min(int(self.limits.kv_cache_tokens // tokens_per_sequence), self.limits.max_running), 1)

    def new_batch(self) -> InstanceBatch:
        return InstanceBatch(self.roofline, self.limits)


@dataclass(frozen=True)
class LoopResult:
    inference_median_s: float
    """Median of admission (prefill start) to last token, as TGI's x-inference-time measures it."""
    tokens_per_second: float
    """Output tokens of the requests finished within the run, over its duration."""
    requests: int


@dataclass
class _LoopRequest:
    prompt_tokens: float
    output_tokens: float


def closed_loop(roofline: Roofline, limits: EngineLimits, clients: int, prompts: Sequence[float], output_tokens: float,
                duration_s: float) -> LoopResult:
    """`clients` users on one instance, each sending its next request the moment its last one finished (prompts in
    turn from `prompts`), for `duration_s`: a load test's constant virtual users, and an instance whose every slot
    is busy."""
    batch = InstanceBatch(roofline, limits)
    sizes = itertools.cycle(prompts)
    inference: list[float] = []
    generated = 0.0
    for _ in range(clients):
        batch.add(0.0, _LoopRequest(next(sizes), output_tokens))
    while (now := batch.next_event_s()) is not None and now <= duration_s:
        for done in batch.progress(now):
            inference.append(now - done.admitted_s)
            generated += done.job.output_tokens
            batch.add(now, _LoopRequest(next(sizes), output_tokens))
    return LoopResult(statistics.median(inference) if inference else math.nan, generated / duration_s, len(inference))


SATURATION_S = 3600.0
"""Simulated seconds of the closed loop that measures an instance with every slot busy (hundreds of requests)."""


@dataclass(frozen=True)
class InstanceCapacity:
    """What one instance delivers for a request shape: at the deployment's concurrency, and at the most it could batch."""

    concurrency: int
    prompt_tokens: float
    output_tokens: float
    tokens_per_second: float
    """Simulated: every one of `concurrency` slots busy, prefills included."""
    roofline_tokens_per_second: float
    """Decode alone at `concurrency` sequences of the mean context: what the roofline allows at that concurrency."""
    largest_batch: int
    """Sequences of this size (prompt + output) the KV cache and the engine's limit let run at once."""
    largest_batch_tokens_per_second: float
    """Decode alone at the largest batch: what the instance could reach."""


def instance_capacity(batching: Batching, concurrency: int, prompt_tokens: float, output_tokens: float) -> InstanceCapacity:
    roofline = batching.roofline
    context = prompt_tokens + 1 + max(output_tokens - 1, 0.0) / 2  # a sequence's mean context over its decode
    loop = closed_loop(roofline, batching.limits, concurrency, [prompt_tokens], output_tokens, SATURATION_S)
    largest = batching.largest_batch(prompt_tokens + output_tokens)
    return InstanceCapacity(
        concurrency=concurrency,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        tokens_per_second=loop.tokens_per_second,
        roofline_tokens_per_second=roofline.tokens_per_second(min(concurrency, largest), context),
        largest_batch=largest,
        largest_batch_tokens_per_second=roofline.tokens_per_second(largest, context),
    )
