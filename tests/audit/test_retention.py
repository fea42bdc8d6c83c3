"""Retention: purging expired categories while the chains stay verifiable."""

from __future__ import annotations

from datetime import datetime

import pytest

from dealcraft.audit import chain
from dealcraft.errors import InvalidInput

from .conftest import append, count_entries, head, row, tamper

NOW = datetime(2025, 6, 1, 12, 0)


def append_at(monkeypatch, engine, audit, when: datetime, **entry) -> None:
    monkeypatch.setattr("dealcraft.audit.log.utcnow", lambda: when)
    append(engine, audit, 1, **entry)
    monkeypatch.undo()


@pytest.fixture
def aged_trail(monkeypatch, audit_engine, audit):
    """Shard 0, oldest first: auth 2015-01, data 2015-08, auth 2016, auth 2024, data 2024."""
    for when, category, action in (
        (datetime(2015, 1, 5), "auth", "auth.login"),
        (datetime(2015, 8, 1), "data", "record.update"),
        (datetime(2016, 3, 1), "auth", "auth.login_failed"),
        (datetime(2024, 9, 1), "auth", "auth.login"),
        (datetime(2024, 9, 2), "data", "record.update"),
    ):
        append_at(
            monkeypatch,
            audit_engine,
            audit,
            when,
            shard=0,
            category=category,
            action=action,
            object_name="account",
            record_id=1,
        )
    return audit_engine


def test_purge_removes_only_expired_categories(aged_trail, audit):
    # When auth is kept 2 years and data 10
    purged = audit.purge(aged_trail, {"auth": 2, "data": 10}, now=NOW)

    # Then the two old auth entries were purged and both data entries kept
    assert purged == 2
    entries = audit.query(aged_trail, object_name="account")
    assert [(e["category"], e["at"].year) for e in entries] == [
        ("data", 2024),
        ("auth", 2024),
        ("data", 2015),
    ]
    assert audit.verify(aged_trail).ok


def test_purge_tombstones_middle_and_compacts_prefix(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2, "data": 10}, now=NOW)

    # The leading 2015 auth entry is gone and the anchor sits on it
    anchor = head(aged_trail, 0)
    assert anchor["anchor_seq"] == 1
    # The 2016 auth entry between two data entries is a tombstone: header kept, content gone
    tombstone = row(aged_trail, 0, 3)
    assert tombstone["purged_at"] is not None
    assert tombstone["action"] == "auth.login_failed"
    assert (tombstone["actor_id"], tombstone["record_id"], tombstone["data"]) == (None, None, None)
    assert row(aged_trail, 0, 2)["purged_at"] is None
    result = audit.verify(aged_trail)
    assert result.ok, result
    assert result.checked == 5  # seq 2..5 and the purge entry


def test_purge_is_recorded_with_cutoffs_and_anchors(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2}, now=NOW, actor_id=1)

    (entry,) = audit.query(aged_trail, action="audit.purge")
    assert entry["category"] == "admin"
    assert entry["actor_id"] == 1
    assert entry["data"]["retention_years"] == {"auth": 2}
    assert entry["data"]["cutoffs"] == {"auth": "2023-06-01T12:00:00"}
    assert entry["data"]["purged"] == 2
    anchor = head(aged_trail, 0)
    assert entry["data"]["anchors"]["0"] == [1, anchor["anchor_hash"]]
    assert anchor["anchor_hash"] != chain.GENESIS
    assert entry["data"]["anchors"]["5"] == [0, chain.GENESIS]


def test_purge_again_with_longer_retention_keeps_verify_ok(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2}, now=NOW)
    audit.purge(aged_trail, {"auth": 20}, now=NOW)

    # The earlier tombstones stay legitimate: cutoffs never move back
    (latest, _) = audit.query(aged_trail, action="audit.purge")
    assert latest["data"]["cutoffs"] == {"auth": "2023-06-01T12:00:00"}
    assert audit.verify(aged_trail).ok


def test_purge_of_every_entry_deletes_the_chain_and_writing_continues(aged_trail, audit):
    # When everything on shard 0 expires
    purged = audit.purge(aged_trail, {"auth": 0, "data": 0}, now=NOW)

    # Then its rows are gone, the anchor is the old head, and new entries chain on
    assert purged == 5
    assert head(aged_trail, 0)["anchor_seq"] == 5
    append(aged_trail, audit, 2, shard=0)
    assert head(aged_trail, 0)["seq"] >= 7
    assert audit.verify(aged_trail).ok


def test_purge_then_admin_purge_of_old_purges_keeps_verify_ok(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2}, now=NOW)
    audit.purge(aged_trail, {"admin": 0}, now=datetime(2100, 1, 1))

    entries = audit.query(aged_trail, action="audit.purge")
    assert [e["purged"] for e in entries] == [False, True]
    assert audit.verify(aged_trail).ok


@pytest.mark.parametrize(
    "retention", [{}, {"auth": -1}, {"auth": 2.5}, {"auth": True}, {"Auth Log": 2}]
)
def test_purge_with_invalid_retention_is_refused_and_nothing_changes(aged_trail, audit, retention):
    with pytest.raises(InvalidInput) as caught:
        audit.purge(aged_trail, retention, now=NOW)

    assert caught.value.code == "invalid_retention"
    assert count_entries(aged_trail) == 5
    assert audit.query(aged_trail, action="audit.purge") == []


def test_edit_live_entry_after_purge_is_caught(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2}, now=NOW)
    target = row(aged_trail, 0, 2)
    tamper(aged_trail, "UPDATE dc_audit SET record_id = 2 WHERE id = :id", id=target["id"])

    result = audit.verify(aged_trail)
    assert not result.ok
    assert result.first_bad == {"id": target["id"], "shard": 0, "seq": 2}


def test_erase_kept_category_after_purge_is_caught(aged_trail, audit):
    # The purge covered auth only; erasing a data entry as if purged is refused
    audit.purge(aged_trail, {"auth": 2}, now=NOW)
    target = row(aged_trail, 0, 2)
    tamper(
        aged_trail,
        "UPDATE dc_audit SET data = NULL, purged_at = :now WHERE id = :id",
        now=NOW,
        id=target["id"],
    )

    result = audit.verify(aged_trail)
    assert not result.ok
    assert result.first_bad["id"] == target["id"]
    assert "no purge of category 'data'" in result.reason


def test_delete_latest_purge_entry_is_caught(aged_trail, audit):
    audit.purge(aged_trail, {"auth": 2}, now=NOW)
    (entry,) = audit.query(aged_trail, action="audit.purge")
    tamper(aged_trail, "DELETE FROM dc_audit WHERE id = :id", id=entry["id"])

    result = audit.verify(aged_trail)
    assert not result.ok
    # Without its purge entry the moved anchor is unaccounted for (and the tail is short)
    assert result.first_bad == {"id": None, "shard": 0, "seq": 1}
    assert "not the one the last purge recorded" in result.reason
