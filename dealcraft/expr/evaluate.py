"""Evaluating a checked expression against one in-memory record, with SQL's NULL semantics."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import nodes as n
from .check import Checked
from .functions import RunContext
from .types import ExprType, decode_list
from .values import normalise, parameter_value, utc_now

T = ExprType
Fetch = Callable[[str, Any], Mapping[str, Any] | None]


def evaluate(
    checked: Checked,
    record: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    fetch: Fetch | None = None,
    now: dt.datetime | None = None,
) -> Any:
    """The value of ``checked`` for ``record``; None stands for SQL NULL."""
    evaluator = _Evaluator(checked, record, params, fetch, RunContext(utc_now(now)))
    return evaluator.visit(checked.tree)


def _numbers(a: Any, b: Any) -> tuple[Any, Any]:
    # Decimal and float do not mix in Python; SQL widens numeric to double precision
    if isinstance(a, float) and isinstance(b, Decimal):
        return a, float(b)
    if isinstance(a, Decimal) and isinstance(b, float):
        return float(a), b
    return a, b


def _strict(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        return function(*_numbers(a, b))

    return apply


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _divide(a: Any, b: Any) -> float | None:
    return None if b == 0 else float(a) / float(b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "and": _and,
    "or": _or,
    "=": _strict(operator.eq),
    "!=": _strict(operator.ne),
    "<": _strict(operator.lt),
    "<=": _strict(operator.le),
    ">": _strict(operator.gt),
    ">=": _strict(operator.ge),
    "+": _strict(operator.add),
    "-": _strict(operator.sub),
    "*": _strict(operator.mul),
    "/": _strict(_divide),
    "||": _strict(operator.add),
}

_UNARY: dict[str, Callable[[Any], Any]] = {
    "not": lambda a: None if a is None else not a,
    "neg": lambda a: None if a is None else -a,
}


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    # No escape character, as in the SQL: % is any run, _ is one character
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _value(value: Any, expr_type: ExprType) -> Any:
    """A stored value as the evaluator sees it: lists decoded, the empty list as NULL."""
    if expr_type is T.LIST:
        if isinstance(value, str):
            return decode_list(value)
        return list(value) if value else None
    return normalise(value)


@dataclass
class _Evaluator:
    checked: Checked
    record: Mapping[str, Any]
    params: Mapping[str, Any] | None
    fetch: Fetch | None
    context: RunContext

    def visit(self, node: n.Node) -> Any:
        return _HANDLERS[type(node)](self, node)

    def lit(self, node: n.Lit) -> Any:
        return node.value

    def param(self, node: n.Param) -> Any:
        value = parameter_value(self.params, node.name, self.checked.expression.source)
        return _value(value, node.type)

    def field(self, node: n.Field) -> Any:
        first = node.steps[0]
        value = self.record.get(first.field.name)

        # Follow each reference as the SQL subquery does: a missing record reads as NULL
        for step in node.steps[1:]:
            if value is None:
                return None
            if self.fetch is None:
                raise ValueError(
                    f'evaluating "{self.checked.expression.source}" follows a reference '
                    "and needs a fetch callable"
                )
            target = self.fetch(step.object_name, value)
            if target is None:
                return None
            value = target.get(step.field.name)
        return _value(value, node.type)

    def unary(self, node: n.Unary) -> Any:
        return _UNARY[node.op](self.visit(node.operand))

    def binary(self, node: n.Binary) -> Any:
        return _BINARY[node.op](self.visit(node.left), self.visit(node.right))

    def in_list(self, node: n.InList) -> bool | None:
        operand = self.visit(node.operand)
        items: list[Any] = []
        for item in node.items:
            if isinstance(item, n.Param) and item.element is not None:
                source = self.checked.expression.source
                items.extend(normalise(v) for v in parameter_value(self.params, item.name, source))
            else:
                items.append(self.visit(item))
        if not items:
            return False
        if operand is None:
            return None
        # SQL: true on a match, else unknown if any item was NULL, else false
        if any(item is not None and _BINARY["="](operand, item) for item in items):
            return True
        return None if any(item is None for item in items) else False

    def between(self, node: n.Between) -> bool | None:
        operand, low, high = (self.visit(x) for x in (node.operand, node.low, node.high))
        return _and(_BINARY[">="](operand, low), _BINARY["<="](operand, high))

    def like(self, node: n.Like) -> bool | None:
        text, pattern = self.visit(node.operand), self.visit(node.pattern)
        if text is None or pattern is None:
            return None
        return _like_regex(pattern).fullmatch(text) is not None

    def is_null(self, node: n.IsNull) -> bool:
        return self.visit(node.operand) is None

    def call(self, node: n.Call) -> Any:
        args = [self.visit(arg) for arg in node.args]
        if node.function.strict and any(arg is None for arg in args):
            return None
        return node.function.py(args, self.context)


_HANDLERS: dict[type[n.Node], Callable[[_Evaluator, Any], Any]] = {
    n.Lit: _Evaluator.lit,
    n.Param: _Evaluator.param,
    n.Field: _Evaluator.field,
    n.Unary: _Evaluator.unary,
    n.Binary: _Evaluator.binary,
    n.InList: _Evaluator.in_list,
    n.Between: _Evaluator.between,
    n.Like: _Evaluator.like,
    n.IsNull: _Evaluator.is_null,
    n.Call: _Evaluator.call,
}
