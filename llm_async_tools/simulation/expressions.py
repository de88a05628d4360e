"""CloudWatch metric math, the part scaling alarms use: parsed once from the template, evaluated per datapoint.

Syntax and functions as the CloudWatch user guide, "Using metric math" (metric math syntax and functions) gives them:
numbers, metric and expression ids, `+ - * / ^`, unary minus, the comparison operators `== != < <= > >=` (1 when
true, 0 when false), the logical operators `AND`/`&&` and `OR`/`||`, parentheses, and the functions `IF(condition,
trueValue, falseValue)`, `FILL(m, value)`, `CEIL(m)`, `FLOOR(m)` and `ABS(m)`. Anything else (MIN/MAX/AVG over whole
series, METRICS(), SEARCH, FILL with REPEAT or LINEAR, …) is refused with the expression named, rather than guessed.

Evaluation is per timestamp: an alarm reads one datapoint per period, so every operand here is the value of its
metric or expression at that period, or None when it has no datapoint there. Assumption (the guide describes FILL
for gaps, not how other operators treat them): an operator or function other than FILL whose operand is missing
gives no datapoint (CloudWatch aligns series on their timestamps, and a timestamp absent from an operand is absent
from the result); a division by zero gives no datapoint either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

FUNCTIONS = {"IF": 3, "FILL": 2, "CEIL": 1, "FLOOR": 1, "ABS": 1}
"""The functions modelled, with their argument counts."""

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^(),<>]))"
)
# Binding, loosest first: OR, AND, comparisons, + -, * /, ^ (right-associative), unary minus.
_LEVELS: tuple[tuple[str, ...], ...] = (("OR", "||"), ("AND", "&&"), ("==", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/"))


class ExpressionError(ValueError):
    """The expression is not metric math the simulator models; the message says what is not."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


Node = Number | Ref | Call | Binary | Negate


def parse(text: str) -> Node:
    """The expression's syntax tree; an ExpressionError names what the simulator does not model."""
    tokens = _tokens(text)
    parser = _Parser(tokens, text)
    node = parser.expression(0)
    if parser.position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position]!r} in {text!r}")
    return node


def references(node: Node) -> set[str]:
    """The ids (metrics or other expressions) the expression reads."""
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Call):
        return set().union(*(references(a) for a in node.args))
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    if isinstance(node, Negate):
        return references(node.operand)
    return set()


def evaluate(node: Node, value_of: Callable[[str], float | None]) -> float | None:
    """The expression's value at one timestamp, given each id's value there (None: no datapoint)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        return value_of(node.id)
    if isinstance(node, Negate):
        operand = evaluate(node.operand, value_of)
        return None if operand is None else -operand
    if isinstance(node, Call):
        return _call(node, value_of)
    left, right = evaluate(node.left, value_of), evaluate(node.right, value_of)
    if left is None or right is None:
        return None
    return _binary(node.op, left, right)


def _call(node: Call, value_of: Callable[[str], float | None]) -> float | None:
    if node.function == "FILL":
        value = evaluate(node.args[0], value_of)
        return evaluate(node.args[1], value_of) if value is None else value
    if node.function == "IF":
        condition = evaluate(node.args[0], value_of)
        if condition is None:
            return None
        # Only the chosen branch is read: the other may lack data without removing this datapoint.
        return evaluate(node.args[1] if condition != 0 else node.args[2], value_of)
    value = evaluate(node.args[0], value_of)
    if value is None:
        return None
    return {"CEIL": math.ceil, "FLOOR": math.floor, "ABS": abs}[node.function](value)


def _binary(op: str, left: float, right: float) -> float | None:
    if op in ("AND", "&&"):
        return float(left != 0 and right != 0)
    if op in ("OR", "||"):
        return float(left != 0 or right != 0)
    comparisons = {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                   ">": left > right, ">=": left >= right}
    if op in comparisons:
        return float(comparisons[op])
    if op == "/":
        return None if right == 0 else left / right
    if op == "^":
        try:
            return float(left**right)
        except (OverflowError, ZeroDivisionError):
            return None
    return left + right if op == "+" else left - right if op == "-" else left * right


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {stripped[position:].lstrip()!r} in {text!r}")
        tokens.append(match.group(match.lastgroup or ""))
        position = match.end()
    if not tokens:
        raise ExpressionError("the expression is empty")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens, self.text, self.position = tokens, text, 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ExpressionError(f"expected {expected or 'more'} in {self.text!r}")
        self.position += 1
        return token

    def expression(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self._power()
        node = self.expression(level + 1)
        while (token := self._peek()) is not None and (token.upper() if token.isalpha() else token) in _LEVELS[level]:
            op = self._take()
            node = Binary(op.upper() if op.isalpha() else op, node, self.expression(level + 1))
        return node

    def _power(self) -> Node:
        # Unary minus binds looser than ^ (-2 ^ 2 is -4), and ^ groups to the right.
        if self._peek() == "-":
            self._take()
            return Negate(self._power())
        if self._peek() == "+":
            self._take()
            return self._power()
        base = self._atom()
        if self._peek() == "^":
            self._take()
            return Binary("^", base, self._power())
        return base

    def _atom(self) -> Node:
        token = self._take()
        if token == "(":
            node = self.expression(0)
            self._take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            return Number(float(token))
        if not (token[0].isalpha() or token[0] == "_"):
            raise ExpressionError(f"unexpected {token!r} in {self.text!r}")
        if self._peek() != "(":
            if token.upper() in FUNCTIONS or token.upper() in ("AND", "OR"):
                raise ExpressionError(f"{token} without arguments in {self.text!r}")
            return Ref(token)
        function = token.upper()
        if function not in FUNCTIONS:
            raise ExpressionError(f"function {token} in {self.text!r}; the simulator models {', '.join(FUNCTIONS)}")
        self._take("(")
        args = [self.expression(0)]
        while self._peek() == ",":
            self._take()
            args.append(self.expression(0))
        self._take(")")
        if len(args) != FUNCTIONS[function]:
            raise ExpressionError(f"{function} takes {FUNCTIONS[function]} arguments, got {len(args)} in {self.text!r}")
        if function == "FILL" and not isinstance(args[1], Number | Negate):
            raise ExpressionError(f"FILL with {args[1]} in {self.text!r}; the simulator models FILL(m, number)")
        return Call(function, tuple(args))
