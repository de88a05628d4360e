"""Metric math: the expressions the scaling alarms use, evaluated one datapoint at a time (None: no datapoint)."""

from __future__ import annotations

import re

import pytest

from llm_async_tools.simulation.expressions import ExpressionError, evaluate, parse, references

IDLE = "IF(FILL(instances, 0) > 0, backlog, 1)"
GRADUAL = "IF(FILL(instances, 0) > 1, IF(backlog > 17, CEIL(backlog / 17), 1), 3)"


def _value(expression: str, **values: float | None) -> float | None:
    return evaluate(parse(expression), lambda id_: values[id_])


@pytest.mark.parametrize(
    ("instances", "backlog", "value"),
    [
        (None, 0.0, 1.0),  # no instance reports: not idle, whatever the backlog says
        (None, 5.0, 1.0),
        (1.0, 0.0, 0.0),  # an instance serves and nothing is queued or running: idle
        (2.0, 3.0, 3.0),
    ],
)
def test_the_idle_expression_reads_the_backlog_only_while_an_instance_serves(instances, backlog, value) -> None:
    assert _value(IDLE, instances=instances, backlog=backlog) == value


@pytest.mark.parametrize(
    ("instances", "backlog", "needed"),
    [
        (None, 40.0, 3.0),  # no instance: the maximum, so the alarm (< 2.5) is OK
        (1.0, 0.0, 3.0),  # one instance: the idle alarm's business, not this one's
        (3.0, 0.0, 1.0),
        (3.0, 17.0, 1.0),  # exactly one instance's worth
        (3.0, 18.0, 2.0),  # ⌈18 / 17⌉
        (3.0, 34.0, 2.0),
        (3.0, 35.0, 3.0),
    ],
)
def test_the_gradual_expression_gives_the_instances_the_backlog_needs(instances, backlog, needed) -> None:
    assert _value(GRADUAL, instances=instances, backlog=backlog) == needed


def test_fill_replaces_only_a_missing_datapoint() -> None:
    assert _value("FILL(queued, 0)", queued=None) == 0
    assert _value("FILL(queued, 0)", queued=4.0) == 4.0
    assert _value("FILL(queued, -1)", queued=None) == -1


def test_a_missing_operand_gives_no_datapoint_but_the_unchosen_branch_may_be_missing() -> None:
    assert _value("queued + 1", queued=None) is None
    assert _value("IF(queued > 0, 1, 0)", queued=None) is None
    assert _value("IF(1, 2, nothing)", nothing=None) == 2


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ^ 3 ^ 2", 512),  # right-associative
        ("-2 ^ 2", -4),  # unary minus binds looser than ^
        ("7 / 2", 3.5),
        ("CEIL(7 / 2) + FLOOR(7 / 2)", 7),
        ("ABS(1 - 3)", 2),
        ("1 < 2 AND 2 <= 2", 1),
        ("1 > 2 || 3 != 3", 0),
        ("1 == 1 && 0", 0),
        ("1 + 1 > 1", 1),  # arithmetic binds tighter than comparison
        ("1.5e1", 15),
    ],
)
def test_operators_and_their_precedence(expression: str, value: float) -> None:
    assert _value(expression) == value


def test_a_division_by_zero_gives_no_datapoint() -> None:
    assert _value("backlog / instances", backlog=3.0, instances=0.0) is None


def test_references_are_the_ids_read() -> None:
    assert references(parse(GRADUAL)) == {"instances", "backlog"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("MAX(queued)", "function MAX in 'MAX(queued)'; the simulator models IF, FILL, CEIL, FLOOR, ABS"),
        ("FILL(queued, REPEAT)", "the simulator models FILL(m, number)"),
        ("IF(queued, 1)", "IF takes 3 arguments, got 2"),
        ("queued +", "expected more"),
        ("queued $ 2", "cannot read '$ 2'"),
        ("(queued", "expected )"),
        ("queued 2", "unexpected '2'"),
    ],
)
def test_what_is_not_modelled_is_refused(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse(expression)
