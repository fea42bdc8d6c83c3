"""Property: for random expressions over random records, SQL (SQLite and PostgreSQL) and the
in-memory evaluator give the same value for every record, and WHERE keeps exactly the
records whose value is true."""

from __future__ import annotations

import datetime as dt
import functools
import math
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealcraft.expr import ExprType, check

from .schema import CATALOG

T = ExprType
NOW = dt.datetime(2026, 2, 1, 12, 30, 15, 250000)

# -- records ---------------------------------------------------------------------------------

TEXT_ALPHABET = "aAbZz _%|\\é华"
texts = st.text(alphabet=TEXT_ALPHABET, max_size=4)
small_ints = st.integers(min_value=-50, max_value=50)
quarters = st.integers(min_value=-400, max_value=400).map(lambda q: q / 4)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))
datetimes = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 12, 31))
tag_lists = st.lists(st.sampled_from(["a", "b_", "%", "华", "A"]), max_size=3, unique=True)
reference_ids = st.sampled_from([None, 1, 2, 3, 99])  # 99 points at no record


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def account_record(record_id: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.just(record_id),
            "name": nullable(texts),
            "region": nullable(texts),
            "score": nullable(small_ints),
            "ratio": nullable(quarters),
            "active": nullable(st.booleans()),
            "opened": nullable(dates),
            "seen": nullable(datetimes),
            "tags": nullable(tag_lists),
            "parent": reference_ids,
        }
    )


def opportunity_record(record_id: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.just(record_id),
            "title": nullable(texts),
            "amount": nullable(quarters),
            "qty": nullable(small_ints),
            "won": nullable(st.booleans()),
            "close_date": nullable(dates),
            "account": reference_ids,
        }
    )


accounts = st.tuples(*(account_record(i) for i in (1, 2, 3)))
opportunities = st.tuples(*(opportunity_record(i) for i in (1, 2, 3, 4)))
parameters = st.fixed_dictionaries(
    {
        "user": st.fixed_dictionaries(
            {
                "id": nullable(small_ints),
                "region": nullable(texts),
                "flag": nullable(st.booleans()),
                "ids": st.lists(nullable(st.sampled_from([1, 2, 3])), max_size=3),
            }
        ),
        "today": dates,
    }
)

# -- expressions over "opportunity" ----------------------------------------------------------


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


FIELDS = {
    T.NUMBER: ["amount", "qty", "account", "account.score", "account.ratio", "account.parent"],
    T.TEXT: ["title", "account.name", "account.region", "account.parent.name"],
    T.BOOLEAN: ["won", "account.active", "account.parent.active"],
    T.DATE: ["close_date", "account.opened", "account.parent.opened"],
    T.DATETIME: ["account.seen"],
    T.LIST: ["account.tags", "account.parent.tags"],
}
PARAMS = {T.NUMBER: [":user.id"], T.TEXT: [":user.region"], T.BOOLEAN: [":user.flag"]}
PARAMS[T.DATE] = [":today"]

number_literals = st.one_of(small_ints.map(str), quarters.map(repr)).map(
    lambda text: f"({text})" if text.startswith("-") else text
)
LITERALS: dict[ExprType, st.SearchStrategy[str]] = {
    T.NUMBER: number_literals,
    T.TEXT: texts.map(quote),
    T.BOOLEAN: st.sampled_from(["true", "false"]),
    T.DATE: st.sampled_from(["today()", "add_days(today(), -40)"]),
    T.DATETIME: st.sampled_from(["now()"]),
    T.LIST: st.nothing(),
}
date_literals = dates.map(lambda d: quote(d.isoformat()))
datetime_literals = datetimes.map(lambda d: quote(d.isoformat(sep=" ")))


def leaf(expr_type: ExprType) -> st.SearchStrategy[str]:
    options = [st.sampled_from(FIELDS[expr_type]), LITERALS[expr_type], st.just("null")]
    if expr_type in PARAMS:
        options.append(st.sampled_from(PARAMS[expr_type]))
    return st.one_of(*options)


def call(name: str, *args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*args).map(lambda parts: f"{name}({', '.join(parts)})")


def infix(op: str, left: st.SearchStrategy[str], right: st.SearchStrategy[str]):
    return st.tuples(left, right).map(lambda parts: f"({parts[0]} {op} {parts[1]})")


def comparable_operand(expr_type: ExprType, depth: int) -> st.SearchStrategy[str]:
    """An operand of a comparison: date comparisons also take ISO text literals."""
    extra = {T.DATE: date_literals, T.DATETIME: datetime_literals}.get(expr_type)
    base = expression(expr_type, depth)
    return st.one_of(base, extra) if extra is not None else base


@functools.cache
def expression(expr_type: ExprType, depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return leaf(expr_type)
    sub = functools.partial(expression, depth=depth - 1)
    builders = COMPOUND[expr_type]
    return st.one_of(leaf(expr_type), *(builder(sub, depth - 1) for builder in builders))


def _numbers(sub, depth):
    n, t, d = sub(T.NUMBER), sub(T.TEXT), sub(T.DATE)
    return [
        infix("+", n, n),
        infix("-", n, n),
        infix("*", n, n),
        infix("/", n, n),
        n.map(lambda x: f"-({x})"),
        call("abs", n),
        call("round", n),
        call("round", n, st.sampled_from(["0", "1", "2"])),
        call("ceil", n),
        call("floor", n),
        call("length", t),
        call("year", st.one_of(d, sub(T.DATETIME))),
        call("month", d),
        call("day", st.one_of(d, sub(T.DATETIME))),
        call("days_between", d, d),
        call("coalesce", n, n),
    ]


def _texts(sub, depth):
    t = sub(T.TEXT)
    return [
        infix("||", t, t),
        call("lower", t),
        call("upper", t),
        call("trim", t),
        call("coalesce", t, t, t),
    ]


def _comparisons(sub, depth):
    out = []
    for expr_type, ops in (
        (T.NUMBER, ["=", "!=", "<>", "<", "<=", ">", ">="]),
        (T.TEXT, ["=", "!=", "<", "<=", ">", ">="]),
        (T.DATE, ["=", "<", ">="]),
        (T.DATETIME, ["=", "<", ">"]),
        (T.BOOLEAN, ["=", "!="]),
    ):
        operand = comparable_operand(expr_type, depth)
        out.append(
            st.tuples(operand, st.sampled_from(ops), operand).map(
                lambda p: f"({p[0]} {p[1]} {p[2]})"
            )
        )
    return out


def _booleans(sub, depth):
    b, n, t = sub(T.BOOLEAN), sub(T.NUMBER), sub(T.TEXT)
    in_items = st.lists(st.one_of(leaf(T.NUMBER), st.just("null")), min_size=1, max_size=3)
    negate = st.sampled_from(["", "not "])
    return [
        infix("and", b, b),
        infix("or", b, b),
        b.map(lambda x: f"not ({x})"),
        *_comparisons(sub, depth),
        st.tuples(n, negate, in_items).map(lambda p: f"({p[0]} {p[1]}in ({', '.join(p[2])}))"),
        st.tuples(t, negate, st.lists(leaf(T.TEXT), min_size=1, max_size=3)).map(
            lambda p: f"({p[0]} {p[1]}in ({', '.join(p[2])}))"
        ),
        st.tuples(sub(T.NUMBER), negate).map(lambda p: f"(account {p[1]}in :user.ids)"),
        st.tuples(n, negate, n, n).map(lambda p: f"({p[0]} {p[1]}between {p[2]} and {p[3]})"),
        st.tuples(t, negate, t, t).map(lambda p: f"({p[0]} {p[1]}between {p[2]} and {p[3]})"),
        st.tuples(
            comparable_operand(T.DATE, depth), comparable_operand(T.DATE, depth), date_literals
        ).map(lambda p: f"({p[0]} between {p[1]} and {p[2]})"),
        st.tuples(t, negate, t).map(lambda p: f"({p[0]} {p[1]}like {p[2]})"),
        st.tuples(
            st.one_of(*(sub(x) for x in (T.NUMBER, T.TEXT, T.BOOLEAN, T.DATE, T.LIST))),
            st.sampled_from(["is null", "is not null"]),
        ).map(lambda p: f"({p[0]} {p[1]})"),
        call("has", sub(T.LIST), t),
        call("starts_with", t, t),
        call("contains", t, t),
    ]


def _dates(sub, depth):
    d = sub(T.DATE)
    count = st.one_of(leaf(T.NUMBER), st.just("null"))
    return [
        call("add_days", d, count),
        call("add_months", d, count),
        call("date", sub(T.DATETIME)),
        call("coalesce", d, d),
    ]


COMPOUND = {
    T.NUMBER: [_numbers],
    T.TEXT: [_texts],
    T.BOOLEAN: [_booleans],
    T.DATE: [_dates],
    T.DATETIME: [lambda sub, depth: [call("coalesce", sub(T.DATETIME), datetime_literals)]],
    T.LIST: [lambda sub, depth: []],
}
# Each builder returns a list of strategies; flatten them for expression()
COMPOUND = {
    expr_type: [
        functools.partial(lambda b, sub, depth: st.one_of(*b(sub, depth)), builder)
        for builder in builders
    ]
    for expr_type, builders in COMPOUND.items()
}

top_level = st.one_of(
    expression(T.BOOLEAN, 3),
    expression(T.NUMBER, 2),
    expression(T.TEXT, 2),
    expression(T.DATE, 2),
)

# -- comparing results ---------------------------------------------------------------------


def same_value(sql: Any, memory: Any) -> bool:
    if sql is None or memory is None:
        return sql is None and memory is None
    if isinstance(memory, bool) or isinstance(sql, bool):
        return bool(sql) == memory and isinstance(memory, bool)
    if isinstance(memory, int | float | Decimal):
        return math.isclose(float(sql), float(memory), rel_tol=1e-9, abs_tol=1e-9)
    return sql == memory


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=top_level, accounts=accounts, opportunities=opportunities, params=parameters)
def test_random_expression_sql_matches_memory(store, source, accounts, opportunities, params):
    store.clear()
    store.add("account", *accounts)
    store.add("opportunity", *opportunities)
    checked = check(source, CATALOG, "opportunity", params)

    sql_values = store.sql_values(checked, params, NOW)
    memory_values = store.memory_values(checked, params, NOW)
    assert sql_values.keys() == memory_values.keys()
    for record_id, memory in memory_values.items():
        sql = sql_values[record_id]
        assert same_value(sql, memory), (source, record_id, sql, memory)

    if checked.type is T.BOOLEAN:
        assert store.sql_ids(checked, params, NOW) == store.memory_ids(checked, params, NOW)
