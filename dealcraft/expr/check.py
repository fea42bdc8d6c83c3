"""Checking: resolve names against the schema, infer and enforce types, build the checked tree."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from . import nodes as n
from .errors import ExprError
from .functions import FUNCTIONS, FunctionSpec
from .parse import PARAM_PREFIX, Expression, node_position, node_text, parse
from .types import Catalog, ExprType, type_of_value

T = ExprType
_ORDERED = frozenset({T.NUMBER, T.TEXT, T.DATE, T.DATETIME})
_EQUATABLE = _ORDERED | {T.BOOLEAN}
_MISSING = object()


@dataclass(frozen=True)
class Checked:
    expression: Expression
    object_name: str
    type: ExprType
    paths: frozenset[tuple[str, ...]]
    parameters: frozenset[str]
    tree: n.Node = field(compare=False, repr=False)


def check(
    expr: Expression | str,
    catalog: Catalog,
    object_name: str,
    params: Mapping[str, Any] | None = None,
) -> Checked:
    """Resolve and type-check ``expr`` for records of ``object_name``."""
    expression = parse(expr) if isinstance(expr, str) else expr
    checker = _Checker(expression.source, catalog, object_name, params or {})
    tree = checker.visit(expression.tree)
    return Checked(
        expression=expression,
        object_name=object_name,
        type=tree.type,
        paths=frozenset(checker.paths),
        parameters=frozenset(checker.parameters),
        tree=tree,
    )


def lookup_parameter(params: Mapping[str, Any] | None, name: str) -> Any:
    """The value of dotted parameter ``name`` in nested ``params``, or a sentinel if absent."""
    value: Any = params if params is not None else {}
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def parse_date_literal(text: str, target: ExprType) -> dt.date | dt.datetime | None:
    try:
        if target is T.DATE:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


class _Checker:
    def __init__(
        self, source: str, catalog: Catalog, object_name: str, params: Mapping[str, Any]
    ) -> None:
        self.source = source
        self.catalog = catalog
        self.object_name = object_name
        self.params = params
        self.paths: set[tuple[str, ...]] = set()
        self.parameters: set[str] = set()
        self.handlers: dict[type[exp.Expression], Callable[[Any], n.Node]] = {
            exp.Paren: lambda node: self.visit(node.this),
            exp.And: lambda node: self.logic("and", node),
            exp.Or: lambda node: self.logic("or", node),
            exp.Not: self.negation,
            exp.EQ: lambda node: self.compare("=", node),
            exp.NEQ: lambda node: self.compare("!=", node),
            exp.LT: lambda node: self.compare("<", node),
            exp.LTE: lambda node: self.compare("<=", node),
            exp.GT: lambda node: self.compare(">", node),
            exp.GTE: lambda node: self.compare(">=", node),
            exp.Add: lambda node: self.arithmetic("+", node),
            exp.Sub: lambda node: self.arithmetic("-", node),
            exp.Mul: lambda node: self.arithmetic("*", node),
            exp.Div: lambda node: self.arithmetic("/", node),
            exp.DPipe: self.concat,
            exp.Neg: self.neg,
            exp.In: self.in_list,
            exp.Between: self.between,
            exp.Like: self.like,
            exp.Is: self.is_null,
            exp.Null: lambda node: n.Lit(T.NULL, None),
            exp.Boolean: lambda node: n.Lit(T.BOOLEAN, bool(node.this)),
            exp.Literal: self.literal,
            exp.Column: self.column,
            exp.Dot: self.column,
            exp.Anonymous: self.call,
        }

    # -- helpers -------------------------------------------------------------------------

    def error(self, code: str, message: str, node: exp.Expression) -> ExprError:
        return ExprError(
            code,
            message,
            token=node_text(self.source, node),
            position=node_position(node),
            source=self.source,
        )

    def mismatch(self, rule: str, node: exp.Expression, got: ExprType) -> ExprError:
        return self.error(
            "expr_type_mismatch",
            f'{rule}, but "{node_text(self.source, node)}" is {got.value}',
            node,
        )

    def visit(self, node: exp.Expression) -> n.Node:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise self.error(
                "expr_not_allowed", f'"{node.key}" is not part of the expression language', node
            )
        return handler(node)

    def expect(self, node: exp.Expression, allowed: frozenset[ExprType], rule: str) -> n.Node:
        """Visit ``node`` and require one of ``allowed``; NULL fits anything and takes the type."""
        checked = self.visit(node)
        if checked.type is T.NULL:
            return retype(checked, next(iter(sorted(allowed, key=lambda t: t.value))))
        dates = allowed & {T.DATE, T.DATETIME}
        if dates and T.TEXT not in allowed and isinstance(checked, n.Lit):
            # Where both are accepted, a bare YYYY-MM-DD reads as a date
            short = isinstance(checked.value, str) and len(checked.value) == 10
            target = T.DATE if T.DATE in dates and (short or len(dates) == 1) else T.DATETIME
            checked = self.coerce_literal(checked, target, node)
        if checked.type not in allowed:
            raise self.mismatch(rule, node, checked.type)
        return checked

    def coerce_literal(self, checked: n.Node, target: ExprType, node: exp.Expression) -> n.Node:
        """A text literal meets a date: read it as an ISO date (or date-time)."""
        if not (isinstance(checked, n.Lit) and checked.type is T.TEXT):
            return checked
        value = parse_date_literal(checked.value, target)
        if value is None:
            kind = "YYYY-MM-DD" if target is T.DATE else "YYYY-MM-DD[ HH:MM:SS]"
            raise self.error(
                "expr_bad_literal",
                f"a text compared with a {target.value} must be an ISO {target.value} ({kind}), "
                f'and "{checked.value}" is not one',
                node,
            )
        return n.Lit(target, value)

    def unify(
        self,
        pairs: list[tuple[n.Node, exp.Expression]],
        rule: str,
        default: ExprType | None = T.TEXT,
    ) -> list[n.Node]:
        """Bring operands to one type: date text literals are read as dates, NULLs adopt it."""
        types = {checked.type for checked, _ in pairs} - {T.NULL}
        date_types = types & {T.DATE, T.DATETIME}
        if len(date_types) == 1:
            target = next(iter(date_types))
            pairs = [(self.coerce_literal(c, target, node), node) for c, node in pairs]
            types = {checked.type for checked, _ in pairs} - {T.NULL}
        if len(types) > 1:
            first = next(c.type for c, _ in pairs if c.type is not T.NULL)
            culprit = next((c, node) for c, node in pairs if c.type not in (T.NULL, first))
            raise self.mismatch(
                f"{rule} needs operands of one type ({first.value})", culprit[1], culprit[0].type
            )
        # A NULL takes its neighbours' type so SQL can give the bare NULL a concrete type;
        # all-NULL operands get ``default``, or stay NULL to be typed by their context
        common = next(iter(types)) if types else default
        if common is None:
            return [checked for checked, _ in pairs]
        return [retype(checked, common) for checked, _ in pairs]

    # -- handlers ------------------------------------------------------------------------

    def logic(self, op: str, node: exp.Expression) -> n.Node:
        rule = f'"{op}" combines true/false values'
        left = self.expect(node.this, frozenset({T.BOOLEAN}), rule)
        right = self.expect(node.expression, frozenset({T.BOOLEAN}), rule)
        return n.Binary(T.BOOLEAN, op, left, right, T.BOOLEAN)

    def negation(self, node: exp.Not) -> n.Node:
        operand = self.expect(node.this, frozenset({T.BOOLEAN}), '"not" applies to true/false')
        return n.Unary(T.BOOLEAN, "not", operand)

    def compare(self, op: str, node: exp.Expression) -> n.Node:
        pairs = [(self.visit(node.this), node.this), (self.visit(node.expression), node.expression)]
        left, right = self.unify(pairs, f'"{op}"')
        allowed = _EQUATABLE if op in ("=", "!=") else _ORDERED
        if left.type not in allowed:
            raise self.mismatch(
                f'"{op}" compares {", ".join(sorted(t.value for t in allowed))} values',
                node.this,
                left.type,
            )
        return n.Binary(T.BOOLEAN, op, left, right, left.type)

    def arithmetic(self, op: str, node: exp.Expression) -> n.Node:
        rule = f'"{op}" needs numbers'
        left = self.expect(node.this, frozenset({T.NUMBER}), rule)
        right = self.expect(node.expression, frozenset({T.NUMBER}), rule)
        return n.Binary(T.NUMBER, op, left, right, T.NUMBER)

    def concat(self, node: exp.DPipe) -> n.Node:
        rule = '"||" joins text'
        left = self.expect(node.this, frozenset({T.TEXT}), rule)
        right = self.expect(node.expression, frozenset({T.TEXT}), rule)
        return n.Binary(T.TEXT, "||", left, right, T.TEXT)

    def neg(self, node: exp.Neg) -> n.Node:
        operand = self.expect(node.this, frozenset({T.NUMBER}), 'unary "-" needs a number')
        return n.Unary(T.NUMBER, "neg", operand)

    def in_list(self, node: exp.In) -> n.Node:
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise self.error("expr_not_allowed", '"in" takes a list of values, not a query', node)
        operand = self.visit(node.this)
        sources = list(node.expressions)
        bare = node.args.get("field")
        if bare is not None:
            sources.append(bare)
        visited = [(self.visit(source), source) for source in sources]
        if bare is not None and not _is_list_param(visited[-1][0]):
            raise self.mismatch(
                '"in" needs a list: "(a, b)" or a list parameter', bare, visited[-1][0].type
            )

        # A list parameter takes part in unification through its element type
        stand_ins = [
            (n.Lit(item.element or T.NULL, None), source)
            if _is_list_param(item)
            else (item, source)
            for item, source in visited
        ]
        unified = self.unify([(operand, node.this), *stand_ins], '"in"')
        if unified[0].type not in _EQUATABLE:
            raise self.mismatch('"in" compares single values', node.this, unified[0].type)
        items = tuple(
            item if _is_list_param(item) else checked
            for (item, _), checked in zip(visited, unified[1:], strict=True)
        )
        return n.InList(T.BOOLEAN, unified[0], items)

    def between(self, node: exp.Between) -> n.Node:
        pairs = [
            (self.visit(node.this), node.this),
            (self.visit(node.args["low"]), node.args["low"]),
            (self.visit(node.args["high"]), node.args["high"]),
        ]
        operand, low, high = self.unify(pairs, '"between"')
        if operand.type not in _ORDERED:
            raise self.mismatch('"between" needs ordered values', node.this, operand.type)
        return n.Between(T.BOOLEAN, operand, low, high, operand.type)

    def like(self, node: exp.Like) -> n.Node:
        if node.args.get("escape") is not None:
            raise self.error("expr_not_allowed", '"like" takes no escape clause', node)
        rule = '"like" matches text'
        operand = self.expect(node.this, frozenset({T.TEXT}), rule)
        pattern = self.expect(node.expression, frozenset({T.TEXT}), rule)
        matched: n.Node = n.Like(T.BOOLEAN, operand, pattern)
        return n.Unary(T.BOOLEAN, "not", matched) if node.args.get("negate") else matched

    def is_null(self, node: exp.Is) -> n.Node:
        if not isinstance(node.expression, exp.Null):
            raise self.error("expr_not_allowed", '"is" is only used as "is [not] null"', node)
        return n.IsNull(T.BOOLEAN, self.visit(node.this))

    def literal(self, node: exp.Literal) -> n.Node:
        text = node.this
        if node.is_string:
            return n.Lit(T.TEXT, text)
        try:
            value: int | float = int(text) if text.isdigit() else float(text)
        except ValueError as e:
            raise self.error("expr_bad_literal", f'"{text}" is not a number', node) from e
        return n.Lit(T.NUMBER, value)

    def column(self, node: exp.Expression) -> n.Node:
        parts = _identifiers(node)
        if parts is None:
            raise self.error("expr_not_allowed", 'only field paths may use "."', node)
        first = parts[0]
        if not first.quoted and first.name.startswith(PARAM_PREFIX):
            return self.parameter(first)
        return self.field_path(parts)

    def parameter(self, ident: exp.Identifier) -> n.Node:
        name = ident.name[len(PARAM_PREFIX) :]
        value = lookup_parameter(self.params, name)
        if is_missing(value) or isinstance(value, Mapping):
            available = ", ".join(sorted(_parameter_names(self.params))) or "none"
            raise self.error(
                "expr_unknown_parameter",
                f'unknown parameter ":{name}" (available: {available})',
                ident,
            )
        self.parameters.add(name)
        if isinstance(value, list | tuple | set | frozenset):
            types = {type_of_value(item) for item in value} - {T.NULL}
            if None in types or len(types) > 1:
                raise self.error(
                    "expr_type_mismatch",
                    f'list parameter ":{name}" must hold values of one type',
                    ident,
                )
            return n.Param(T.LIST, name, next(iter(types)) if types else T.NULL)
        expr_type = type_of_value(value)
        if expr_type is None:
            raise self.error(
                "expr_unknown_parameter",
                f'parameter ":{name}" has a value of unsupported type {type(value).__name__}',
                ident,
            )
        return n.Param(expr_type, name)

    def field_path(self, parts: list[exp.Identifier]) -> n.Node:
        object_name = self.object_name
        steps: list[n.Step] = []
        for index, ident in enumerate(parts):
            ref = self.catalog.lookup(object_name, ident.name)
            if ref is None:
                raise self.error(
                    "expr_unknown_field",
                    f'unknown field "{ident.name}" on object "{object_name}"',
                    ident,
                )
            steps.append(n.Step(object_name, ref))
            if index == len(parts) - 1:
                break
            if ref.target is None:
                raise self.error(
                    "expr_unknown_field",
                    f'field "{ident.name}" on object "{object_name}" is not a reference, '
                    f'so ".{parts[index + 1].name}" cannot follow it',
                    ident,
                )
            object_name = ref.target
        self.paths.add(tuple(step.field.name for step in steps))
        return n.Field(steps[-1].field.type, tuple(steps))

    def call(self, node: exp.Anonymous) -> n.Node:
        name = str(node.this)
        spec = FUNCTIONS.get(name.lower())
        if spec is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(
                "expr_unknown_function",
                f'unknown function "{name}" (known: {known})',
                token=name,
                position=node_position(node),
                source=self.source,
            )
        args = list(node.expressions)
        self.check_arity(spec, node, name, len(args))

        # Type each argument against its position; date text literals become dates
        checked: list[n.Node] = []
        for index, arg in enumerate(args):
            allowed = spec.allowed(index)
            rule = f"{spec.name}() argument {index + 1} must be " + " or ".join(
                sorted(t.value for t in allowed)
            )
            checked.append(self.expect(arg, allowed, rule))
            if index in spec.literal_args:
                self.check_literal_arg(spec, arg, checked[-1])

        # Functions like coalesce return the common type of their arguments
        if spec.same_type and args:
            checked = self.unify(
                list(zip([self.visit(arg) for arg in args], args, strict=True)),
                f"{spec.name}()",
                default=None,
            )
        result = spec.result or (checked[0].type if checked else T.NULL)
        return n.Call(result, spec, tuple(checked))

    def check_arity(self, spec: FunctionSpec, node: exp.Expression, name: str, count: int) -> None:
        if spec.min_args <= count and (spec.max_args is None or count <= spec.max_args):
            return
        if spec.max_args is None:
            expected = f"at least {spec.min_args}"
        elif spec.min_args == spec.max_args:
            expected = str(spec.min_args)
        else:
            expected = f"{spec.min_args} to {spec.max_args}"
        raise ExprError(
            "expr_arity",
            f"{spec.name}() takes {expected} argument(s), got {count}",
            token=name,
            position=node_position(node),
            source=self.source,
        )

    def check_literal_arg(self, spec: FunctionSpec, arg: exp.Expression, checked: n.Node) -> None:
        low, high = spec.literal_range
        value = checked.value if isinstance(checked, n.Lit) else None
        if not isinstance(value, int) or not low <= value <= high:
            raise self.error(
                "expr_bad_literal",
                f"{spec.name}() needs a whole number literal from {low} to {high} here",
                arg,
            )


def retype(node: n.Node, target: ExprType) -> n.Node:
    """Give a NULL-typed node (a NULL literal, a NULL-valued parameter, coalesce of those)
    the type its context demands."""
    if node.type is not T.NULL:
        return node
    if isinstance(node, n.Lit | n.Param):
        return dataclasses.replace(node, type=target)
    if isinstance(node, n.Call) and node.function.same_type:
        args = tuple(retype(arg, target) for arg in node.args)
        return dataclasses.replace(node, type=target, args=args)
    return node


def _is_list_param(node: n.Node) -> bool:
    return isinstance(node, n.Param) and node.element is not None


def _identifiers(node: exp.Expression) -> list[exp.Identifier] | None:
    if isinstance(node, exp.Column):
        parts = [part for part in node.parts if isinstance(part, exp.Identifier)]
        return parts if len(parts) == len(node.parts) else None
    if isinstance(node, exp.Dot):
        left = _identifiers(node.this)
        right = node.expression
        if left is None or not isinstance(right, exp.Identifier):
            return None
        return [*left, right]
    return None


def _parameter_names(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in params.items():
        if isinstance(value, Mapping):
            names.extend(_parameter_names(value, f"{prefix}{key}."))
        else:
            names.append(f":{prefix}{key}")
    return names
