"""When Application Auto Scaling's scheduled actions fire, as seconds from the trace's start.

Schedules are `cron(Minutes Hours Day-of-month Month Day-of-week Year)` or `at(yyyy-mm-ddThh:mm:ss)` in the
action's IANA time zone (Application Auto Scaling user guide, "Scheduled scaling"). `rate()` starts from the
moment the action was created, which a template does not say, so it is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from llm_async_tools.cfn_template import TemplateError
from llm_async_tools.simulation.model import ScheduledAction

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
# Cron day-of-week: 1 = SUN … 7 = SAT.
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
# How far back to look for the action in force when the trace starts (weekly schedules repeat within 7 days).
LOOKBACK_DAYS = 8


def fire_times(action: ScheduledAction, start: datetime, horizon_s: float) -> list[float]:
    """Every firing in [start − LOOKBACK_DAYS, start + horizon_s], in seconds from `start` (negative: before it)."""
    zone = ZoneInfo(action.timezone)
    expression = action.schedule.strip()
    if expression.startswith("at(") and expression.endswith(")"):
        when = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=zone)
        return [(when - start).total_seconds()]
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise TemplateError(f"scheduled action {action.name} has schedule {expression!r}; the simulator models cron() and at()")
    fields = expression[5:-1].split()
    if len(fields) != 6:
        raise TemplateError(f"scheduled action {action.name}: cron needs 6 fields, got {expression!r}")
    minutes, hours, days_of_month, months, days_of_week, years = (
        _field(action.name, f, low, high, names)
        for f, (low, high, names) in zip(
            fields, ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (1, 7, _DAYS), (1970, 2199, {}))
        )
    )
    local_start = start.astimezone(zone)
    day = (local_start - timedelta(days=LOOKBACK_DAYS)).date()
    last_day = (local_start + timedelta(seconds=horizon_s)).date()
    times = []
    while day <= last_day:
        cron_weekday = day.isoweekday() % 7 + 1  # isoweekday: MON=1 … SUN=7
        if day.day in days_of_month and day.month in months and cron_weekday in days_of_week and day.year in years:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    offset = (when - start).total_seconds()
                    if -LOOKBACK_DAYS * 86400 <= offset <= horizon_s:
                        times.append(offset)
        day += timedelta(days=1)
    return times


def _field(action: str, text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                first, last = low, high
            else:
                first_text, _, last_text = base.partition("-")
                first = _value(first_text, names)
                last = _value(last_text, names) if last_text else (high if step_text else first)
        except ValueError:
            raise TemplateError(f"scheduled action {action}: cron field {text!r} is not one the simulator models") from None
        if not low <= first <= last <= high:
            raise TemplateError(f"scheduled action {action}: cron field {text!r} is outside {low}–{high}")
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)
