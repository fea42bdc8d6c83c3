"""Fixtures for the audit trail: a migrated engine on each backend and helpers to append."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from dealcraft.audit import SHARD_INFO_KEY, AuditLog
from dealcraft.audit.tables import entries, heads
from dealcraft.db import migrate
from dealcraft.db.tx import write_transaction


@pytest.fixture
def audit_engine(engine):
    """An engine on SQLite and on PostgreSQL with the system tables (and audit heads) made."""
    migrate.upgrade(engine)
    return engine


@pytest.fixture
def audit():
    return AuditLog()


def append(engine, audit: AuditLog, count: int = 1, *, shard: int = 0, **entry: Any) -> None:
    """Record ``count`` entries on ``shard``, each in its own write transaction."""
    entry.setdefault("action", "record.update")
    entry.setdefault("category", "data")
    entry.setdefault("actor_id", 7)
    for i in range(count):
        with write_transaction(engine) as conn:
            conn.info[SHARD_INFO_KEY] = shard
            audit.record(conn, **{"data": {"n": i}, **entry})


def row(engine, shard: int, seq: int) -> dict[str, Any]:
    with engine.connect() as conn:
        query = sa.select(entries).where(entries.c.shard == shard, entries.c.seq == seq)
        return dict(conn.execute(query).mappings().one())


def head(engine, shard: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(heads).where(heads.c.shard == shard)).mappings().one())


def count_entries(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one()


def tamper(engine, sql: str, **params: Any) -> None:
    """Change the audit tables directly, as someone with database access would."""
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
