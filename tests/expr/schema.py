"""A two-object test schema (account, opportunity) with its Catalog and SqlBinder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dealcraft.expr import Checked, ExprType, FieldRef, ListText, evaluate, to_sql

T = ExprType

metadata = sa.MetaData()

account = sa.Table(
    "account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200)),
    sa.Column("region", sa.String(200)),
    sa.Column("score", sa.BigInteger),
    sa.Column("ratio", sa.Float),
    sa.Column("active", sa.Boolean),
    sa.Column("opened", sa.Date),
    sa.Column("seen", sa.DateTime),
    sa.Column("tags", ListText),
    sa.Column("parent_id", sa.Integer),
)

opportunity = sa.Table(
    "opportunity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.String(200)),
    sa.Column("amount", sa.Float),
    sa.Column("qty", sa.BigInteger),
    sa.Column("won", sa.Boolean),
    sa.Column("close_date", sa.Date),
    sa.Column("account_id", sa.Integer),
)

TABLES = {"account": account, "opportunity": opportunity}

# object -> field name -> (FieldRef, column name)
FIELDS: dict[str, dict[str, tuple[FieldRef, str]]] = {
    "account": {
        "name": (FieldRef("name", T.TEXT), "name"),
        "region": (FieldRef("region", T.TEXT), "region"),
        "score": (FieldRef("score", T.NUMBER), "score"),
        "ratio": (FieldRef("ratio", T.NUMBER), "ratio"),
        "active": (FieldRef("active", T.BOOLEAN), "active"),
        "opened": (FieldRef("opened", T.DATE), "opened"),
        "seen": (FieldRef("seen", T.DATETIME), "seen"),
        "tags": (FieldRef("tags", T.LIST), "tags"),
        "parent": (FieldRef("parent", T.NUMBER, target="account"), "parent_id"),
    },
    "opportunity": {
        "title": (FieldRef("title", T.TEXT), "title"),
        "amount": (FieldRef("amount", T.NUMBER), "amount"),
        "qty": (FieldRef("qty", T.NUMBER), "qty"),
        "won": (FieldRef("won", T.BOOLEAN), "won"),
        "close_date": (FieldRef("close_date", T.DATE), "close_date"),
        "account": (FieldRef("account", T.NUMBER, target="account"), "account_id"),
    },
}
ALIASES = {("account", "parent_id"): "parent", ("opportunity", "account_id"): "account"}


class TestCatalog:
    def lookup(self, object_name: str, field_name: str) -> FieldRef | None:
        field_name = ALIASES.get((object_name, field_name), field_name)
        entry = FIELDS.get(object_name, {}).get(field_name)
        return entry[0] if entry else None


class TestBinder:
    def table(self, object_name: str) -> sa.FromClause:
        return TABLES[object_name].alias()

    def column(self, object_name: str, field_name: str, table: Any) -> sa.ColumnElement[Any]:
        return table.c[FIELDS[object_name][field_name][1]]

    def id_column(self, object_name: str, table: Any) -> sa.ColumnElement[Any]:
        return table.c.id


CATALOG = TestCatalog()
BINDER = TestBinder()


def to_row(object_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record keyed by field name as a row keyed by column name."""
    row = {"id": record["id"]}
    for name, (_ref, column) in FIELDS[object_name].items():
        row[column] = record.get(name)
    return row


class Store:
    """Records in memory and in the database, for comparing evaluate() with to_sql()."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.records: dict[str, dict[Any, dict[str, Any]]] = {"account": {}, "opportunity": {}}

    def clear(self) -> None:
        for name in ("opportunity", "account"):
            self.conn.execute(TABLES[name].delete())
            self.records[name].clear()

    def add(self, object_name: str, *records: Mapping[str, Any]) -> None:
        for record in records:
            self.records[object_name][record["id"]] = dict(record)
        rows = [to_row(object_name, record) for record in records]
        if rows:
            self.conn.execute(TABLES[object_name].insert(), rows)

    def fetch(self, object_name: str, record_id: Any) -> Mapping[str, Any] | None:
        return self.records[object_name].get(record_id)

    def sql_ids(
        self, checked: Checked, params: Any = None, now: Any = None, *, predicate: bool = False
    ) -> set[Any]:
        base = BINDER.table(checked.object_name)
        condition = to_sql(checked, BINDER, base, params=params, now=now, predicate=predicate)
        query = sa.select(base.c.id).where(condition)
        return {row[0] for row in self.conn.execute(query)}

    def sql_values(self, checked: Checked, params: Any = None, now: Any = None) -> dict[Any, Any]:
        base = BINDER.table(checked.object_name)
        value = to_sql(checked, BINDER, base, params=params, now=now)
        query = sa.select(base.c.id, value.label("value"))
        return {row[0]: row[1] for row in self.conn.execute(query)}

    def memory_ids(self, checked: Checked, params: Any = None, now: Any = None) -> set[Any]:
        return {
            record_id
            for record_id, value in self.memory_values(checked, params, now).items()
            if value is True
        }

    def memory_values(
        self, checked: Checked, params: Any = None, now: Any = None
    ) -> dict[Any, Any]:
        return {
            record_id: evaluate(checked, record, params=params, fetch=self.fetch, now=now)
            for record_id, record in self.records[checked.object_name].items()
        }
