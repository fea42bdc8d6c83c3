"""Property: for random expressions over random records, SQL (SQLite and PostgreSQL) and the
in-memory evaluator give the same value for every record, and WHERE keeps exactly the
records whose value is true."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealcraft.expr import ExprType, check

from .schema import CATALOG

T = ExprType
EXPRESSIONS_PER_EXAMPLE = 8
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
PARAMS = {T.NUMBER: ":user.id", T.TEXT: ":user.region", T.BOOLEAN: ":user.flag", T.DATE: ":today"}
COMPARISONS = {
    T.NUMBER: ["=", "!=", "<>", "<", "<=", ">", ">="],
    T.TEXT: ["=", "!=", "<", "<=", ">", ">="],
    T.DATE: ["=", "<", ">="],
    T.DATETIME: ["=", "<", ">"],
    T.BOOLEAN: ["=", "!="],
}


class ExpressionGenerator:
    """Random typed expressions over "opportunity", with branches picked uniformly by a
    Random seeded from Hypothesis (so a failure replays from its seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.compound: dict[ExprType, list[Callable[[int], str]]] = {
            T.NUMBER: [self.arithmetic] * 4 + [self.negative, self.number_function] * 2,
            T.TEXT: [self.concat, self.text_function, self.text_function],
            T.BOOLEAN: [self.logic] * 3
            + [self.comparison] * 4
            + [self.in_list, self.between, self.like, self.is_null, self.text_test] * 2,
            T.DATE: [self.date_function],
            T.DATETIME: [lambda d: f"coalesce({self.expr(T.DATETIME, d)}, now())"],
            T.LIST: [],
        }

    def pick(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def text_literal(self) -> str:
        length = self.rng.randint(0, 4)
        return quote("".join(self.pick(TEXT_ALPHABET) for _ in range(length)))

    def number_literal(self) -> str:
        if self.rng.random() < 0.5:
            text = str(self.rng.randint(-50, 50))
        else:
            text = repr(self.rng.randint(-400, 400) / 4)
        return f"({text})" if text.startswith("-") else text

    def date_literal(self) -> str:
        day = dt.date(2000, 1, 1) + dt.timedelta(days=self.rng.randint(0, 11_000))
        return quote(day.isoformat())

    def datetime_literal(self) -> str:
        moment = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=self.rng.randint(0, 10**9))
        return quote(moment.isoformat(sep=" "))

    def leaf(self, expr_type: ExprType) -> str:
        roll = self.rng.random()
        if roll < 0.55:
            return self.pick(FIELDS[expr_type])
        if roll < 0.8:
            literal = {
                T.NUMBER: self.number_literal,
                T.TEXT: self.text_literal,
                T.BOOLEAN: lambda: self.pick(["true", "false"]),
                T.DATE: lambda: self.pick(["today()", "add_days(today(), -40)"]),
                T.DATETIME: lambda: "now()",
                T.LIST: lambda: self.pick(FIELDS[T.LIST]),
            }[expr_type]
            return literal()
        if roll < 0.9 and expr_type in PARAMS:
            return PARAMS[expr_type]
        return "null"

    def expr(self, expr_type: ExprType, depth: int) -> str:
        builders = self.compound[expr_type]
        if depth <= 0 or not builders or self.rng.random() < 0.3:
            return self.leaf(expr_type)
        return self.pick(builders)(depth - 1)

    def operand(self, expr_type: ExprType, depth: int) -> str:
        """A comparison operand; dates there may also be ISO text literals."""
        if expr_type is T.DATE and self.rng.random() < 0.3:
            return self.date_literal()
        if expr_type is T.DATETIME and self.rng.random() < 0.3:
            return self.datetime_literal()
        return self.expr(expr_type, depth)

    # -- NUMBER ----------------------------------------------------------------------------

    def arithmetic(self, d: int) -> str:
        op = self.pick(["+", "-", "*", "/"])
        return f"({self.expr(T.NUMBER, d)} {op} {self.expr(T.NUMBER, d)})"

    def negative(self, d: int) -> str:
        return f"-({self.expr(T.NUMBER, d)})"

    def number_function(self, d: int) -> str:
        n = lambda: self.expr(T.NUMBER, d)  # noqa: E731
        day = lambda: self.expr(T.DATE, d)  # noqa: E731
        return self.pick(
            [
                lambda: f"abs({n()})",
                lambda: f"round({n()})",
                lambda: f"round({n()}, {self.rng.randint(0, 2)})",
                lambda: f"ceil({n()})",
                lambda: f"floor({n()})",
                lambda: f"length({self.expr(T.TEXT, d)})",
                lambda: f"year({self.expr(self.pick([T.DATE, T.DATETIME]), d)})",
                lambda: f"month({day()})",
                lambda: f"day({self.expr(self.pick([T.DATE, T.DATETIME]), d)})",
                lambda: f"days_between({day()}, {day()})",
                lambda: f"coalesce({n()}, {n()})",
            ]
        )()

    # -- TEXT ------------------------------------------------------------------------------

    def concat(self, d: int) -> str:
        return f"({self.expr(T.TEXT, d)} || {self.expr(T.TEXT, d)})"

    def text_function(self, d: int) -> str:
        t = lambda: self.expr(T.TEXT, d)  # noqa: E731
        return self.pick(
            [
                lambda: f"lower({t()})",
                lambda: f"upper({t()})",
                lambda: f"trim({t()})",
                lambda: f"coalesce({t()}, {t()}, {t()})",
            ]
        )()

    # -- DATE ------------------------------------------------------------------------------

    def date_function(self, d: int) -> str:
        count = self.leaf(T.NUMBER)
        return self.pick(
            [
                lambda: f"add_days({self.expr(T.DATE, d)}, {count})",
                lambda: f"add_months({self.expr(T.DATE, d)}, {count})",
                lambda: f"date({self.expr(T.DATETIME, d)})",
                lambda: f"coalesce({self.expr(T.DATE, d)}, {self.expr(T.DATE, d)})",
            ]
        )()

    # -- BOOLEAN ---------------------------------------------------------------------------

    def negate(self) -> str:
        return self.pick(["", "not "])

    def logic(self, d: int) -> str:
        if self.rng.random() < 0.25:
            return f"not ({self.expr(T.BOOLEAN, d)})"
        op = self.pick(["and", "or"])
        return f"({self.expr(T.BOOLEAN, d)} {op} {self.expr(T.BOOLEAN, d)})"

    def comparison(self, d: int) -> str:
        expr_type = self.pick(list(COMPARISONS))
        op = self.pick(COMPARISONS[expr_type])
        return f"({self.operand(expr_type, d)} {op} {self.operand(expr_type, d)})"

    def in_list(self, d: int) -> str:
        if self.rng.random() < 0.25:
            return f"({self.expr(T.NUMBER, d)} {self.negate()}in :user.ids)"
        expr_type = self.pick([T.NUMBER, T.TEXT, T.DATE])
        items = [self.operand(expr_type, 0) for _ in range(self.rng.randint(1, 3))]
        operand = self.expr(expr_type, d)
        return f"({operand} {self.negate()}in ({', '.join(items)}))"

    def between(self, d: int) -> str:
        expr_type = self.pick([T.NUMBER, T.TEXT, T.DATE])
        a, b, c = (self.operand(expr_type, d) for _ in range(3))
        return f"({a} {self.negate()}between {b} and {c})"

    def like(self, d: int) -> str:
        pattern = self.pick([self.text_literal(), self.expr(T.TEXT, d)])
        return f"({self.expr(T.TEXT, d)} {self.negate()}like {pattern})"

    def is_null(self, d: int) -> str:
        operand = self.expr(self.pick(list(FIELDS)), d)
        return f"({operand} is {self.negate()}null)"

    def text_test(self, d: int) -> str:
        t = lambda: self.expr(T.TEXT, d)  # noqa: E731
        return self.pick(
            [
                lambda: f"has({self.expr(T.LIST, d)}, {t()})",
                lambda: f"starts_with({t()}, {t()})",
                lambda: f"contains({t()}, {t()})",
            ]
        )()

    def top_level(self) -> str:
        expr_type = self.pick([T.BOOLEAN, T.BOOLEAN, T.BOOLEAN, T.NUMBER, T.TEXT, T.DATE])
        return self.expr(expr_type, 4 if expr_type is T.BOOLEAN else 3)


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
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rng=st.randoms(use_true_random=True),
    accounts=accounts,
    opportunities=opportunities,
    params=parameters,
)
def test_random_expression_sql_matches_memory(store, rng, accounts, opportunities, params):
    store.clear()
    store.add("account", *accounts)
    store.add("opportunity", *opportunities)

    # Several expressions per example: the records are the expensive part to set up. They
    # come from a seeded Random, as Hypothesis-driven choices favour a few branches heavily
    generator = ExpressionGenerator(rng)
    for source in (generator.top_level() for _ in range(EXPRESSIONS_PER_EXAMPLE)):
        checked = check(source, CATALOG, "opportunity", params)

        # As a value, for every record
        sql_values = store.sql_values(checked, params, NOW)
        memory_values = store.memory_values(checked, params, NOW)
        assert sql_values.keys() == memory_values.keys()
        for record_id, memory in memory_values.items():
            sql = sql_values[record_id]
            assert same_value(sql, memory), (source, record_id, sql, memory)

        # As a filter: WHERE keeps exactly the records whose value is true
        # (also compiled as a predicate, where dotted-path comparisons become semi-joins)
        if checked.type is T.BOOLEAN:
            expected = store.memory_ids(checked, params, NOW)
            assert store.sql_ids(checked, params, NOW) == expected, source
            assert store.sql_ids(checked, params, NOW, predicate=True) == expected, source
