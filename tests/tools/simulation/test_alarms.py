"""CloudWatch alarm evaluation rules the engine relies on."""

from __future__ import annotations

import pytest

from llm_async_tools.simulation.alarms import ALARM, INSUFFICIENT_DATA, OK, next_state
from llm_async_tools.simulation.model import Alarm, MetricQuery

QUERY = MetricQuery("ApproximateBacklogSize", "Maximum")


def _alarm(treat: str, m: int = 2, n: int = 3) -> Alarm:
    return Alarm("a", QUERY, "GreaterThanOrEqualToThreshold", 1, n, m, treat)


@pytest.mark.parametrize(
    ("treat", "datapoints", "state"),
    [
        ("missing", [1, 0, 1], ALARM),  # 2 of 3 breaching
        ("missing", [1, 0, 0], OK),
        ("missing", [None, None, None], INSUFFICIENT_DATA),
        ("missing", [1, None, None], ALARM),  # only present datapoints count
        ("ignore", [None, None, None], "previous"),
        ("breaching", [1, None, 0], ALARM),
        ("notBreaching", [1, None, 0], OK),
    ],
)
def test_m_of_n_with_missing_data(treat: str, datapoints: list[float | None], state: str) -> None:
    assert next_state(_alarm(treat), datapoints, "previous") == state


def test_comparison_at_the_threshold() -> None:
    below = Alarm("b", QUERY, "LessThanThreshold", 1, 1, 1, "missing")
    assert next_state(below, [1], OK) == OK
    assert next_state(_alarm("missing", 1, 1), [1], OK) == ALARM
