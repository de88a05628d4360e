"""--sweep: our policy over a range of idle windows on the user's trace, and the window to deploy.

The idle window is the idle alarm's EvaluationPeriods (ScalingConfig.idle_minutes_before_scale_in): how many empty
minutes, M of M, before capacity goes to its minimum. Each candidate replays the trace with that alarm changed and
nothing else.

The recommendation starts from ski rental: staying warm is renting, a cold start is buying. Keeping an instance for
as long as a cold start costs before giving it up costs at most twice what perfect foresight would pay, whatever the
arrivals (Karlin, Manasse, Rudolph and Sleator, "Competitive snoopy caching", 1988, the rent-or-buy argument). An
instance is billed from launch, so a cold start costs its own duration in instance-seconds; an idle window of W
minutes keeps an instance about W × 60 s + MINUTE_BOUNDARY_S + the metric lag after its last request
(`keep_alive_s`). The ski-rental window is the shortest whose keep-alive covers a cold start.

Where the trace's history can do better it is used, as Shahrad et al. do ("Serverless in the Wild: Characterizing
and Optimizing the Serverless Workload at a Large Cloud Provider", USENIX ATC '20: a histogram of each application's
idle times sets its keep-alive, with a fixed keep-alive when the histogram is not representative): with the trace's
idle gaps, the rent-or-buy cost of window W is Σ over gaps of (gap if it fits in the keep-alive, else keep-alive +
cold start), and the histogram's window is the one that minimizes it. It is recommended instead of ski rental only
if the trace has at least MIN_GAPS gaps and the replay confirms it: fewer GPU-hours, no worse p95 time to result and
no more expired requests than the ski-rental window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.bound import idle_gaps
from llm_async_tools.simulation.engine import SimulationResult, simulate, work_of
from llm_async_tools.simulation.model import Alarm, ScalingModel, StepPolicy
from llm_async_tools.simulation.parameters import SimulationParameters
from llm_async_tools.simulation.report import percentile
from llm_async_tools.simulation.trace import TracedRequest

IDLE_WINDOWS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 60)
"""Minutes tried: the construct takes 1–60 (ScalingConfig validation)."""
MINUTE_BOUNDARY_S = 30.0
"""The idle alarm counts whole one-minute periods, and the minute in which the last request finishes is not idle: the
window's first minute starts at the next boundary, half a minute later on average. In the simulator a lone request's
keep-alive with a 3-minute window and the 60 s lag spans 240–296 s over its arrival's offset in the minute, 268 s on
average (tests/tools/simulation/test_sweep.py)."""
MIN_GAPS = 10
"""Idle gaps a trace needs before its histogram is trusted over ski rental: an estimate (no source gives a number for
this use); with fewer, one gap more or less moves the histogram's choice."""


@dataclass(frozen=True)
class SweepRow:
    idle_minutes: int
    result: SimulationResult
    rent_or_buy_hours: float
    """The histogram's cost model of this window: keep-alive and cold starts over the trace's idle gaps."""
    cold_starts: int
    """Idle gaps longer than this window's keep-alive."""

    @property
    def p95_s(self) -> float | None:
        return percentile(self.result.ttr_s, 0.95)


@dataclass(frozen=True)
class Recommendation:
    idle_minutes: int
    ski_rental_minutes: int
    histogram_minutes: int | None
    """The histogram's cost-minimizing window; None when the trace has too few idle gaps."""
    reason: str
    gaps: int
    cold_start_s: float
    keep_alive_extra_s: float
    """Seconds an instance stays beyond its window's minutes: the metric lag and MINUTE_BOUNDARY_S."""
    minimum_minutes: int
    """The shortest window the construct accepts with this template (above the gradual scale-in's minutes)."""


def idle_policy(model: ScalingModel) -> StepPolicy:
    """The idle scale-in: the step policy whose exact capacity is 0 (clamped to the minimum)."""
    found = [p for p in model.step_policies if p.adjustment_type == "ExactCapacity" and any(s.scaling_adjustment == 0 for s in p.steps)]
    if len(found) != 1:
        raise TemplateError(f"the template has {len(found)} idle scale-in policies (ExactCapacity 0), --sweep needs exactly one")
    return found[0]


def with_idle_minutes(model: ScalingModel, minutes: int) -> ScalingModel:
    """The model with the idle alarm's window set to `minutes` (M of M, as the construct writes it)."""
    return with_alarm_minutes(model, [idle_policy(model)], minutes)


def with_alarm_minutes(model: ScalingModel, policies: Sequence[StepPolicy], minutes: int) -> ScalingModel:
    """The model with the alarms of `policies` (some of its step policies) evaluating `minutes` minutes: M of M stays
    M of M, an N of M alarm keeps N (at most `minutes`)."""

    def windowed(alarm: Alarm) -> Alarm:
        every = alarm.datapoints_to_alarm == alarm.evaluation_periods
        return replace(alarm, evaluation_periods=minutes,
                       datapoints_to_alarm=minutes if every else min(alarm.datapoints_to_alarm, minutes))

    chosen = {id(p) for p in policies}
    return replace(model, step_policies=tuple(replace(p, alarm=windowed(p.alarm)) if id(p) in chosen else p
                                              for p in model.step_policies))


def minimum_window(model: ScalingModel) -> int:
    """The construct refuses an idle window that is not longer than the gradual scale-in's (scale_in_minutes)."""
    idle = idle_policy(model)
    gradual = [p.alarm.evaluation_periods for p in model.step_policies
               if p is not idle and p.adjustment_type == "ExactCapacity" and not p.alarm.scales_out]
    return max(gradual, default=0) + 1


def keep_alive_s(minutes: int, lag_s: float) -> float:
    """About how long an instance stays after its last request with an idle window of `minutes` (the mean over where
    in the minute the request finishes)."""
    return minutes * 60 + MINUTE_BOUNDARY_S + lag_s


def rent_or_buy(gaps: Sequence[float], keep_alive_s: float, cold_start_s: float) -> tuple[float, int]:
    """(instance-seconds, cold starts) over the gaps: a gap within the keep-alive is paid in full, a longer one
    costs the keep-alive and then a cold start."""
    seconds, colds = 0.0, 0
    for gap in gaps:
        if gap <= keep_alive_s:
            seconds += gap
        else:
            seconds += keep_alive_s + cold_start_s
            colds += 1
    return seconds, colds


def sweep(model: ScalingModel, trace: list[TracedRequest], params: SimulationParameters, *, start: datetime,
          windows: Sequence[int] = IDLE_WINDOWS) -> tuple[list[SweepRow], Recommendation]:
    cold_s = params.cold_start(model).total_s
    batching = params.batching(model)
    gaps = idle_gaps([work_of(r, params, batching) for r in trace], batching)
    rows = []
    for minutes in windows:
        seconds, colds = rent_or_buy(gaps, keep_alive_s(minutes, params.metric_lag_s), cold_s)
        result = simulate(replace(with_idle_minutes(model, minutes), name=f"idle {minutes} min"), trace, params, start=start)
        rows.append(SweepRow(minutes, result, seconds / 3600, colds))
    return rows, recommend(rows, len(gaps), cold_s, params.metric_lag_s, minimum_window(model))


def recommend(rows: Sequence[SweepRow], gaps: int, cold_start_s: float, lag_s: float, minimum: int) -> Recommendation:
    allowed = [r for r in rows if r.idle_minutes >= minimum] or [max(rows, key=lambda r: r.idle_minutes)]
    extra_s = keep_alive_s(0, lag_s)
    ski_minutes = max(minimum, 1, math.ceil((cold_start_s - extra_s) / 60))
    ski = min((r for r in allowed if r.idle_minutes >= ski_minutes), key=lambda r: r.idle_minutes, default=allowed[-1])
    # Ties go to the longer window: the same cost with fewer cold starts.
    histogram = min(allowed, key=lambda r: (round(r.rent_or_buy_hours, 9), -r.idle_minutes))
    base = dict(ski_rental_minutes=ski.idle_minutes, gaps=gaps, cold_start_s=cold_start_s, keep_alive_extra_s=extra_s,
                minimum_minutes=minimum)
    if gaps < MIN_GAPS:
        return Recommendation(ski.idle_minutes, histogram_minutes=None,
                              reason=f"{gaps} idle gaps (< {MIN_GAPS}): too few for the histogram, so ski rental", **base)
    if histogram.idle_minutes == ski.idle_minutes:
        return Recommendation(ski.idle_minutes, histogram_minutes=histogram.idle_minutes,
                              reason="the histogram agrees with ski rental", **base)
    better = (
        histogram.result.gpu_hours < ski.result.gpu_hours
        and (histogram.p95_s or 0.0) <= (ski.p95_s or 0.0)
        and histogram.result.expired <= ski.result.expired
    )
    if better:
        reason = (f"the histogram's window replays cheaper ({histogram.result.gpu_hours:.2f} against"
                  f" {ski.result.gpu_hours:.2f} GPU h) at no worse p95 ({_s(histogram.p95_s)} against {_s(ski.p95_s)})")
        return Recommendation(histogram.idle_minutes, histogram_minutes=histogram.idle_minutes, reason=reason, **base)
    reason = (f"the histogram's {histogram.idle_minutes} min replays at {histogram.result.gpu_hours:.2f} GPU h, p95"
              f" {_s(histogram.p95_s)}, {histogram.result.expired} expired, against ski rental's {ski.result.gpu_hours:.2f}"
              f" GPU h, p95 {_s(ski.p95_s)}, {ski.result.expired} expired: not better, so ski rental")
    return Recommendation(ski.idle_minutes, histogram_minutes=histogram.idle_minutes, reason=reason, **base)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def render_sweep(rows: Sequence[SweepRow], recommendation: Recommendation) -> str:
    header = ["idle min", "GPU h", "cost $", "TTR p95 s", "first s", "expired", "scale events", "rent-or-buy h", "cold starts"]
    body = []
    for row in rows:
        result = row.result
        mark = " ←" if row.idle_minutes == recommendation.idle_minutes else ""
        body.append([f"{row.idle_minutes}{mark}", f"{result.gpu_hours:.2f}", f"{result.cost_usd:.2f}",
                     "–" if row.p95_s is None else f"{row.p95_s:.0f}",
                     "–" if result.first_ttr_s is None else f"{result.first_ttr_s:.0f}",
                     str(result.expired), str(result.scale_events), f"{row.rent_or_buy_hours:.2f}", str(row.cold_starts)])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip()
             for line in [header, *body]]
    r = recommendation
    histogram = "–" if r.histogram_minutes is None else f"{r.histogram_minutes} min"
    lines += [
        f"ski rental: {r.ski_rental_minutes} min (the shortest window whose keep-alive, window + {r.keep_alive_extra_s:.0f} s"
        f" of metric lag and wait for a whole idle minute, covers the {r.cold_start_s:.0f} s cold start; at most 2× the"
        " offline cost whatever the arrivals)",
        f"histogram: {histogram} (the window that minimizes keep-alive + cold starts over the trace's {r.gaps} idle gaps;"
        " Shahrad et al., USENIX ATC '20)",
        f"why: {r.reason}" + (f"; the construct needs more than the gradual scale-in's {r.minimum_minutes - 1} min"
                              if r.minimum_minutes > 1 else ""),
        f"recommended idle_minutes_before_scale_in = {r.idle_minutes}",
    ]
    return "\n".join(lines)


def sweep_json(rows: Sequence[SweepRow], recommendation: Recommendation) -> dict[str, object]:
    r = recommendation
    return {
        "sweep": [
            {"idle_minutes": row.idle_minutes, "gpu_hours": round(row.result.gpu_hours, 3), "cost_usd": round(row.result.cost_usd, 2),
             "ttr_p95_s": None if row.p95_s is None else round(row.p95_s, 1),
             "first_result_s": None if row.result.first_ttr_s is None else round(row.result.first_ttr_s, 1),
             "expired": row.result.expired, "scale_events": row.result.scale_events,
             "rent_or_buy_hours": round(row.rent_or_buy_hours, 3), "cold_starts": row.cold_starts}
            for row in rows
        ],
        "recommendation": {"idle_minutes_before_scale_in": r.idle_minutes, "ski_rental_minutes": r.ski_rental_minutes,
                           "histogram_minutes": r.histogram_minutes, "idle_gaps": r.gaps, "cold_start_s": round(r.cold_start_s, 1),
                           "minimum_minutes": r.minimum_minutes, "reason": r.reason},
    }
