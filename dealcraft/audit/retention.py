"""Retention: purge entries older than their category allows, keeping every chain checkable.

Purging works in two steps, both in one transaction that holds every shard's head:

1. **Tombstone.** An expired entry loses its content (actor, object, record, purpose, data)
   but keeps its header and hashes, so the chain still links through it. Entries of other
   categories before and after it are untouched.
2. **Compact.** Where a shard's chain now *starts* with tombstones, those rows are deleted
   and the head's anchor moves to the last one deleted; verification restarts there.

The purge is itself an audit entry. It carries the cumulative cutoff of every category (so
verify can tell a legitimate tombstone from content erased by hand) and every shard's
anchor (so verify can tell a compacted prefix from rows deleted by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dealcraft.audit.actions import ADMIN, PURGE
from dealcraft.audit.log import NAME_PATTERN, utcnow
from dealcraft.audit.tables import entries, heads
from dealcraft.db.tx import write_transaction
from dealcraft.errors import InvalidInput

if TYPE_CHECKING:
    from dealcraft.audit.log import AuditLog

logger = logging.getLogger(__name__)


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` earlier; 29 February falls back to the 28th."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def check_retention(retention_years: Mapping[str, int]) -> None:
    if not retention_years:
        raise InvalidInput(
            "give the retention of at least one category, e.g. access=2",
            code="invalid_retention",
            details={"field": "retention_years"},
        )
    for category, years in retention_years.items():
        if not isinstance(category, str) or not NAME_PATTERN.match(category):
            raise InvalidInput(
                f"retention category must be a category name such as 'auth'; got {category!r}",
                code="invalid_retention",
                details={"field": "retention_years", "value": str(category)},
            )
        if isinstance(years, bool) or not isinstance(years, int) or not 0 <= years <= 200:
            raise InvalidInput(
                f"retention of {category!r} must be a whole number of years from 0 to 200; "
                f"got {years!r}",
                code="invalid_retention",
                details={"field": "retention_years", "value": str(years)},
            )


def purge(
    log: AuditLog,
    engine: Engine,
    retention_years: Mapping[str, int],
    *,
    now: datetime | None = None,
    actor_id: int | None = None,
) -> int:
    """Purge entries older than their category's retention; returns how many were purged."""
    check_retention(retention_years)
    now = now or utcnow()
    cutoffs = {cat: years_before(now, years) for cat, years in retention_years.items()}

    with write_transaction(engine) as conn:
        # Hold every head, in shard order, so no writer appends while anchors move.
        head_rows = (
            conn.execute(sa.select(heads).order_by(heads.c.shard).with_for_update())
            .mappings()
            .all()
        )
        merged = _merge_cutoffs(_previous_cutoffs(conn), cutoffs)

        # Step 1: tombstone expired entries of each category.
        e = entries.c
        purged = 0
        purged_at = utcnow()
        for category, cutoff in cutoffs.items():
            result = conn.execute(
                entries.update()
                .where(e.category == category, e.at < cutoff, e.purged_at.is_(None))
                .values(
                    actor_id=None,
                    object_name=None,
                    record_id=None,
                    purpose=None,
                    data=None,
                    purged_at=purged_at,
                )
            )
            purged += result.rowcount or 0

        # Step 2: delete each chain's leading tombstones and move its anchor past them.
        anchors: dict[str, list[int | str]] = {}
        deleted = 0
        for head in head_rows:
            anchor_seq, anchor_hash, removed = _compact(conn, head)
            anchors[str(head["shard"])] = [anchor_seq, anchor_hash]
            deleted += removed

        log.record(
            conn,
            action=PURGE,
            category=ADMIN,
            actor_id=actor_id,
            data={
                "retention_years": dict(retention_years),
                "cutoffs": {cat: cutoff.isoformat() for cat, cutoff in sorted(merged.items())},
                "purged": purged,
                "deleted": deleted,
                "anchors": anchors,
            },
        )
    logger.info("audit purge: %s entries purged, %s rows deleted", purged, deleted)
    return purged


def _previous_cutoffs(conn: Connection) -> dict[str, datetime]:
    e = entries.c
    data = conn.execute(
        sa.select(e.data)
        .where(e.action == PURGE, e.purged_at.is_(None))
        .order_by(e.at.desc(), e.id.desc())
        .limit(1)
    ).scalar()
    if not isinstance(data, dict):
        return {}
    return {cat: datetime.fromisoformat(v) for cat, v in data.get("cutoffs", {}).items()}


def _merge_cutoffs(
    previous: Mapping[str, datetime], new: Mapping[str, datetime]
) -> dict[str, datetime]:
    # A cutoff never moves back: entries tombstoned under a shorter retention stay legitimate
    # when the retention is later lengthened.
    merged = dict(previous)
    for category, cutoff in new.items():
        merged[category] = max(cutoff, merged.get(category, cutoff))
    return merged


def _compact(conn: Connection, head: Mapping[str, Any]) -> tuple[int, str, int]:
    """Delete the tombstones a shard's chain starts with; returns the new anchor."""
    e = entries.c
    shard = head["shard"]
    anchor_seq, anchor_hash = int(head["anchor_seq"]), str(head["anchor_hash"])
    first_live = conn.execute(
        sa.select(sa.func.min(e.seq)).where(e.shard == shard, e.purged_at.is_(None))
    ).scalar()
    end = int(first_live) - 1 if first_live is not None else int(head["seq"])
    if end <= anchor_seq:
        return anchor_seq, anchor_hash, 0
    end_hash = conn.execute(sa.select(e.hash).where(e.shard == shard, e.seq == end)).scalar_one()
    removed = conn.execute(entries.delete().where(e.shard == shard, e.seq <= end)).rowcount or 0
    conn.execute(
        heads.update().where(heads.c.shard == shard).values(anchor_seq=end, anchor_hash=end_hash)
    )
    return end, end_hash, removed
