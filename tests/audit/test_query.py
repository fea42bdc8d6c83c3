"""Reading the audit trail back by record, actor, action and time."""

from __future__ import annotations

from datetime import datetime

import pytest

from dealcraft.errors import InvalidInput

from .conftest import append


@pytest.fixture
def history(monkeypatch, audit_engine, audit):
    """rep_east (id 11) updates account 1 twice; legal (id 12) unmasks it; a login fails."""
    for when, entry in (
        (datetime(2026, 1, 1, 9), {"actor_id": 11, "action": "record.update", "record_id": 1}),
        (datetime(2026, 1, 2, 9), {"actor_id": 11, "action": "record.update", "record_id": 1}),
        (datetime(2026, 1, 3, 9), {"actor_id": 12, "action": "record.unmask", "record_id": 1}),
        (datetime(2026, 1, 4, 9), {"actor_id": 11, "action": "record.update", "record_id": 2}),
        (
            datetime(2026, 1, 5, 9),
            {
                "actor_id": None,
                "action": "auth.login_failed",
                "category": "auth",
                "object_name": None,
            },
        ),
    ):
        monkeypatch.setattr("dealcraft.audit.log.utcnow", lambda when=when: when)
        append(audit_engine, audit, 1, **{"object_name": "account", **entry})
    monkeypatch.undo()
    return audit_engine


def test_query_by_record_returns_its_entries_newest_first(history, audit):
    entries = audit.query(history, object_name="account", record_id=1)

    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("record.unmask", 12),
        ("record.update", 11),
        ("record.update", 11),
    ]
    assert entries[0]["at"] == datetime(2026, 1, 3, 9)
    assert set(entries[0]) >= {"id", "category", "data", "purpose", "shard", "seq", "hash"}


def test_query_by_actor_returns_only_their_entries(history, audit):
    entries = audit.query(history, actor_id=11)

    assert [e["record_id"] for e in entries] == [2, 1, 1]


def test_query_by_action_and_category(history, audit):
    assert [e["actor_id"] for e in audit.query(history, action="record.unmask")] == [12]
    assert [e["action"] for e in audit.query(history, category="auth")] == ["auth.login_failed"]


def test_query_time_window_includes_since_excludes_until(history, audit):
    entries = audit.query(history, since=datetime(2026, 1, 2, 9), until=datetime(2026, 1, 4, 9))

    assert [e["at"].day for e in entries] == [3, 2]


def test_query_pages_backwards_with_before_id(history, audit):
    first = audit.query(history, limit=2)
    second = audit.query(history, limit=2, before_id=first[-1]["id"])
    third = audit.query(history, limit=2, before_id=second[-1]["id"])

    days = [e["at"].day for e in first + second + third]
    assert days == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("limit", [0, 1001])
def test_query_limit_out_of_range_is_refused(history, audit, limit):
    with pytest.raises(InvalidInput) as caught:
        audit.query(history, limit=limit)
    assert caught.value.code == "invalid_limit"
    assert caught.value.details == {"field": "limit", "value": limit}
