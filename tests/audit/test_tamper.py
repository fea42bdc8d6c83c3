"""Tampering with the audit tables directly in the database: verify catches each change and
names the first bad entry."""

from __future__ import annotations

import pytest

from dealcraft.audit import chain

from .conftest import append, head, row, tamper


@pytest.fixture
def trail(audit_engine, audit):
    """Five entries on shard 0 and three on shard 1, written alternately, all verified."""
    for _ in range(3):
        append(audit_engine, audit, 1, shard=0)
        append(audit_engine, audit, 1, shard=1, action="auth.login", category="auth")
    append(audit_engine, audit, 2, shard=0)
    assert audit.verify(audit_engine).ok
    return audit_engine


def bad(audit, engine, shard: int, seq: int, entry_id: int | None, reason: str):
    result = audit.verify(engine)
    assert not result.ok
    assert result.first_bad == {"id": entry_id, "shard": shard, "seq": seq}, result
    assert reason in result.reason
    return result


# Edited entries ---------------------------------------------------------------------------


def test_edit_entry_data_names_the_entry(trail, audit):
    target = row(trail, 0, 3)
    tamper(trail, "UPDATE dc_audit SET data = NULL WHERE id = :id", id=target["id"])

    bad(audit, trail, 0, 3, target["id"], "does not match its contents: edited")


def test_edit_entry_actor_names_the_entry(trail, audit):
    target = row(trail, 1, 2)
    tamper(trail, "UPDATE dc_audit SET actor_id = 99 WHERE id = :id", id=target["id"])

    bad(audit, trail, 1, 2, target["id"], "edited")


def test_edit_entry_action_names_the_entry(trail, audit):
    target = row(trail, 0, 4)
    tamper(trail, "UPDATE dc_audit SET action = 'auth.login' WHERE id = :id", id=target["id"])

    bad(audit, trail, 0, 4, target["id"], "edited")


def test_edit_entry_time_names_the_entry(trail, audit):
    target = row(trail, 0, 2)
    tamper(
        trail,
        "UPDATE dc_audit SET at = :at WHERE id = :id",
        at=target["at"].replace(year=2001),
        id=target["id"],
    )

    bad(audit, trail, 0, 2, target["id"], "edited")


def test_edit_stored_body_hash_names_the_entry(trail, audit):
    target = row(trail, 0, 1)
    tamper(trail, "UPDATE dc_audit SET body_hash = :h WHERE id = :id", h="f" * 64, id=target["id"])

    bad(audit, trail, 0, 1, target["id"], "body hash was altered")


def test_edit_two_entries_names_the_older(trail, audit):
    # Shard 1 seq 1 was written before shard 0 seq 4; the older edit is named
    newer, older = row(trail, 0, 4), row(trail, 1, 1)
    for target in (newer, older):
        tamper(trail, "UPDATE dc_audit SET actor_id = 1 WHERE id = :id", id=target["id"])

    bad(audit, trail, 1, 1, older["id"], "edited")


def test_edit_entry_with_recomputed_hash_names_the_next_entry(trail, audit):
    # The attacker recomputes the edited entry's own hash; its successor no longer links
    target, after = row(trail, 0, 2), row(trail, 0, 3)
    body = chain.body_hash(99, None, None, None, target["data"])
    digest = chain.entry_hash(
        0, 2, target["prev_hash"], target["at"], "data", "record.update", body
    )
    tamper(
        trail,
        "UPDATE dc_audit SET actor_id = 99, body_hash = :b, hash = :h WHERE id = :id",
        b=body,
        h=digest,
        id=target["id"],
    )

    bad(audit, trail, 0, 3, after["id"], "prev_hash does not match")


# Deleted entries ---------------------------------------------------------------------------


def test_delete_middle_entry_names_the_entry_after_it(trail, audit):
    gone, after = row(trail, 0, 3), row(trail, 0, 4)
    tamper(trail, "DELETE FROM dc_audit WHERE id = :id", id=gone["id"])

    bad(audit, trail, 0, 4, after["id"], "entry seq 3 of shard 0 is missing")


def test_delete_first_entry_names_the_new_first(trail, audit):
    gone, after = row(trail, 1, 1), row(trail, 1, 2)
    tamper(trail, "DELETE FROM dc_audit WHERE id = :id", id=gone["id"])

    bad(audit, trail, 1, 2, after["id"], "missing")


def test_delete_tail_entry_names_the_missing_seq(trail, audit):
    tamper(trail, "DELETE FROM dc_audit WHERE shard = 0 AND seq = 5")

    bad(audit, trail, 0, 5, None, "entries at the tail were deleted")


def test_delete_whole_shard_names_its_first_seq(trail, audit):
    tamper(trail, "DELETE FROM dc_audit WHERE shard = 1")

    bad(audit, trail, 1, 1, None, "tail were deleted")


def test_delete_tail_and_roll_back_head_is_caught_by_checkpoint(trail, audit):
    # Given heads copied out of the database before the attack
    checkpoint = audit.heads(trail)

    # When the tail entry is deleted and the head rewound consistently
    previous = row(trail, 0, 4)
    tamper(trail, "DELETE FROM dc_audit WHERE shard = 0 AND seq = 5")
    tamper(trail, "UPDATE dc_audit_head SET seq = 4, hash = :h WHERE shard = 0", h=previous["hash"])

    # Then the database alone looks consistent, but the checkpoint shows the loss
    assert audit.verify(trail).ok
    result = audit.verify(trail, checkpoint=checkpoint)
    assert not result.ok
    assert result.first_bad == {"id": None, "shard": 0, "seq": 5}
    assert "present at the checkpoint, is gone" in result.reason


# Inserted entries --------------------------------------------------------------------------


def test_insert_entry_into_chain_names_the_entry_after_it(trail, audit):
    # Given the attacker shifts seq 3.. up by one and writes a well-formed entry at seq 3
    before, displaced = row(trail, 0, 2), row(trail, 0, 3)
    tamper(trail, "UPDATE dc_audit SET seq = seq + 1000 WHERE shard = 0 AND seq >= 3")
    tamper(trail, "UPDATE dc_audit SET seq = seq - 999 WHERE shard = 0 AND seq >= 1000")
    tamper(trail, "UPDATE dc_audit_head SET seq = 6 WHERE shard = 0")
    body = chain.body_hash(1, None, None, None, None)
    digest = chain.entry_hash(0, 3, before["hash"], before["at"], "data", "record.delete", body)
    tamper(
        trail,
        "INSERT INTO dc_audit (shard, seq, at, category, action, actor_id, body_hash, "
        "prev_hash, hash) VALUES (0, 3, :at, 'data', 'record.delete', 1, :b, :p, :h)",
        at=before["at"],
        b=body,
        p=before["hash"],
        h=digest,
    )

    # Then the forged entry links, but the displaced one no longer does
    bad(audit, trail, 0, 4, displaced["id"], "prev_hash does not match")


def test_insert_entry_beyond_head_names_it(trail, audit):
    last = row(trail, 0, 5)
    body = chain.body_hash(1, None, None, None, None)
    digest = chain.entry_hash(0, 6, last["hash"], last["at"], "data", "record.update", body)
    tamper(
        trail,
        "INSERT INTO dc_audit (shard, seq, at, category, action, body_hash, prev_hash, hash) "
        "VALUES (0, 6, :at, 'data', 'record.update', :b, :p, :h)",
        at=last["at"],
        b=body,
        p=last["hash"],
        h=digest,
    )
    forged = row(trail, 0, 6)

    bad(audit, trail, 0, 6, forged["id"], "beyond the head of shard 0")


def test_insert_entry_in_unknown_shard_names_it(trail, audit):
    tamper(
        trail,
        "INSERT INTO dc_audit (shard, seq, at, category, action, body_hash, prev_hash, hash) "
        "VALUES (99, 1, :at, 'data', 'record.update', :z, :z, :z)",
        at=row(trail, 0, 1)["at"],
        z="0" * 64,
    )
    forged = row(trail, 99, 1)

    bad(audit, trail, 99, 1, forged["id"], "shard 99 has no head row")


# Reordered entries -------------------------------------------------------------------------


def test_reorder_entries_by_swapping_seq_names_the_earlier_position(trail, audit):
    second, fourth = row(trail, 0, 2), row(trail, 0, 4)
    tamper(trail, "UPDATE dc_audit SET seq = 1002 WHERE id = :id", id=second["id"])
    tamper(trail, "UPDATE dc_audit SET seq = 2 WHERE id = :id", id=fourth["id"])
    tamper(trail, "UPDATE dc_audit SET seq = 4 WHERE id = :id", id=second["id"])

    bad(audit, trail, 0, 2, fourth["id"], "prev_hash does not match")


def test_reorder_entries_by_swapping_ids_names_the_later_position(trail, audit):
    second, third = row(trail, 0, 2), row(trail, 0, 3)
    tamper(trail, "UPDATE dc_audit SET id = 100000 WHERE id = :id", id=second["id"])
    tamper(trail, "UPDATE dc_audit SET id = :new WHERE id = :id", new=second["id"], id=third["id"])
    tamper(trail, "UPDATE dc_audit SET id = :new WHERE id = 100000", new=third["id"])

    bad(audit, trail, 0, 3, second["id"], "out of chain order: rows were reordered")


def test_reorder_entries_by_swapping_contents_names_the_earlier(trail, audit):
    # Swap the links and seals of seq 2 and seq 3, keeping ids and positions
    a, b = row(trail, 0, 2), row(trail, 0, 3)
    for src, dst in ((a, b), (b, a)):
        tamper(
            trail,
            "UPDATE dc_audit SET prev_hash = :p, hash = :h WHERE id = :id",
            p=src["prev_hash"],
            h=src["hash"],
            id=dst["id"],
        )

    bad(audit, trail, 0, 2, a["id"], "prev_hash does not match")


# Heads ---------------------------------------------------------------------------------------


def test_edit_head_hash_names_the_head(trail, audit):
    tamper(trail, "UPDATE dc_audit_head SET hash = :h WHERE shard = 1", h="a" * 64)

    bad(audit, trail, 1, 3, None, "head of shard 1 does not match its last entry")


def test_delete_head_names_the_first_entry_of_its_shard(trail, audit):
    first = row(trail, 1, 1)
    tamper(trail, "DELETE FROM dc_audit_head WHERE shard = 1")

    bad(audit, trail, 1, 1, first["id"], "shard 1 has no head row")


def test_delete_head_of_unused_shard_names_the_head(trail, audit):
    tamper(trail, "DELETE FROM dc_audit_head WHERE shard = 7")

    bad(audit, trail, 7, 0, None, "head row of shard 7 was deleted")


def test_record_after_head_deleted_is_refused(trail, audit):
    from dealcraft.audit import AuditChainBroken

    tamper(trail, "DELETE FROM dc_audit_head WHERE shard = 1")
    with pytest.raises(AuditChainBroken) as caught:
        append(trail, audit, 1, shard=1)
    assert caught.value.code == "audit_chain_broken"


# Purge imitations --------------------------------------------------------------------------


def test_erase_content_as_if_purged_names_the_entry(trail, audit):
    target = row(trail, 0, 2)
    tamper(
        trail,
        "UPDATE dc_audit SET data = NULL, actor_id = NULL, purged_at = :now WHERE id = :id",
        now=target["at"],
        id=target["id"],
    )

    bad(audit, trail, 0, 2, target["id"], "no purge of category 'data' covers")


def test_delete_prefix_and_move_anchor_names_the_head(trail, audit):
    second = row(trail, 0, 2)
    tamper(trail, "DELETE FROM dc_audit WHERE shard = 0 AND seq <= 2")
    tamper(
        trail,
        "UPDATE dc_audit_head SET anchor_seq = 2, anchor_hash = :h WHERE shard = 0",
        h=second["hash"],
    )
    assert head(trail, 0)["anchor_seq"] == 2

    bad(audit, trail, 0, 2, None, "not the one the last purge recorded")
