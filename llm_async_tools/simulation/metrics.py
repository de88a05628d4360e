"""CloudWatch's one-minute view of the async metrics, computed from the simulated queue and instances.

SageMaker defines (async inference monitoring guide): ApproximateBacklogSize = requests queued or being
processed; ApproximateBacklogSizePerInstance = that divided by the instance count; HasBacklogWithoutCapacity
= 1 while requests wait and no instance is behind the endpoint. The instance count comes from the host metric
CPUUtilization (/aws/sagemaker/Endpoints, EndpointName and VariantName): its per-minute SampleCount is one sample
per instance in service, and there is no datapoint while no instance serves (one still starting reports nothing).
Assumptions, documented in docs/simulator.md: the per-minute Average is time-weighted, Maximum/Minimum are the
extremes within the minute, the per-instance figure divides by in-service instances (at least 1, so a backlog at
zero instances shows as itself), an instance in service at any moment of a minute reports that minute's sample
(the SampleCount is the peak in service within the minute), and minutes before the trace are idle.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_async_tools.simulation.expressions import evaluate
from llm_async_tools.simulation.model import ASYNC_METRICS, MetricMath, MetricQuery

IDLE_METRICS = ("zero", "missing")


@dataclass(frozen=True)
class MinuteStats:
    average: float
    maximum: float
    minimum: float


def _values(backlog: int, in_service: int) -> tuple[float, float, float]:
    """The instantaneous values of ASYNC_METRICS, in that order."""
    return float(backlog), backlog / max(in_service, 1), 1.0 if backlog > 0 and in_service == 0 else 0.0


class MetricRecorder:
    """Accumulates each minute's statistics; `observe` is called after every change of backlog or instances.

    `idle_metrics` says what SageMaker publishes for a minute without any backlog: "zero" (a datapoint of 0)
    or "missing" (no datapoint, so TreatMissingData and FILL decide).
    """

    def __init__(self, *, idle_metrics: str, in_service: int) -> None:
        self._idle_metrics = idle_metrics
        self._minutes: list[dict[str, MinuteStats] | None] = []
        self._datapoints: dict[tuple[MetricQuery, int], float | None] = {}
        self.backlog_max: list[int] = []
        self.in_service_max: list[int] = []
        idle = _values(0, in_service)
        self._idle = None if idle_metrics == "missing" else {n: MinuteStats(v, v, v) for n, v in zip(ASYNC_METRICS, idle)}
        self._time = 0.0
        self._backlog, self._in_service = 0, in_service
        self._initial_in_service = in_service
        self._reset()

    def _reset(self) -> None:
        values = _values(self._backlog, self._in_service)
        self._integral = [0.0] * len(values)
        self._max = list(values)
        self._min = list(values)
        self._had_backlog = self._backlog > 0
        self._peak_backlog = self._backlog
        self._peak_in_service = self._in_service

    def observe(self, now: float, backlog: int, in_service: int) -> None:
        self.advance(now)
        self._backlog, self._in_service = backlog, in_service
        if now == len(self._minutes) * 60:
            # A change at the very start of a minute (a scale-in at an alarm evaluation, say) is that minute's first
            # state: what the previous minute ended with was never seen in this one.
            self._reset()
            return
        for i, value in enumerate(_values(backlog, in_service)):
            self._max[i] = max(self._max[i], value)
            self._min[i] = min(self._min[i], value)
        self._had_backlog = self._had_backlog or backlog > 0
        self._peak_backlog = max(self._peak_backlog, backlog)
        self._peak_in_service = max(self._peak_in_service, in_service)

    def advance(self, now: float) -> None:
        """Closes every minute that ends at or before `now`."""
        while now >= (len(self._minutes) + 1) * 60:
            self._integrate((len(self._minutes) + 1) * 60)
            self._close_minute()
        self._integrate(now)

    def _integrate(self, until: float) -> None:
        for i, value in enumerate(_values(self._backlog, self._in_service)):
            self._integral[i] += value * (until - self._time)
        self._time = until

    def _close_minute(self) -> None:
        stats = {
            name: MinuteStats(self._integral[i] / 60, self._max[i], self._min[i]) for i, name in enumerate(ASYNC_METRICS)
        }
        published = self._had_backlog or self._idle_metrics == "zero"
        self._minutes.append(stats if published else None)
        self.backlog_max.append(self._peak_backlog)
        self.in_service_max.append(self._peak_in_service)
        self._reset()

    def datapoint(self, query: MetricQuery | MetricMath, last_minute: int, index: int) -> float | None:
        """The query's datapoint `index` periods back from the period ending with `last_minute` (None: missing)."""
        return self._at(query, last_minute - index * (query.period_s // 60))

    def _at(self, query: MetricQuery | MetricMath, newest: int) -> float | None:
        """The datapoint of the period ending with minute `newest`."""
        key = (query, newest)
        if key not in self._datapoints:  # closed minutes never change, so neither do their datapoints
            self._datapoints[key] = self._compute(query, newest)
        return self._datapoints[key]

    def _compute(self, query: MetricQuery | MetricMath, newest: int) -> float | None:
        if isinstance(query, MetricMath):
            return evaluate(query.tree, lambda id_: self._at(query.input(id_), newest))
        minutes = range(newest - query.period_s // 60 + 1, newest + 1)
        if query.counts_instances:
            # SampleCount: one sample per instance in service per minute; no instance, no sample, no datapoint.
            samples = sum(self._instances(m) for m in minutes)
            return float(samples) if samples else None
        stats = [self._minute(m) for m in minutes]
        present = [s[query.metric_name] for s in stats if s is not None]
        if not present:
            return None
        if query.statistic == "Maximum":
            return max(s.maximum for s in present)
        if query.statistic == "Minimum":
            return min(s.minimum for s in present)
        return sum(s.average for s in present) / len(present)

    def _instances(self, minute: int) -> int:
        if minute < 0:
            return self._initial_in_service
        if minute >= len(self.in_service_max):
            raise ValueError(f"minute {minute} is not closed yet")
        return self.in_service_max[minute]

    def _minute(self, minute: int) -> dict[str, MinuteStats] | None:
        if minute < 0:
            return self._idle
        if minute >= len(self._minutes):
            raise ValueError(f"minute {minute} is not closed yet")
        return self._minutes[minute]
