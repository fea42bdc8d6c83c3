"""Checking the audit trail: every chain, from its anchor to its head, entry by entry."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dealcraft.audit import chain
from dealcraft.audit.actions import PURGE
from dealcraft.audit.log import DEFAULT_SHARDS
from dealcraft.audit.tables import entries, heads

logger = logging.getLogger(__name__)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad: dict[str, Any] | None = None  # {"id", "shard", "seq"}; id is None for a head
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad": self.first_bad,
            "reason": self.reason,
        }


@dataclass(order=True)
class _Problem:
    # Entries sort before head problems, and entries by id: the first bad is the oldest.
    sort_key: tuple[Any, ...]
    first_bad: dict[str, Any] = field(compare=False)
    reason: str = field(compare=False)


def _entry_problem(row: Mapping[str, Any], reason: str) -> _Problem:
    where = {"id": row["id"], "shard": row["shard"], "seq": row["seq"]}
    return _Problem((0, row["id"]), where, reason)


def _head_problem(shard: int, seq: int, reason: str) -> _Problem:
    return _Problem((1, shard, seq), {"id": None, "shard": shard, "seq": seq}, reason)


@dataclass
class _Chain:
    """The state of one shard's walk."""

    shard: int
    head: Mapping[str, Any] | None
    expected_seq: int
    prev_hash: str
    last_id: int | None = None
    problem: _Problem | None = None


def verify(
    engine: Engine,
    *,
    shards: int = DEFAULT_SHARDS,
    checkpoint: Sequence[Mapping[str, Any]] | None = None,
) -> VerifyResult:
    """Recompute every entry's hash and link; report the oldest entry that does not hold.

    Catches an edited, deleted, inserted or reordered entry, a deleted tail (the head is
    ahead of the chain), an edited head, a prefix deleted outside ``purge`` and an entry
    purged before its category's retention allowed. ``checkpoint`` is an earlier output of
    ``AuditLog.heads``, kept outside the database; with it a consistent rewrite of rows and
    heads after the checkpoint is caught too.
    """
    with _snapshot(engine) as conn:
        head_rows = {r["shard"]: r for r in conn.execute(sa.select(heads)).mappings().all()}
        cutoffs, anchors, problems = _purge_state(conn)
        wanted = {(int(c["shard"]), int(c["seq"])): str(c["hash"]) for c in checkpoint or ()}

        # Walk all entries in chain order, one shard after another.
        checked = 0
        walk: _Chain | None = None
        seen: set[int] = set()
        query = sa.select(entries).order_by(entries.c.shard, entries.c.seq)
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
        for row in result.mappings():
            checked += 1
            if walk is None or walk.shard != row["shard"]:
                if walk is not None:
                    problems += _finish(walk)
                walk = _start(row["shard"], head_rows.get(row["shard"]), anchors)
                seen.add(walk.shard)
            if walk.problem is None:
                walk.problem = _check_entry(walk, row, cutoffs)
            want = wanted.pop((row["shard"], row["seq"]), None)
            if want is not None and want != row["hash"]:
                problems.append(
                    _entry_problem(
                        row,
                        "the entry differs from the checkpoint taken earlier: "
                        "the chain was rewritten after it",
                    )
                )
        if walk is not None:
            problems += _finish(walk)

        # Shards without entries: their heads must still be at their anchors.
        for shard, head in head_rows.items():
            if shard not in seen:
                problems += _finish(_start(shard, head, anchors))
        for shard in range(min(shards, DEFAULT_SHARDS)):
            if shard not in head_rows:
                problems.append(
                    _head_problem(shard, 0, f"the head row of shard {shard} was deleted")
                )

        # Checkpoint entries not met in the walk must sit at (or before) an anchor.
        for (shard, seq), want in wanted.items():
            problems += _check_unseen_checkpoint(shard, seq, want, head_rows.get(shard))

    if not problems:
        return VerifyResult(ok=True, checked=checked)
    first = min(problems)
    logger.warning(
        "audit trail verification failed: %s",
        first.reason,
        extra={"audit_entry_id": first.first_bad["id"], "shard": first.first_bad["shard"]},
    )
    return VerifyResult(ok=False, checked=checked, first_bad=first.first_bad, reason=first.reason)


def _snapshot(engine: Engine):
    """A read-only transaction that sees heads and entries at one instant."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    # SQLite (WAL) holds one snapshot for the whole read transaction already.
    return _Tx(conn)


class _Tx:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        self.conn.begin()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback()
        self.conn.close()


def _purge_state(
    conn: Connection,
) -> tuple[dict[str, datetime], dict[int, tuple[int, str]], list[_Problem]]:
    """The cutoffs and anchors recorded by the latest purge (empty before any purge)."""
    e = entries.c
    latest = (
        conn.execute(
            sa.select(entries).where(e.action == PURGE).order_by(e.at.desc(), e.id.desc()).limit(1)
        )
        .mappings()
        .first()
    )
    if latest is None:
        return {}, {}, []
    if latest["purged_at"] is not None or not isinstance(latest["data"], dict):
        problem = _entry_problem(latest, "the latest purge entry has lost its content")
        return {}, {}, [problem]
    data = latest["data"]
    try:
        cutoffs = {cat: datetime.fromisoformat(v) for cat, v in data["cutoffs"].items()}
        anchors = {int(s): (int(seq), str(h)) for s, (seq, h) in data["anchors"].items()}
    except (KeyError, TypeError, ValueError):
        problem = _entry_problem(latest, "the latest purge entry does not hold cutoffs and anchors")
        return {}, {}, [problem]
    return cutoffs, anchors, []


def _start(shard: int, head: Mapping[str, Any] | None, anchors: dict[int, tuple[int, str]]):
    if head is None:
        return _Chain(shard, None, 1, chain.GENESIS)
    walk = _Chain(shard, head, int(head["anchor_seq"]) + 1, str(head["anchor_hash"]))
    recorded = anchors.get(shard, (0, chain.GENESIS))
    if (int(head["anchor_seq"]), head["anchor_hash"]) != recorded:
        walk.problem = _head_problem(
            shard,
            int(head["anchor_seq"]),
            f"the anchor of shard {shard} (seq {head['anchor_seq']}) is not the one the last "
            f"purge recorded (seq {recorded[0]}): entries were removed outside purge",
        )
    return walk


def _check_entry(
    walk: _Chain, row: Mapping[str, Any], cutoffs: dict[str, datetime]
) -> _Problem | None:
    """The first rule this entry breaks, or None; advances the walk when it holds."""
    shard, seq = row["shard"], row["seq"]
    if walk.head is None:
        return _entry_problem(row, f"shard {shard} has no head row: inserted or head deleted")
    if seq > walk.head["seq"]:
        return _entry_problem(
            row,
            f"the entry is beyond the head of shard {shard} (seq {walk.head['seq']}): "
            "inserted, or the head was rolled back",
        )
    if seq < walk.expected_seq:
        return _entry_problem(
            row, f"the entry is before the anchor of shard {shard} (seq {walk.expected_seq - 1})"
        )
    if seq > walk.expected_seq:
        missing = (
            walk.expected_seq
            if seq == walk.expected_seq + 1
            else (f"{walk.expected_seq}-{seq - 1}")
        )
        return _entry_problem(row, f"entry seq {missing} of shard {shard} is missing: deleted")
    if row["prev_hash"] != walk.prev_hash:
        return _entry_problem(
            row,
            f"prev_hash does not match the hash of entry seq {seq - 1}: "
            "inserted, reordered or the previous entry was edited",
        )
    if walk.last_id is not None and row["id"] <= walk.last_id:
        return _entry_problem(row, "the entry's id is out of chain order: rows were reordered")

    # Recompute the seal. A purged entry has no content left; its stored body hash stands in.
    if row["purged_at"] is None:
        body = chain.body_hash(
            row["actor_id"], row["object_name"], row["record_id"], row["purpose"], row["data"]
        )
    else:
        body = row["body_hash"]
    digest = chain.entry_hash(
        shard, seq, row["prev_hash"], row["at"], row["category"], row["action"], body
    )
    if digest != row["hash"]:
        return _entry_problem(row, "the entry's hash does not match its contents: edited")
    if body != row["body_hash"]:
        return _entry_problem(row, "the entry's stored body hash was altered")
    if row["purged_at"] is not None:
        cutoff = cutoffs.get(row["category"])
        if cutoff is None or row["at"] >= cutoff:
            return _entry_problem(
                row,
                f"the entry's content was removed, but no purge of category "
                f"{row['category']!r} covers {chain.format_at(row['at'])}",
            )

    walk.expected_seq = seq + 1
    walk.prev_hash = row["hash"]
    walk.last_id = row["id"]
    return None


def _finish(walk: _Chain) -> list[_Problem]:
    """The tail check: the head must name the last entry of the chain."""
    if walk.problem is not None:
        return [walk.problem]
    if walk.head is None:
        return []
    last = walk.expected_seq - 1
    head_seq, head_hash = int(walk.head["seq"]), walk.head["hash"]
    if head_seq > last:
        return [
            _head_problem(
                walk.shard,
                last + 1,
                f"the chain of shard {walk.shard} ends at seq {last} but its head is at seq "
                f"{head_seq}: entries at the tail were deleted",
            )
        ]
    if head_hash != walk.prev_hash:
        return [
            _head_problem(
                walk.shard,
                head_seq,
                f"the head of shard {walk.shard} does not match its last entry: head edited",
            )
        ]
    return []


def _check_unseen_checkpoint(
    shard: int, seq: int, want: str, head: Mapping[str, Any] | None
) -> list[_Problem]:
    if head is not None and seq <= int(head["anchor_seq"]):
        if seq == int(head["anchor_seq"]) and want != head["anchor_hash"]:
            return [_head_problem(shard, seq, "the anchor differs from the checkpoint")]
        return []  # purged since the checkpoint: nothing left to compare
    if seq == 0 and want == chain.GENESIS:
        return []
    return [
        _head_problem(
            shard,
            seq,
            f"entry seq {seq} of shard {shard}, present at the checkpoint, is gone",
        )
    ]
