"""Compiling a checked expression into a SQLAlchemy Core expression."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import Grouping

from . import nodes as n
from . import sqlfuncs
from .check import Checked
from .functions import RunContext
from .types import ExprType, SqlBinder, encode_list, literal_sql_type, sql_type
from .values import parameter_value, utc_now

T = ExprType
Sql = sa.ColumnElement[Any]


def to_sql(
    checked: Checked,
    binder: SqlBinder,
    table: Any,
    params: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
    *,
    predicate: bool = False,
) -> Sql:
    """The SQL form of ``checked`` over ``table``, the base table of ``checked.object_name``.

    With ``predicate`` the result is only ever used as a WHERE condition, where NULL and
    false both drop the row. The compiler may then turn a comparison on a dotted path into a
    semi-join (``account_id IN (SELECT id FROM account WHERE region = 'east')``), which the
    planners run as one hashed lookup instead of a subquery per candidate row.
    """
    compiler = _Compiler(checked, binder, table, params, RunContext(utc_now(now)))
    result = compiler.predicate(checked.tree) if predicate else compiler.visit(checked.tree)
    # Typed so that backends hand back Python values (SQLite returns dates as text)
    if checked.type in (T.NULL, T.NUMBER):
        return result
    return sa.type_coerce(result, sql_type(checked.type))


def _divide(left: Sql, right: Sql) -> Sql:
    # Real division everywhere, and NULL rather than an error for a zero divisor
    divisor = sa.func.nullif(sa.cast(right, sa.Float), 0, type_=sa.Float)
    return sa.cast(left, sa.Float) / divisor


def _concat(left: Sql, right: Sql) -> Sql:
    return sa.type_coerce(left, sa.String).op("||", return_type=sa.String)(right)


_BINARY: dict[str, Callable[[Sql, Sql], Sql]] = {
    "and": lambda a, b: sa.and_(a, b),
    "or": lambda a, b: sa.or_(a, b),
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    "||": _concat,
}

_UNARY: dict[str, Callable[[Sql], Sql]] = {
    "not": sa.not_,
    "neg": operator.neg,
}

_ORDERING = frozenset({"<", "<=", ">", ">="})
_COMPARISONS = frozenset({"=", "!=", *_ORDERING})


def _children(node: n.Node) -> tuple[n.Node, ...]:
    if isinstance(node, n.Unary):
        return (node.operand,)
    if isinstance(node, n.Binary):
        return (node.left, node.right)
    if isinstance(node, n.InList):
        return (node.operand, *node.items)
    if isinstance(node, n.Between):
        return (node.operand, node.low, node.high)
    if isinstance(node, n.Like):
        return (node.operand, node.pattern)
    if isinstance(node, n.IsNull):
        return (node.operand,)
    if isinstance(node, n.Call):
        return node.args
    return ()


def _reads_no_field(node: n.Node) -> bool:
    """True when ``node`` is the same for every row (literals, parameters, functions of them)."""
    if isinstance(node, n.Field):
        return False
    return all(_reads_no_field(child) for child in _children(node))


def _dotted(node: n.Node) -> bool:
    return isinstance(node, n.Field) and len(node.steps) > 1


@dataclass
class _Compiler:
    checked: Checked
    binder: SqlBinder
    table: Any
    params: Mapping[str, Any] | None
    context: RunContext
    # A dotted path compiled inside its semi-join stands for the last table's column.
    overrides: dict[int, Sql] = dataclass_field(default_factory=dict)

    def visit(self, node: n.Node) -> Sql:
        return _HANDLERS[type(node)](self, node)

    # Conditions -------------------------------------------------------------------------
    def predicate(self, node: n.Node) -> Sql:
        """``node`` as a WHERE condition, with dotted-path comparisons as semi-joins.

        Only a comparison whose one operand is a bare dotted path and whose other operands
        read no field is rewritten, and only where it stands in a chain of AND and OR from
        the top: there "NULL" (the referenced record is missing, or its field is empty) and
        "false" drop the row alike, and AND/OR treat them alike too. Under NOT, or inside a
        function such as ``coalesce``, the two differ, so those keep the scalar subquery.
        """
        if isinstance(node, n.Binary) and node.op in ("and", "or"):
            return _BINARY[node.op](self.predicate(node.left), self.predicate(node.right))
        dotted, others = self._comparison_parts(node)
        if dotted is None or not all(_reads_no_field(other) for other in others):
            return self.visit(node)
        return self._semi_join(node, dotted)

    @staticmethod
    def _comparison_parts(node: n.Node) -> tuple[n.Field | None, tuple[n.Node, ...]]:
        if isinstance(node, n.Binary) and node.op in _COMPARISONS:
            if _dotted(node.left):
                return node.left, (node.right,)  # type: ignore[return-value]
            if _dotted(node.right):
                return node.right, (node.left,)  # type: ignore[return-value]
        elif isinstance(node, n.InList | n.Between | n.Like) and _dotted(node.operand):
            return node.operand, _children(node)[1:]  # type: ignore[return-value]
        return None, ()

    def _semi_join(self, node: n.Node, dotted: n.Field) -> Sql:
        steps = dotted.steps
        last = steps[-1]

        # The comparison itself, on the last object's own table
        target = self.binder.table(last.object_name)
        self.overrides[id(dotted)] = self.binder.column(last.object_name, last.field.name, target)
        try:
            condition = self.visit(node)
        finally:
            del self.overrides[id(dotted)]
        ids = sa.select(self.binder.id_column(last.object_name, target)).where(condition)

        # Back along the path: the records whose reference points into the set found so far
        for step in reversed(steps[1:-1]):
            table = self.binder.table(step.object_name)
            reference = self.binder.column(step.object_name, step.field.name, table)
            ids = sa.select(self.binder.id_column(step.object_name, table)).where(
                reference.in_(ids)
            )
        first = steps[0]
        return self.binder.column(first.object_name, first.field.name, self.table).in_(ids)

    # Values -----------------------------------------------------------------------------

    def literal(self, value: Any, expr_type: ExprType) -> Sql:
        if value is None:
            # A typed NULL: a bare NULL would make SQLAlchemy turn "= NULL" into "IS NULL"
            return sa.cast(sa.null(), sql_type(expr_type if expr_type is not T.NULL else T.TEXT))
        if expr_type is T.BOOLEAN:
            return sa.true() if value else sa.false()
        if expr_type is T.LIST:
            encoded = encode_list([str(item) for item in value])
            return self.literal(encoded, T.TEXT)
        return sa.literal(value, literal_sql_type(value, expr_type))

    def lit(self, node: n.Lit) -> Sql:
        return self.literal(node.value, node.type)

    def param(self, node: n.Param) -> Sql:
        value = parameter_value(self.params, node.name, self.checked.expression.source)
        return self.literal(value, node.type)

    def field(self, node: n.Field) -> Sql:
        override = self.overrides.get(id(node))
        if override is not None:
            return override
        first = node.steps[0]
        value = self.binder.column(first.object_name, first.field.name, self.table)

        # Each further segment looks the referenced record up by id in a correlated subquery;
        # explicit correlation, as auto-correlation does not reach through nested subqueries
        for step in node.steps[1:]:
            target = self.binder.table(step.object_name)
            column = self.binder.column(step.object_name, step.field.name, target)
            key = self.binder.id_column(step.object_name, target)
            query = sa.select(column).where(key == value).correlate_except(target)
            value = query.scalar_subquery()
        return value

    def unary(self, node: n.Unary) -> Sql:
        return _UNARY[node.op](Grouping(self.visit(node.operand)))

    def binary(self, node: n.Binary) -> Sql:
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in _ORDERING and node.operand_type is T.TEXT:
            left, right = sqlfuncs.code_point_order(left), sqlfuncs.code_point_order(right)
        return _BINARY[node.op](left, right)

    def in_list(self, node: n.InList) -> Sql:
        operand = self.visit(node.operand)
        values: list[Sql] = []
        expressions: list[Sql] = []
        for item in node.items:
            if isinstance(item, n.Param) and item.element is not None:
                given = parameter_value(self.params, item.name, self.checked.expression.source)
                values.extend(self.literal(value, node.operand.type) for value in given)
            elif isinstance(item, n.Lit | n.Param):
                values.append(self.visit(item))
            else:
                expressions.append(self.visit(item))

        # An empty list matches nothing, NULL included, as SQL's own empty IN does
        if not values and not expressions:
            return sa.false()

        # Computed items become "=" terms, which is what IN means: PostgreSQL would read a
        # subquery item (a dotted path) as "IN (SELECT ...)" and yield false, not NULL
        terms = [operand == expression for expression in expressions]
        if values:
            terms.insert(0, operand.in_(values))
        return terms[0] if len(terms) == 1 else sa.or_(*terms)

    def between(self, node: n.Between) -> Sql:
        operand, low, high = (self.visit(x) for x in (node.operand, node.low, node.high))
        if node.operand_type is T.TEXT:
            operand, low, high = (sqlfuncs.code_point_order(x) for x in (operand, low, high))
        return operand.between(low, high)

    def like(self, node: n.Like) -> Sql:
        return sqlfuncs.like_plain(self.visit(node.operand), self.visit(node.pattern))

    def is_null(self, node: n.IsNull) -> Sql:
        # Explicit parentheses: SQLAlchemy renders "NOT x IS NULL" and "a = b IS NULL", which
        # the backends group differently from what was written
        return Grouping(self.visit(node.operand)).is_(None)

    def call(self, node: n.Call) -> Sql:
        args = [self.visit(arg) for arg in node.args]
        return node.function.sql(args, self.context)


_HANDLERS: dict[type[n.Node], Callable[[_Compiler, Any], Sql]] = {
    n.Lit: _Compiler.lit,
    n.Param: _Compiler.param,
    n.Field: _Compiler.field,
    n.Unary: _Compiler.unary,
    n.Binary: _Compiler.binary,
    n.InList: _Compiler.in_list,
    n.Between: _Compiler.between,
    n.Like: _Compiler.like,
    n.IsNull: _Compiler.is_null,
    n.Call: _Compiler.call,
}
