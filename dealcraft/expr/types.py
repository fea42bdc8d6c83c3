"""Value types, schema protocols and the Python/SQL representation of each type."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class ExprType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    LIST = "list"  # multi-choice: a list of text
    NULL = "null"  # the type of a bare NULL; compatible with every other type


@dataclass(frozen=True)
class FieldRef:
    name: str
    type: ExprType
    target: str | None = None


class Catalog(Protocol):
    def lookup(self, object_name: str, field_name: str) -> FieldRef | None: ...


class SqlBinder(Protocol):
    def table(self, object_name: str) -> sa.FromClause: ...

    def column(self, object_name: str, field_name: str, table: Any) -> sa.ColumnElement[Any]: ...

    def id_column(self, object_name: str, table: Any) -> sa.ColumnElement[Any]: ...


class ListText(TypeDecorator[list[str]]):
    """A multi-choice list stored as ``|a|b|c|`` text; the empty list is stored as NULL."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return encode_list(value)

    def process_result_value(self, value: Any, dialect: Any) -> list[str] | None:
        return decode_list(value)


def encode_list(value: list[str] | None) -> str | None:
    if not value:
        return None
    return "|" + "|".join(value) + "|"


def decode_list(value: str | None) -> list[str] | None:
    if value is None or len(value) < 2:
        return None
    return value[1:-1].split("|")


# The SQLAlchemy type that makes a backend hand back the Python value of each expression type.
SQL_TYPES: dict[ExprType, Callable[[], sa.types.TypeEngine[Any]]] = {
    ExprType.TEXT: sa.String,
    ExprType.NUMBER: sa.Float,
    ExprType.BOOLEAN: sa.Boolean,
    ExprType.DATE: sa.Date,
    ExprType.DATETIME: sa.DateTime,
    ExprType.LIST: ListText,
    ExprType.NULL: sa.types.NullType,
}


def sql_type(expr_type: ExprType) -> sa.types.TypeEngine[Any]:
    return SQL_TYPES[expr_type]()


def literal_sql_type(value: Any, expr_type: ExprType) -> sa.types.TypeEngine[Any]:
    """Integers stay integers in SQL so ``qty = 1`` compares without a float cast."""
    if expr_type is ExprType.NUMBER and isinstance(value, int):
        return sa.BigInteger()
    if expr_type is ExprType.NUMBER and isinstance(value, Decimal):
        return sa.Numeric()
    return sql_type(expr_type)


# Checked in order: bool before int (bool is an int), datetime before date (likewise).
_PY_TYPES: tuple[tuple[type | tuple[type, ...], ExprType], ...] = (
    (bool, ExprType.BOOLEAN),
    ((int, float, Decimal), ExprType.NUMBER),
    (str, ExprType.TEXT),
    (dt.datetime, ExprType.DATETIME),
    (dt.date, ExprType.DATE),
)


def type_of_value(value: Any) -> ExprType | None:
    """The expression type of a scalar Python value, or None when it has none."""
    if value is None:
        return ExprType.NULL
    for py_type, expr_type in _PY_TYPES:
        if isinstance(value, py_type):
            return expr_type
    return None
