"""CloudWatch alarm evaluation: M of N datapoints, the comparison, and TreatMissingData.

CloudWatch user guide, "Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing data":
breaching/notBreaching turn a missing datapoint into that; with missing (the default) and ignore, only present
datapoints count, and when every datapoint is missing the alarm goes to INSUFFICIENT_DATA (missing) or keeps
its state (ignore). Simplification, documented: CloudWatch may look further back than N periods for datapoints
when some are missing; here the window is exactly N periods and M shrinks to the present datapoints.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_async_tools.simulation.model import Alarm

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"


def breaches(comparison: str, value: float, threshold: float) -> bool:
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
        "LessThanThreshold": value < threshold,
    }[comparison]


def next_state(alarm: Alarm, datapoints: Sequence[float | None], state: str) -> str:
    """The state after one evaluation of `datapoints` (newest first, N of them, None for missing)."""
    treat = alarm.treat_missing_data
    if treat in ("breaching", "notBreaching"):
        flags = [breaches(alarm.comparison, v, alarm.threshold) if v is not None else treat == "breaching" for v in datapoints]
        return ALARM if sum(flags) >= alarm.datapoints_to_alarm else OK
    present = [v for v in datapoints if v is not None]
    if not present:
        return state if treat == "ignore" else INSUFFICIENT_DATA
    breaching = sum(breaches(alarm.comparison, v, alarm.threshold) for v in present)
    return ALARM if breaching >= min(alarm.datapoints_to_alarm, len(present)) else OK


def aggregate(values: Sequence[float], aggregation: str) -> float:
    """How a step policy reduces the alarm's datapoints to one value (its MetricAggregationType)."""
    if aggregation == "Maximum":
        return max(values)
    if aggregation == "Minimum":
        return min(values)
    return sum(values) / len(values)
