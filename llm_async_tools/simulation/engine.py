"""The event loop: replays a trace through the endpoint, CloudWatch's minutes and alarms, and autoscaling.

Alarms are evaluated once a minute, `metric_lag_s` after each minute ends, on the datapoints up to that
minute; an alarm in ALARM re-runs its scaling action at every evaluation (CloudWatch does so for Application
Auto Scaling actions). With the inference API in front, the first request of a minute that finds no
instance (DescribeEndpoint: no current and no desired instance) forces the wake alarm into ALARM at once,
as lambda/inference_api/wake.py does; if the alarm is already in ALARM nothing changes.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass
from datetime import datetime

from llm_async_tools.simulation.alarms import ALARM, INSUFFICIENT_DATA, aggregate, next_state
from llm_async_tools.simulation.autoscaling import SCALE_IN_FRACTION, ApplicationAutoScaling, CapacityChange, Proposal
from llm_async_tools.simulation.endpoint import AsyncEndpoint, Request
from llm_async_tools.simulation.metrics import MetricRecorder
from llm_async_tools.simulation.model import Alarm, ScalingModel, StepPolicy, TargetTrackingPolicy
from llm_async_tools.simulation.parameters import SimulationParameters
from llm_async_tools.simulation.schedule import fire_times
from llm_async_tools.simulation.trace import TracedRequest

DAY_S = 86400
# Same-instant order: capacity arrives, work finishes or expires, then new work, then scaling decisions.
_PRIORITY = {"ready": 0, "finish": 1, "expire": 2, "arrive": 3, "schedule": 4, "evaluate": 5}
# The alarms Application Auto Scaling creates for target tracking: 3 of 3 one-minute datapoints above the
# target to scale out, 15 of 15 below 90 % of it to scale in, missing data left missing.
TARGET_TRACKING_HIGH_PERIODS = 3
TARGET_TRACKING_LOW_PERIODS = 15


@dataclass(frozen=True)
class SimulationResult:
    name: str
    usd_per_hour: float
    gpu_hours: float
    ttr_s: tuple[float, ...]
    """Time to result (arrival to result written) of every completed request, in arrival order."""
    first_ttr_s: float | None
    expired: int
    changes: tuple[CapacityChange, ...]
    end_s: float
    backlog_per_minute: tuple[int, ...]
    instances_per_minute: tuple[int, ...]

    @property
    def cost_usd(self) -> float:
        return self.gpu_hours * self.usd_per_hour

    @property
    def scale_events(self) -> int:
        return len(self.changes)


@dataclass(frozen=True)
class _Watch:
    """An alarm and what runs when it is in ALARM."""

    alarm: Alarm
    step: StepPolicy | None = None
    tracking: TargetTrackingPolicy | None = None


def horizon_s(trace: list[TracedRequest], params: SimulationParameters) -> float:
    if params.duration_s is not None:
        return params.duration_s
    return max(1, math.ceil((trace[-1].arrival_s + 1) / DAY_S)) * DAY_S


def simulate(model: ScalingModel, trace: list[TracedRequest], params: SimulationParameters, *, start: datetime) -> SimulationResult:
    rng = random.Random(params.seed)
    horizon = horizon_s(trace, params)
    events: list[tuple[float, int, int, str, object]] = []
    sequence = itertools.count()

    def schedule(time_s: float, kind: str, payload: object) -> None:
        heapq.heappush(events, (time_s, _PRIORITY[kind], next(sequence), kind, payload))

    # Jitter applies to the whole startup, not per component: no source says how provisioning, download and engine
    # start vary apart, so splitting it would invent three spreads instead of one.
    mean = params.cold_start(model).total_s

    def provisioning_s() -> float:
        if params.provisioning_jitter == 0:
            return mean
        return min(max(rng.gauss(mean, params.provisioning_jitter * mean), 0.5 * mean), 2 * mean)

    endpoint = AsyncEndpoint(
        concurrency=model.concurrency_per_instance,
        ttl_s=model.request_ttl_s,
        provisioning_s=provisioning_s,
        schedule=schedule,
        refuse_while_updating=params.refuse_while_updating,
    )
    firings = sorted((t, a) for a in model.scheduled_actions for t in fire_times(a, start, horizon))
    min_capacity, max_capacity = model.min_capacity, model.max_capacity
    for _, action in (f for f in firings if f[0] <= 0):
        min_capacity = min_capacity if action.min_capacity is None else action.min_capacity
        max_capacity = max_capacity if action.max_capacity is None else action.max_capacity
    initial = min(min_capacity, max_capacity)
    endpoint.start_serving(initial)
    scaling = ApplicationAutoScaling(
        model,
        desired=initial,
        set_capacity=endpoint.set_capacity,
        hold_scale_in_during_scale_out_cooldown=params.hold_scale_in_during_scale_out_cooldown,
    )
    scaling.min_capacity, scaling.max_capacity = min_capacity, max_capacity
    recorder = MetricRecorder(idle_metrics=params.idle_metrics, in_service=initial)
    watches = _watches(model)
    # Before the trace the endpoint has been idle: each alarm starts in the state that history gives it.
    states = {w.alarm.name: next_state(w.alarm, _datapoints(recorder, w.alarm, -1), INSUFFICIENT_DATA) for w in watches}

    requests = [
        Request(index, r.arrival_s, r.service_s or (r.tokens / params.tokens_per_second if r.tokens else params.service_s))
        for index, r in enumerate(trace)
    ]
    for request in requests:
        schedule(request.arrival_s, "arrive", request)
    for time_s, action in firings:
        if time_s > 0:
            schedule(time_s, "schedule", action)
    schedule(60 + params.metric_lag_s, "evaluate", None)

    wake = next((w for w in watches if w.alarm.name == model.wake_alarm), None) if params.api_wake else None
    last_wake_minute: int | None = None
    arrived = 0
    last_resolved = 0.0

    def observe(now: float) -> None:
        recorder.observe(now, endpoint.backlog, endpoint.in_service)

    while events:
        now, _, _, kind, payload = heapq.heappop(events)
        if now > horizon and arrived == len(requests) and endpoint.backlog == 0:
            break
        if kind == "arrive":
            arrived += 1
            endpoint.arrive(now, payload)  # type: ignore[arg-type]
            minute = int(now // 60)
            if wake is not None and minute != last_wake_minute:
                last_wake_minute = minute
                if scaling.desired == 0 and endpoint.in_service == 0 and states[wake.alarm.name] != ALARM:
                    states[wake.alarm.name] = ALARM
                    # The API's reason data carries one datapoint equal to the threshold.
                    proposal = scaling.step(wake.step, wake.alarm.threshold, now)  # type: ignore[arg-type]
                    scaling.apply([proposal] if proposal else [], now)
        elif kind == "ready":
            endpoint.instance_ready(now, payload)  # type: ignore[arg-type]
        elif kind in ("finish", "expire"):
            getattr(endpoint, kind)(now, payload)
            last_resolved = now
        elif kind == "schedule":
            scaling.set_bounds(now, min_capacity=payload.min_capacity, max_capacity=payload.max_capacity, cause=payload.name)  # type: ignore[attr-defined]
        else:
            recorder.advance(now)
            last_minute = int((now - params.metric_lag_s) // 60) - 1
            proposals = []
            for watch in watches:
                datapoints = _datapoints(recorder, watch.alarm, last_minute)
                states[watch.alarm.name] = next_state(watch.alarm, datapoints, states[watch.alarm.name])
                if states[watch.alarm.name] == ALARM:
                    proposals.append(_run(scaling, watch, datapoints, now))
            scaling.apply([p for p in proposals if p is not None], now)
            scaling.enforce_bounds(now)
            schedule(now + 60, "evaluate", None)
        observe(now)

    end_s = max(horizon, last_resolved)
    recorder.advance(end_s)
    finished = [r for r in requests if r.finished_s is not None]
    return SimulationResult(
        name=model.name,
        usd_per_hour=model.usd_per_hour,
        gpu_hours=endpoint.instance_seconds(end_s) / 3600,
        ttr_s=tuple(r.finished_s - r.arrival_s for r in finished),  # type: ignore[operator]
        first_ttr_s=(requests[0].finished_s - requests[0].arrival_s) if requests[0].finished_s is not None else None,
        expired=endpoint.expired,
        changes=tuple(scaling.changes),
        end_s=end_s,
        backlog_per_minute=tuple(recorder.backlog_max),
        instances_per_minute=tuple(recorder.in_service_max),
    )


def _watches(model: ScalingModel) -> list[_Watch]:
    watches = [_Watch(p.alarm, step=p) for p in model.step_policies]
    for policy in model.target_tracking:
        high = Alarm(f"{policy.name}-AlarmHigh", policy.query, "GreaterThanThreshold", policy.target_value,
                     TARGET_TRACKING_HIGH_PERIODS, TARGET_TRACKING_HIGH_PERIODS)
        low = Alarm(f"{policy.name}-AlarmLow", policy.query, "LessThanThreshold", SCALE_IN_FRACTION * policy.target_value,
                    TARGET_TRACKING_LOW_PERIODS, TARGET_TRACKING_LOW_PERIODS)
        watches += [_Watch(high, tracking=policy), _Watch(low, tracking=policy)]
    return watches


def _datapoints(recorder: MetricRecorder, alarm: Alarm, last_minute: int) -> list[float | None]:
    return [recorder.datapoint(alarm.query, last_minute, i) for i in range(alarm.evaluation_periods)]


def _run(scaling: ApplicationAutoScaling, watch: _Watch, datapoints: list[float | None], now: float) -> Proposal | None:
    present = [v for v in datapoints if v is not None]
    if not present:
        return None  # assumption: without a datapoint Application Auto Scaling cannot pick a step
    if watch.step is not None:
        return scaling.step(watch.step, aggregate(present, watch.step.aggregation), now)
    assert watch.tracking is not None
    return scaling.track(watch.tracking, present[0], now, scale_out=watch.alarm.scales_out)
