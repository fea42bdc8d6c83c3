"""Recording audit entries inside the caller's write transaction."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dealcraft.audit import SHARD_INFO_KEY, AuditLog
from dealcraft.audit.tables import entries
from dealcraft.db import migrate
from dealcraft.db.tx import write_transaction
from dealcraft.errors import InvalidInput

from .conftest import append, count_entries, head, row


def test_record_on_several_shards_verifies_ok(audit_engine, audit):
    # Given entries written on three shards
    append(audit_engine, audit, 3, shard=0)
    append(audit_engine, audit, 2, shard=5, action="auth.login", category="auth")
    append(audit_engine, audit, 4, shard=15, action="export", category="export")

    # When the trail is verified, then every entry checks out
    result = audit.verify(audit_engine)
    assert result.ok, result
    assert result.checked == 9
    assert result.first_bad is None and result.reason is None
    assert head(audit_engine, 15)["seq"] == 4
    assert [row(audit_engine, 5, s)["seq"] for s in (1, 2)] == [1, 2]


def test_record_chains_each_entry_to_the_previous(audit_engine, audit):
    append(audit_engine, audit, 3, shard=2)

    first, second, third = (row(audit_engine, 2, s) for s in (1, 2, 3))
    assert first["prev_hash"] == "0" * 64
    assert second["prev_hash"] == first["hash"]
    assert third["prev_hash"] == second["hash"]
    assert head(audit_engine, 2)["hash"] == third["hash"]


def test_record_in_rolled_back_transaction_leaves_no_entry(audit_engine, audit):
    # Given one committed entry
    append(audit_engine, audit, 1, shard=0)
    before = head(audit_engine, 0)

    # When a write transaction records an entry and then fails
    with pytest.raises(RuntimeError, match="write failed"):
        with write_transaction(audit_engine) as conn:
            conn.info[SHARD_INFO_KEY] = 0
            audit.record(conn, action="record.create", category="data", actor_id=1)
            raise RuntimeError("write failed")

    # Then neither the entry nor the head moved, and the trail still verifies
    assert count_entries(audit_engine) == 1
    assert head(audit_engine, 0) == before
    assert audit.verify(audit_engine).ok


def test_record_outside_transaction_is_refused(audit_engine, audit):
    with audit_engine.connect() as conn:
        with pytest.raises(RuntimeError, match="inside an open transaction"):
            audit.record(conn, action="auth.login", category="auth", actor_id=1)
    assert count_entries(audit_engine) == 0


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"action": "record.update", "category": "Data"}, "category"),
        ({"action": "", "category": "data"}, "action"),
        ({"action": "record.update", "category": "data", "record_id": "12"}, "record_id"),
        ({"action": "record.update", "category": "data", "purpose": "p" * 64}, "purpose"),
    ],
)
def test_record_invalid_entry_is_refused_and_nothing_written(audit_engine, audit, entry, field):
    with pytest.raises(InvalidInput) as caught:
        with write_transaction(audit_engine) as conn:
            audit.record(conn, actor_id=1, **entry)
    assert caught.value.code == "invalid_audit_entry"
    assert caught.value.details["field"] == field
    assert count_entries(audit_engine) == 0


def test_record_values_beyond_json_are_stored_plainly_and_verify_ok(audit_engine, audit):
    # Given old and new values holding a datetime, a date, a Decimal and a set
    data = {
        "old": {"amount": Decimal("1200.50"), "close_date": date(2026, 3, 1)},
        "new": {
            "amount": Decimal("1300"),
            "seen_at": datetime(2026, 3, 2, 9, 30),
            "tags": {"b", "a"},
        },
    }
    with write_transaction(audit_engine) as conn:
        audit.record(
            conn,
            action="record.update",
            category="data",
            actor_id=3,
            object_name="opportunity",
            record_id=42,
            data=data,
            purpose="sales_followup",
        )

    # Then the entry reads back as plain JSON and the trail verifies
    (entry,) = audit.query(audit_engine, record_id=42)
    assert entry["data"] == {
        "old": {"amount": "1200.50", "close_date": "2026-03-01"},
        "new": {"amount": "1300", "seen_at": "2026-03-02T09:30:00", "tags": ["a", "b"]},
    }
    assert entry["purpose"] == "sales_followup"
    assert audit.verify(audit_engine).ok


def test_record_many_in_one_transaction_uses_one_shard(audit_engine, audit):
    # Given one transaction that records three entries, one at a time and as a batch
    with write_transaction(audit_engine) as conn:
        audit.record(conn, action="record.create", category="data", actor_id=1, record_id=1)
        audit.record_many(
            conn,
            [
                {"action": "record.create", "category": "data", "actor_id": 1, "record_id": 2},
                {"action": "record.create", "category": "data", "actor_id": 1, "record_id": 3},
            ],
        )

    # Then all three went into one chain, in order
    with audit_engine.connect() as conn:
        rows = conn.execute(sa.select(entries.c.shard, entries.c.seq).order_by(entries.c.id)).all()
    assert len({shard for shard, _ in rows}) == 1
    assert [seq for _, seq in rows] == [1, 2, 3]
    assert audit.verify(audit_engine).ok


def test_record_beyond_seeded_shards_creates_the_head(audit_engine):
    audit = AuditLog(shards=20)
    append(audit_engine, audit, 2, shard=18)

    assert head(audit_engine, 18)["seq"] == 2
    assert audit.verify(audit_engine).ok


# PostgreSQL: writers on different shards run side by side ---------------------------------


def test_record_from_concurrent_writers_on_postgresql_all_verify(pg_engine):
    # Given sixteen threads, each writing entries in its own transactions, while verify runs
    migrate.upgrade(pg_engine)
    audit = AuditLog()
    threads, per_thread = 16, 20
    errors: list[BaseException] = []
    verdicts = []
    start = threading.Barrier(threads + 1)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with write_transaction(pg_engine) as conn:
                    audit.record(
                        conn,
                        action="record.update",
                        category="data",
                        actor_id=n,
                        record_id=i,
                        data={"thread": n, "i": i},
                    )
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    while any(w.is_alive() for w in workers):
        verdicts.append(audit.verify(pg_engine).ok)
    for w in workers:
        w.join()

    # Then every entry was written, the chains verify, and no verify during writing failed
    assert errors == []
    assert count_entries(pg_engine) == threads * per_thread
    result = audit.verify(pg_engine)
    assert result.ok, result
    assert result.checked == threads * per_thread
    assert all(verdicts)
    with pg_engine.connect() as conn:
        used = conn.execute(sa.select(sa.func.count(sa.distinct(entries.c.shard)))).scalar()
    assert used > 1


def test_record_on_another_shard_does_not_wait_on_postgresql(pg_engine):
    # Given a transaction holding shard 0's head, open and uncommitted
    migrate.upgrade(pg_engine)
    audit = AuditLog()
    holder = pg_engine.connect()
    holder.info[SHARD_INFO_KEY] = 0
    holder.begin()
    audit.record(holder, action="record.update", category="data", actor_id=1)
    try:
        # When another writer records on shard 1, it commits at once
        started = time.monotonic()
        with write_transaction(pg_engine) as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            conn.info[SHARD_INFO_KEY] = 1
            audit.record(conn, action="record.update", category="data", actor_id=2)
        assert time.monotonic() - started < 1.5

        # While a writer on shard 0 waits for the holder (and here gives up)
        with pytest.raises(sa.exc.OperationalError, match="lock"):
            with write_transaction(pg_engine) as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                conn.info[SHARD_INFO_KEY] = 0
                audit.record(conn, action="record.update", category="data", actor_id=3)
    finally:
        holder.commit()
        holder.close()
    assert count_entries(pg_engine) == 2
    assert audit.verify(pg_engine).ok
