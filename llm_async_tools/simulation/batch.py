"""A batch job replayed as a closed loop (docs/design/batch-jobs.md, "State machine"; docs/simulator.md, "Batch jobs").

Every line arrives when the batch is created (t = 0). The state machine's Wake step wakes the endpoint once, at t = 0,
through the API's wake path; then the Distributed Map runs at most `max_concurrency` child workflows, each submitting
a chunk of `chunk_lines` lines straight to the endpoint (InvokeEndpointAsync, no wake) and then checking them every
`poll_s` (the child's Wait): a chunk is seen done at the first check after its last line finished (or expired), and
the Map then starts the next chunk. So at most max_concurrency × chunk_lines lines are ever in SageMaker's queue.

Not modelled: Validate's and Finalize's time, Lambda and Step Functions latency (a chunk's lines are submitted at the
instant its child starts), throttled submissions and their retries, the completion window (the run stops at the
state machine's timeout, the longest window + 1 h, with lines unfinished if any).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llm_async.batch.config import BatchConfig, derived_max_concurrency, poll_interval_s
from llm_async_tools.cfn_template import read_map_settings
from llm_async_tools.simulation.endpoint import Request
from llm_async_tools.simulation.engine import Feed, SimulationResult, simulate
from llm_async_tools.simulation.model import ScalingModel
from llm_async_tools.simulation.parameters import SimulationParameters


@dataclass(frozen=True)
class BatchShape:
    lines: int
    chunk_lines: int
    max_concurrency: int
    poll_s: float
    prompt_tokens: float
    output_tokens: float
    source: str
    """Where chunk_lines, max_concurrency and poll_s came from: the template's state machine, or BatchConfig's defaults."""

    @property
    def in_flight_bound(self) -> int:
        return self.max_concurrency * self.chunk_lines


def batch_shape(template: dict[str, Any], model: ScalingModel, *, lines: int, prompt_tokens: float, output_tokens: float,
                chunk_lines: int | None = None, max_concurrency: int | None = None) -> BatchShape:
    """The batch to replay: the options given, else the template's Map, else BatchConfig's defaults (max_concurrency
    derived from the template's max capacity and concurrency as DeploymentConfig does)."""
    settings = read_map_settings(template)
    defaults = BatchConfig()
    if settings is not None:
        chunk = chunk_lines or settings.chunk_lines
        concurrency = max_concurrency or settings.max_concurrency
        poll, source = settings.poll_s, "template"
    else:
        chunk = chunk_lines or defaults.chunk_lines
        concurrency = max_concurrency or derived_max_concurrency(model.max_capacity * model.concurrency_per_instance, chunk)
        poll, source = poll_interval_s(defaults.longest_window_s), "BatchConfig defaults (the template has no batch state machine)"
    return BatchShape(lines, chunk, concurrency, poll, prompt_tokens, output_tokens, source)


@dataclass(eq=False)
class _Chunk:
    lines: list[Request]
    submitted_s: float | None = None
    seen_done_s: float | None = None

    @property
    def finished(self) -> bool:
        return all(r.finished_s is not None or r.expired for r in self.lines)


@dataclass(eq=False)
class BatchReplay:
    """The Distributed Map as the engine's closed loop (engine.ClosedLoop)."""

    shape: BatchShape
    requests: list[Request] = field(init=False)
    chunks: list[_Chunk] = field(init=False)
    horizon_s: float = field(init=False)
    in_flight: int = 0
    """Lines of chunks whose child workflow has not ended."""
    peak_in_flight: int = 0

    def __post_init__(self) -> None:
        shape = self.shape
        self.requests = [Request(i, 0.0, shape.prompt_tokens, shape.output_tokens) for i in range(shape.lines)]
        self.chunks = [_Chunk(self.requests[i:i + shape.chunk_lines])
                       for i in range(0, shape.lines, shape.chunk_lines)]
        self._next = 0
        self.horizon_s = BatchConfig().run_s

    @property
    def done(self) -> bool:
        return all(c.seen_done_s is not None for c in self.chunks)

    def start(self, now: float) -> Feed:
        return self._submit(now, self.shape.max_concurrency)

    def poll(self, now: float, payload: object) -> Feed:
        chunk = payload
        assert isinstance(chunk, _Chunk)
        if not chunk.finished:
            return [], [(now + self.shape.poll_s, chunk)]
        chunk.seen_done_s = now
        self.in_flight -= len(chunk.lines)
        return self._submit(now, 1)

    def _submit(self, now: float, children: int) -> Feed:
        arrivals: list[Request] = []
        polls: list[tuple[float, object]] = []
        for chunk in self.chunks[self._next:self._next + children]:
            chunk.submitted_s = now
            arrivals += chunk.lines
            polls.append((now + self.shape.poll_s, chunk))
            self.in_flight += len(chunk.lines)
        self._next += len(polls)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return arrivals, polls


@dataclass(frozen=True)
class BatchResult:
    shape: BatchShape
    simulation: SimulationResult
    makespan_s: float | None
    """Batch created (t = 0) to its last line done; None if a line never finished (expired or past the horizon)."""
    completed: int
    expired: int
    unfinished: int
    """Lines neither done nor expired when the run stopped (at the state machine's timeout)."""
    peak_backlog: int
    """The endpoint's largest backlog (queued + running) at any instant."""
    peak_in_flight: int
    """The largest count of lines in open child workflows."""
    wakes: int
    chunk_submissions: tuple[float, ...]
    """When each chunk was submitted."""
    chunk_seen_done: tuple[float | None, ...]
    """When each chunk's child saw it done (None: never)."""

    @property
    def lines_per_s(self) -> float | None:
        return None if not self.makespan_s else self.completed / self.makespan_s

    @property
    def gpu_hours(self) -> float:
        return self.simulation.gpu_hours

    @property
    def peak_instances(self) -> int:
        return max(self.simulation.instances_per_minute, default=0)


def replay_batch(model: ScalingModel, shape: BatchShape, params: SimulationParameters, *, start: datetime) -> BatchResult:
    replay = BatchReplay(shape)
    result = simulate(model, [], params, start=start, closed_loop=replay)
    requests = replay.requests
    finished = [r.finished_s for r in requests if r.finished_s is not None]
    expired = sum(1 for r in requests if r.expired)
    return BatchResult(
        shape=shape,
        simulation=result,
        makespan_s=max(finished) if len(finished) == len(requests) else None,
        completed=len(finished),
        expired=expired,
        unfinished=len(requests) - len(finished) - expired,
        peak_backlog=max(result.backlog_per_minute, default=0),
        peak_in_flight=replay.peak_in_flight,
        wakes=result.wakes,
        chunk_submissions=tuple(c.submitted_s for c in replay.chunks if c.submitted_s is not None),
        chunk_seen_done=tuple(c.seen_done_s for c in replay.chunks),
    )


def batch_fields(batch: BatchResult) -> dict[str, Any]:
    """The JSON object of a batch replay, keys in the order docs/simulator.md lists them."""
    shape, result = batch.shape, batch.simulation
    lines_per_s = batch.lines_per_s
    return {
        "lines": shape.lines,
        "chunk_lines": shape.chunk_lines,
        "max_concurrency": shape.max_concurrency,
        "in_flight_bound": shape.in_flight_bound,
        "poll_s": shape.poll_s,
        "prompt_tokens": shape.prompt_tokens,
        "output_tokens": round(shape.output_tokens, 1),
        "source": shape.source,
        "gpu_hours": round(result.gpu_hours, 3),
        "cost_usd": round(result.cost_usd, 2),
        "makespan_s": None if batch.makespan_s is None else round(batch.makespan_s, 1),
        "lines_per_s": None if lines_per_s is None else round(lines_per_s, 2),
        "completed": batch.completed,
        "expired": batch.expired,
        "unfinished": batch.unfinished,
        "peak_backlog": batch.peak_backlog,
        "peak_in_flight": batch.peak_in_flight,
        "wakes": batch.wakes,
        "scale_events": result.scale_events,
        "peak_instances": batch.peak_instances,
        "end_s": round(result.end_s, 1),
    }


def describe_batch(batch: BatchResult, usd_per_hour: float) -> str:
    shape = batch.shape
    makespan = "never (lines left)" if batch.makespan_s is None else f"{batch.makespan_s:,.0f} s ({batch.makespan_s / 3600:.2f} h)"
    rate = "–" if batch.lines_per_s is None else f"{batch.lines_per_s:.2f}"
    return "\n".join([
        f"batch: {shape.lines:,} lines of {shape.prompt_tokens:g} prompt + {shape.output_tokens:.0f} output tokens,"
        f" chunks of {shape.chunk_lines}, at most {shape.max_concurrency} at once"
        f" (≤ {shape.in_flight_bound:,} lines in flight), checked every {shape.poll_s:g} s; from {shape.source}",
        f"GPU-hours {batch.gpu_hours:.3f} (${batch.gpu_hours * usd_per_hour:.2f} at ${usd_per_hour:g}/h, until the endpoint is"
        f" back at its minimum capacity at {batch.simulation.end_s:,.0f} s)",
        f"makespan {makespan}, {rate} lines/s",
        f"completed {batch.completed:,}, expired {batch.expired}, unfinished {batch.unfinished}",
        f"peak backlog {batch.peak_backlog:,}, peak lines in flight {batch.peak_in_flight:,}, wakes {batch.wakes},"
        f" scale events {batch.simulation.scale_events}, peak instances {batch.peak_instances}",
    ])
