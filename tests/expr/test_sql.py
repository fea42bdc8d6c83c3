"""Compile and run on SQLite and PostgreSQL: filters, dotted paths, parameters, functions.
Every case also checks that evaluate() agrees with the database."""

from __future__ import annotations

import datetime as dt

import pytest

from dealcraft.expr import check, to_sql

from .schema import BINDER, CATALOG

NOW = dt.datetime(2026, 2, 10, 9, 30)
PARAMS = {
    "user": {"id": 7, "region": "华东", "deal_room_accounts": [1, 3], "nobody": None},
    "today": dt.date(2026, 2, 10),
}

ACCOUNTS = [
    {
        "id": 1,
        "name": "Acme_Co",
        "region": "华东",
        "score": 10,
        "ratio": 0.25,
        "active": True,
        "opened": dt.date(2026, 1, 31),
        "seen": dt.datetime(2026, 2, 9, 23, 59, 59, 500000),
        "tags": ["vip", "a_b"],
        "parent": 2,
    },
    {
        "id": 2,
        "name": "beta",
        "region": "华北",
        "score": None,
        "ratio": -1.5,
        "active": False,
        "opened": dt.date(2024, 2, 29),
        "seen": None,
        "tags": ["axb"],
        "parent": None,
    },
    {"id": 3, "name": None, "region": None, "tags": None, "parent": 99},
]
OPPORTUNITIES = [
    {
        "id": 1,
        "title": "Big deal",
        "amount": 100.0,
        "qty": 3,
        "won": True,
        "close_date": dt.date(2026, 3, 1),
        "account": 1,
    },
    {
        "id": 2,
        "title": "small",
        "amount": 7.5,
        "qty": 0,
        "won": False,
        "close_date": dt.date(2025, 12, 31),
        "account": 2,
    },
    {
        "id": 3,
        "title": None,
        "amount": None,
        "qty": None,
        "won": None,
        "close_date": None,
        "account": None,
    },
    {
        "id": 4,
        "title": "Zeta",
        "amount": 0.0,
        "qty": -2,
        "won": True,
        "close_date": dt.date(2026, 2, 10),
        "account": 3,
    },
]


@pytest.fixture
def loaded(store):
    store.add("account", *ACCOUNTS)
    store.add("opportunity", *OPPORTUNITIES)
    return store


def matching(store, source, object_name="opportunity"):
    checked = check(source, CATALOG, object_name, PARAMS)
    ids = store.sql_ids(checked, PARAMS, NOW)
    assert ids == store.memory_ids(checked, PARAMS, NOW), source
    return ids


def values(store, source, object_name="opportunity"):
    checked = check(source, CATALOG, object_name, PARAMS)
    sql = store.sql_values(checked, PARAMS, NOW)
    assert sql == store.memory_values(checked, PARAMS, NOW), source
    return sql


BASE_FILTERS = [
    ("amount > 50", {1}),
    ("amount >= 7.5 and won", {1}),
    ("not won", {2}),
    ("won or amount = 7.5", {1, 2, 4}),
    ("title <> 'small'", {1, 4}),
    ("qty in (0, 3)", {1, 2}),
    ("qty not in (0, null)", set()),
    ("qty between -2 and 0", {2, 4}),
    ("title like 'B%'", {1}),
    ("title like '_mall'", {2}),
    ("title not like '%a%'", set()),
    ("title is null", {3}),
    ("title is not null and amount is not null", {1, 2, 4}),
    ("amount / qty > 30", {1}),
    ("amount / qty is null", {2, 3}),
    ("-amount < -50", {1}),
    ("amount * 2 + 1 = 201", {1}),
    ("qty = 3.0", {1}),
    ("title || '!' = 'Zeta!'", {4}),
    ("title < 'a'", {1, 4}),
    ("close_date < '2026-01-01'", {2}),
    ("close_date between '2026-02-10' and '2026-03-01'", {1, 4}),
]


def test_filter_on_base_fields_matches(loaded):
    # One test per table, not per case: each PostgreSQL test costs a fresh database
    failures = [
        (source, got, expected)
        for source, expected in BASE_FILTERS
        if (got := matching(loaded, source)) != expected
    ]
    assert not failures


PATH_FILTERS = [
    ("account.region = '华东'", {1}),
    ("account.score > 5", {1}),
    ("account.parent.name = 'beta'", {1}),
    ("account.parent.name is null", {2, 3, 4}),
    ("account.active = false", {2}),
    ("account_id = 2", {2}),
    ("account.opened < close_date", {1, 2}),
]


def test_filter_through_reference_paths_matches(loaded):
    # One test per table, not per case: each PostgreSQL test costs a fresh database
    failures = [
        (source, got, expected)
        for source, expected in PATH_FILTERS
        if (got := matching(loaded, source)) != expected
    ]
    assert not failures


PARAM_FILTERS = [
    ("account.region = :user.region", {1}),
    ("account in :user.deal_room_accounts", {1, 4}),
    ("account not in :user.deal_room_accounts", {2}),
    ("close_date = :today", {4}),
    ("close_date = today()", {4}),
    ("account.seen < now()", {1}),
    ("title = :user.nobody", set()),
    (":user.nobody is null and won", {1, 4}),
]


def test_filter_with_parameters_matches(loaded):
    # One test per table, not per case: each PostgreSQL test costs a fresh database
    failures = [
        (source, got, expected)
        for source, expected in PARAM_FILTERS
        if (got := matching(loaded, source)) != expected
    ]
    assert not failures


FUNCTION_VALUES = [
    ("lower(name)", {1: "acme_co", 2: "beta", 3: None}),
    ("upper(name)", {1: "ACME_CO", 2: "BETA", 3: None}),
    ("length(region)", {1: 2, 2: 2, 3: None}),
    ("trim('  ' || name || ' ')", {1: "Acme_Co", 2: "beta", 3: None}),
    ("coalesce(score, 0, 1)", {1: 10, 2: 0, 3: 0}),
    ("abs(ratio)", {1: 0.25, 2: 1.5, 3: None}),
    ("round(ratio)", {1: 0.0, 2: -2.0, 3: None}),
    ("round(ratio, 1)", {1: 0.3, 2: -1.5, 3: None}),
    ("ceil(ratio)", {1: 1, 2: -1, 3: None}),
    ("floor(ratio)", {1: 0, 2: -2, 3: None}),
    ("year(opened)", {1: 2026, 2: 2024, 3: None}),
    ("month(opened)", {1: 1, 2: 2, 3: None}),
    ("day(seen)", {1: 9, 2: None, 3: None}),
    ("add_days(opened, 1)", {1: dt.date(2026, 2, 1), 2: dt.date(2024, 3, 1), 3: None}),
    ("add_months(opened, 1)", {1: dt.date(2026, 2, 28), 2: dt.date(2024, 3, 29), 3: None}),
    ("add_months(opened, -12)", {1: dt.date(2025, 1, 31), 2: dt.date(2023, 2, 28), 3: None}),
    ("days_between(opened, today())", {1: 10, 2: 712, 3: None}),
    ("date(seen)", {1: dt.date(2026, 2, 9), 2: None, 3: None}),
    ("has(tags, 'a_b')", {1: True, 2: False, 3: None}),
    ("has(tags, 'vip') or has(tags, 'x')", {1: True, 2: False, 3: None}),
    ("starts_with(name, 'Acme_')", {1: True, 2: False, 3: None}),
    ("starts_with(name, 'Acme%')", {1: False, 2: False, 3: None}),
    ("contains(name, 'e_C')", {1: True, 2: False, 3: None}),
    ("today()", {1: dt.date(2026, 2, 10), 2: dt.date(2026, 2, 10), 3: dt.date(2026, 2, 10)}),
    ("now()", {1: NOW, 2: NOW, 3: NOW}),
    ("tags", {1: ["vip", "a_b"], 2: ["axb"], 3: None}),
]


def test_function_value_matches(loaded):
    # One test per table, not per case: each PostgreSQL test costs a fresh database
    failures = [
        (source, got, expected)
        for source, expected in FUNCTION_VALUES
        if (got := values(loaded, source, "account")) != expected
    ]
    assert not failures


def test_semantics_edge_cases(loaded):
    # like is case-sensitive on both backends
    assert matching(loaded, "name like 'acme%'", "account") == set()
    assert matching(loaded, "name like 'Acme%'", "account") == {1}
    # has() escapes LIKE wildcards: "a_b" must not match the stored "axb"
    assert matching(loaded, "has(tags, 'a_b')", "account") == {1}
    # division by zero and comparison with NULL give NULL
    assert values(loaded, "amount / qty")[2] is None
    assert values(loaded, "title = null") == {1: None, 2: None, 3: None, 4: None}


# As a WHERE condition, a comparison on a dotted path becomes a semi-join; where NULL and
# false would differ (under NOT, inside a function, "is null") it must stay a subquery.
PREDICATE_FILTERS = [
    ("account.region = '华东'", {1}, True),
    ("account.region = :user.region or amount < 10", {1, 2, 4}, True),
    ("account.parent.name = 'beta' and won", {1}, True),
    ("account.region in ('华东', '华北')", {1, 2}, True),
    ("account.name like 'Acme%'", {1}, True),
    ("account.score between 1 and 10", {1}, True),
    ("not (account.region = '华北')", {1}, False),
    ("coalesce(account.region, 'none') = 'none'", {3, 4}, False),
    ("account.parent.name is null", {2, 3, 4}, False),
    ("account.opened < close_date", {1, 2}, False),
]


def test_filter_on_dotted_paths_as_semi_joins_matches(loaded):
    failures = []
    for source, expected, rewritten in PREDICATE_FILTERS:
        checked = check(source, CATALOG, "opportunity", PARAMS)
        base = BINDER.table("opportunity")
        condition = to_sql(checked, BINDER, base, params=PARAMS, now=NOW, predicate=True)
        sql = str(condition.compile(dialect=loaded.conn.dialect))
        got = loaded.sql_ids(checked, PARAMS, NOW, predicate=True)
        memory = loaded.memory_ids(checked, PARAMS, NOW)
        if got != expected or memory != expected or (" IN (SELECT" in sql) != rewritten:
            failures.append((source, got, expected, sql))
    assert not failures
