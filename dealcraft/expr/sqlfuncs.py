"""SQL constructs whose spelling differs between SQLite and PostgreSQL.

Each construct builds its SQL from ordinary SQLAlchemy elements for the dialect at hand, so
bound parameters reused in several places stay one parameter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()


class _Portable(FunctionElement[Any]):
    """Base: subclasses define ``sqlite`` and ``postgresql`` builders over their arguments."""

    inherit_cache = True

    @property
    def args(self) -> list[sa.ColumnElement[Any]]:
        return list(self.clauses.clauses)  # type: ignore[arg-type]

    def sqlite(self, *args: Any) -> sa.ColumnElement[Any]:
        raise NotImplementedError

    def postgresql(self, *args: Any) -> sa.ColumnElement[Any]:
        raise NotImplementedError


def _int(value: Any) -> sa.ColumnElement[Any]:
    # SQLite's CAST truncates toward zero; PostgreSQL's rounds, so truncate there first.
    return sa.cast(value, sa.Integer)


def _pg_int(value: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.func.trunc(sa.cast(value, sa.Numeric)), sa.Integer)


class ascii_lower(_Portable):
    """Lower-case ASCII letters only: SQLite's lower() folds nothing else, so neither do we."""

    name = "dc_ascii_lower"
    type = sa.String()
    inherit_cache = True

    def sqlite(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.func.lower(text, type_=sa.String)

    def postgresql(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.func.translate(text, _UPPER, _LOWER, type_=sa.String)


class ascii_upper(_Portable):
    name = "dc_ascii_upper"
    type = sa.String()
    inherit_cache = True

    def sqlite(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.func.upper(text, type_=sa.String)

    def postgresql(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.func.translate(text, _LOWER, _UPPER, type_=sa.String)


class round_half_up(_Portable):
    """round(x, digits) with ties away from zero; PostgreSQL only has that for numeric."""

    name = "dc_round"
    type = sa.Float()
    inherit_cache = True

    def sqlite(self, value: Any, digits: Any) -> sa.ColumnElement[Any]:
        return sa.func.round(value, digits, type_=sa.Float)

    def postgresql(self, value: Any, digits: Any) -> sa.ColumnElement[Any]:
        rounded = sa.func.round(sa.cast(value, sa.Numeric), sa.cast(digits, sa.Integer))
        # Back to double precision, so further arithmetic matches SQLite and memory
        return sa.cast(rounded, sa.Float)


class floor_(_Portable):
    name = "dc_floor"
    type = sa.Float()
    inherit_cache = True

    def sqlite(self, value: Any) -> sa.ColumnElement[Any]:
        # floor() is only present when SQLite was built with its math functions
        whole = _int(value)
        return sa.case((value < whole, whole - 1), else_=whole)

    def postgresql(self, value: Any) -> sa.ColumnElement[Any]:
        return sa.func.floor(sa.cast(value, sa.Float), type_=sa.Float)


class ceil_(_Portable):
    name = "dc_ceil"
    type = sa.Float()
    inherit_cache = True

    def sqlite(self, value: Any) -> sa.ColumnElement[Any]:
        whole = _int(value)
        return sa.case((value > whole, whole + 1), else_=whole)

    def postgresql(self, value: Any) -> sa.ColumnElement[Any]:
        return sa.func.ceil(sa.cast(value, sa.Float), type_=sa.Float)


class add_days(_Portable):
    name = "dc_add_days"
    type = sa.Date()
    inherit_cache = True

    def sqlite(self, day: Any, count: Any) -> sa.ColumnElement[Any]:
        return sa.func.date(day, _int(count).concat(" days"), type_=sa.Date)

    def postgresql(self, day: Any, count: Any) -> sa.ColumnElement[Any]:
        return sa.type_coerce(sa.cast(day, sa.Date).op("+")(_pg_int(count)), sa.Date)


class add_months(_Portable):
    """Calendar months; a day past the end of the target month clamps to its last day."""

    name = "dc_add_months"
    type = sa.Date()
    inherit_cache = True

    def sqlite(self, day: Any, count: Any) -> sa.ColumnElement[Any]:
        # SQLite's '+N months' rolls Jan 31 over into March, so step via the 1st and clamp
        first = sa.func.date(day, "start of month", _int(count).concat(" months"))
        last_day = sa.cast(sa.func.strftime("%d", first, "+1 month", "-1 day"), sa.Integer)
        day_of_month = sa.cast(sa.func.strftime("%d", day), sa.Integer)
        offset = sa.func.min(day_of_month, last_day) - 1
        return sa.func.date(first, sa.cast(offset, sa.String).concat(" days"), type_=sa.Date)

    def postgresql(self, day: Any, count: Any) -> sa.ColumnElement[Any]:
        months = _pg_int(count).op("*")(sa.literal_column("INTERVAL '1 month'"))
        return sa.cast(sa.cast(day, sa.Date).op("+")(months), sa.Date)


class days_between(_Portable):
    name = "dc_days_between"
    type = sa.Integer()
    inherit_cache = True

    def sqlite(self, start: Any, end: Any) -> sa.ColumnElement[Any]:
        return sa.cast(sa.func.julianday(end) - sa.func.julianday(start), sa.Integer)

    def postgresql(self, start: Any, end: Any) -> sa.ColumnElement[Any]:
        return sa.type_coerce(sa.cast(end, sa.Date).op("-")(sa.cast(start, sa.Date)), sa.Integer)


class to_date(_Portable):
    name = "dc_to_date"
    type = sa.Date()
    inherit_cache = True

    def sqlite(self, value: Any) -> sa.ColumnElement[Any]:
        # CAST(... AS DATE) has numeric affinity in SQLite and would yield the year
        return sa.func.date(value, type_=sa.Date)

    def postgresql(self, value: Any) -> sa.ColumnElement[Any]:
        return sa.cast(value, sa.Date)


class like_plain(_Portable):
    """``text LIKE pattern`` with no escape character on either backend (PostgreSQL's
    default escape is a backslash, SQLite has none)."""

    name = "dc_like"
    type = sa.Boolean()
    inherit_cache = True

    def sqlite(self, text: Any, pattern: Any) -> sa.ColumnElement[Any]:
        return sa.type_coerce(text, sa.String).like(pattern)

    def postgresql(self, text: Any, pattern: Any) -> sa.ColumnElement[Any]:
        return (
            sa.type_coerce(text, sa.String)
            .op("LIKE", is_comparison=True)(pattern)
            .op("ESCAPE", is_comparison=True)(sa.literal_column("''"))
        )


class code_point_order(_Portable):
    """Text ordered by code point: SQLite's BINARY collation already is; PostgreSQL needs "C"."""

    name = "dc_code_point"
    type = sa.String()
    inherit_cache = True

    def sqlite(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.type_coerce(text, sa.String)

    def postgresql(self, text: Any) -> sa.ColumnElement[Any]:
        return sa.collate(sa.type_coerce(text, sa.String), "C")


def _compile_sqlite(element: _Portable, compiler: Any, **kw: Any) -> str:
    return "(" + compiler.process(element.sqlite(*element.args), **kw) + ")"


def _compile_postgresql(element: _Portable, compiler: Any, **kw: Any) -> str:
    return "(" + compiler.process(element.postgresql(*element.args), **kw) + ")"


def _compile_other(element: _Portable, compiler: Any, **kw: Any) -> str:
    raise sa.exc.CompileError(
        f"{element.name} is only available on SQLite and PostgreSQL, not {compiler.dialect.name}"
    )


for _construct in (
    ascii_lower,
    ascii_upper,
    round_half_up,
    floor_,
    ceil_,
    add_days,
    add_months,
    days_between,
    to_date,
    like_plain,
    code_point_order,
):
    compiles(_construct)(_compile_other)
    compiles(_construct, "sqlite")(_compile_sqlite)
    compiles(_construct, "postgresql")(_compile_postgresql)


@compiles(like_plain, "postgresql")
def _compile_like_postgresql(element: like_plain, compiler: Any, **kw: Any) -> str:
    text, pattern = (compiler.process(arg, **kw) for arg in element.args)
    return f"(({text}) LIKE ({pattern}) ESCAPE '')"
