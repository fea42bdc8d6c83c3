"""The function whitelist: one table entry per function, holding its arity, argument and
result types, SQL compiler and in-memory implementation."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from . import sqlfuncs
from .types import ExprType, encode_list

T = ExprType
SqlArgs = Sequence[sa.ColumnElement[Any]]


@dataclass(frozen=True)
class RunContext:
    """What a function may read besides its arguments: the clock, fixed per run."""

    now: dt.datetime

    @property
    def today(self) -> dt.date:
        return self.now.date()


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None  # None: variadic
    arg_types: tuple[frozenset[ExprType], ...]  # per position; the last repeats when variadic
    result: ExprType | None  # None: the common type of the arguments (coalesce)
    sql: Callable[[SqlArgs, RunContext], sa.ColumnElement[Any]]
    py: Callable[[Sequence[Any], RunContext], Any]
    strict: bool = True  # a NULL argument makes the result NULL without calling py
    literal_args: tuple[int, ...] = ()  # positions that must be integer literals
    literal_range: tuple[int, int] = (0, 0)  # inclusive bounds for those literals
    same_type: bool = False  # all arguments must share one type

    def allowed(self, index: int) -> frozenset[ExprType]:
        return self.arg_types[min(index, len(self.arg_types) - 1)]


def _set(*types: ExprType) -> frozenset[ExprType]:
    return frozenset(types)


_TEXT = _set(T.TEXT)
_NUMBER = _set(T.NUMBER)
_DATE = _set(T.DATE)
_DATES = _set(T.DATE, T.DATETIME)
_ANY = _set(T.TEXT, T.NUMBER, T.BOOLEAN, T.DATE, T.DATETIME, T.LIST)

_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TO_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _like_escape(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """Make a text value match itself literally inside a LIKE pattern with escape '\\'."""
    escaped = sa.func.replace(text, "\\", "\\\\", type_=sa.String)
    escaped = sa.func.replace(escaped, "%", "\\%", type_=sa.String)
    return sa.func.replace(escaped, "_", "\\_", type_=sa.String)


def _like_literal(
    haystack: sa.ColumnElement[Any], prefix: str, needle: sa.ColumnElement[Any], suffix: str
) -> sa.ColumnElement[Any]:
    pattern = sa.literal(prefix, sa.String).concat(_like_escape(needle)).concat(suffix)
    return sa.type_coerce(haystack, sa.String).like(pattern, escape="\\")


def _round_py(args: Sequence[Any], _ctx: RunContext) -> Any:
    value, digits = args[0], int(args[1]) if len(args) > 1 else 0
    # 15 significant digits, as PostgreSQL reads a double into numeric before rounding
    exact = Decimal(f"{value:.15g}") if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    # Both backends return a double, so the result is a float here too
    return float(rounded)


def _round_sql(args: SqlArgs, _ctx: RunContext) -> sa.ColumnElement[Any]:
    digits = args[1] if len(args) > 1 else sa.literal(0, sa.Integer)
    return sqlfuncs.round_half_up(args[0], digits)


def _add_months_py(args: Sequence[Any], _ctx: RunContext) -> dt.date:
    day, count = args[0], int(args[1])
    month_index = day.month - 1 + count
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _has_py(args: Sequence[Any], _ctx: RunContext) -> bool | None:
    # Same test as the SQL: the needle, bracketed by separators, inside the stored encoding
    encoded = encode_list([str(item) for item in args[0]])
    return encoded is not None and f"|{args[1]}|" in encoded


def _coalesce_py(args: Sequence[Any], _ctx: RunContext) -> Any:
    return next((arg for arg in args if arg is not None), None)


def _spec(
    name: str,
    arg_types: tuple[frozenset[ExprType], ...],
    result: ExprType | None,
    sql: Callable[[SqlArgs, RunContext], sa.ColumnElement[Any]],
    py: Callable[[Sequence[Any], RunContext], Any],
    *,
    min_args: int | None = None,
    max_args: int | None = -1,
    **options: Any,
) -> FunctionSpec:
    count = len(arg_types)
    return FunctionSpec(
        name=name,
        min_args=count if min_args is None else min_args,
        max_args=count if max_args == -1 else max_args,
        arg_types=arg_types,
        result=result,
        sql=sql,
        py=py,
        **options,
    )


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "lower",
            (_TEXT,),
            T.TEXT,
            lambda a, c: sqlfuncs.ascii_lower(a[0]),
            lambda a, c: a[0].translate(_TO_LOWER),
        ),
        _spec(
            "upper",
            (_TEXT,),
            T.TEXT,
            lambda a, c: sqlfuncs.ascii_upper(a[0]),
            lambda a, c: a[0].translate(_TO_UPPER),
        ),
        _spec(
            "length",
            (_TEXT,),
            T.NUMBER,
            lambda a, c: sa.func.length(a[0], type_=sa.Integer),
            lambda a, c: len(a[0]),
        ),
        _spec(
            "trim",
            (_TEXT,),
            T.TEXT,
            lambda a, c: sa.func.trim(a[0], type_=sa.String),
            lambda a, c: a[0].strip(" "),
        ),
        _spec(
            "coalesce",
            (_ANY,),
            None,
            lambda a, c: sa.func.coalesce(*a),
            _coalesce_py,
            min_args=1,
            max_args=None,
            strict=False,
            same_type=True,
        ),
        _spec("abs", (_NUMBER,), T.NUMBER, lambda a, c: sa.func.abs(a[0]), lambda a, c: abs(a[0])),
        _spec(
            "round",
            (_NUMBER, _NUMBER),
            T.NUMBER,
            _round_sql,
            _round_py,
            min_args=1,
            literal_args=(1,),
            literal_range=(0, 10),
        ),
        _spec(
            "ceil",
            (_NUMBER,),
            T.NUMBER,
            lambda a, c: sqlfuncs.ceil_(a[0]),
            lambda a, c: math.ceil(a[0]),
        ),
        _spec(
            "floor",
            (_NUMBER,),
            T.NUMBER,
            lambda a, c: sqlfuncs.floor_(a[0]),
            lambda a, c: math.floor(a[0]),
        ),
        _spec(
            "today",
            (),
            T.DATE,
            lambda a, c: sa.literal(c.today, sa.Date),
            lambda a, c: c.today,
        ),
        _spec(
            "now",
            (),
            T.DATETIME,
            lambda a, c: sa.literal(c.now, sa.DateTime),
            lambda a, c: c.now,
        ),
        _spec(
            "year",
            (_DATES,),
            T.NUMBER,
            lambda a, c: sa.cast(sa.extract("year", a[0]), sa.Integer),
            lambda a, c: a[0].year,
        ),
        _spec(
            "month",
            (_DATES,),
            T.NUMBER,
            lambda a, c: sa.cast(sa.extract("month", a[0]), sa.Integer),
            lambda a, c: a[0].month,
        ),
        _spec(
            "day",
            (_DATES,),
            T.NUMBER,
            lambda a, c: sa.cast(sa.extract("day", a[0]), sa.Integer),
            lambda a, c: a[0].day,
        ),
        _spec(
            "add_days",
            (_DATE, _NUMBER),
            T.DATE,
            lambda a, c: sqlfuncs.add_days(a[0], a[1]),
            lambda a, c: a[0] + dt.timedelta(days=int(a[1])),
        ),
        _spec(
            "add_months",
            (_DATE, _NUMBER),
            T.DATE,
            lambda a, c: sqlfuncs.add_months(a[0], a[1]),
            _add_months_py,
        ),
        _spec(
            "days_between",
            (_DATE, _DATE),
            T.NUMBER,
            lambda a, c: sqlfuncs.days_between(a[0], a[1]),
            lambda a, c: (a[1] - a[0]).days,
        ),
        _spec(
            "date",
            (_DATES,),
            T.DATE,
            lambda a, c: sqlfuncs.to_date(a[0]),
            lambda a, c: a[0].date() if isinstance(a[0], dt.datetime) else a[0],
        ),
        _spec(
            "has",
            (_set(T.LIST), _TEXT),
            T.BOOLEAN,
            lambda a, c: _like_literal(a[0], "%|", a[1], "|%"),
            _has_py,
        ),
        _spec(
            "starts_with",
            (_TEXT, _TEXT),
            T.BOOLEAN,
            lambda a, c: _like_literal(a[0], "", a[1], "%"),
            lambda a, c: a[0].startswith(a[1]),
        ),
        _spec(
            "contains",
            (_TEXT, _TEXT),
            T.BOOLEAN,
            lambda a, c: _like_literal(a[0], "%", a[1], "%"),
            lambda a, c: a[1] in a[0],
        ),
    )
}
