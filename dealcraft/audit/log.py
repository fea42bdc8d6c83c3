"""Writing and reading the audit trail.

Entries go into one of ``shards`` hash chains. A writer locks only its own shard's head row
(``SELECT ... FOR UPDATE``), so on PostgreSQL writers on different shards never wait for
each other; SQLite serialises writers at ``BEGIN IMMEDIATE`` anyway. A connection keeps the
shard it was first given, so one transaction always appends to one chain and two
transactions can never deadlock on heads.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from dealcraft.audit import chain
from dealcraft.audit.tables import entries, heads
from dealcraft.errors import DealcraftError, InvalidInput

if TYPE_CHECKING:
    from dealcraft.audit.verify import VerifyResult

logger = logging.getLogger(__name__)

DEFAULT_SHARDS = 16  # the heads migration 0002 creates
MAX_QUERY_LIMIT = 1000

# conn.info key holding the connection's shard; tests and tools may set it to pin a chain.
SHARD_INFO_KEY = "dealcraft.audit.shard"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.]*$")
_LIMITS = {"category": 31, "action": 63, "object_name": 63, "purpose": 63}

# The three statements of every append, built once: record() is on every write's path.
_LOCK = (
    sa.select(heads.c.seq, heads.c.hash)
    .where(heads.c.shard == sa.bindparam("shard_"))
    .with_for_update()
)
_INSERT = entries.insert()
_ADVANCE = (
    heads.update()
    .where(heads.c.shard == sa.bindparam("shard_"))
    .values(seq=sa.bindparam("seq_"), hash=sa.bindparam("hash_"))
)

# Successive connections get successive shards; the random start spreads processes apart.
_next_shard = itertools.count(random.randrange(1 << 16))


class AuditChainBroken(DealcraftError):
    """The audit trail cannot be appended to because its chain is damaged."""

    status = 500
    code = "audit_chain_broken"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AuditLog:
    """The tamper-evident audit trail: ``record`` in a write, ``verify``, ``purge``, ``query``."""

    def __init__(self, shards: int = DEFAULT_SHARDS) -> None:
        if not 1 <= shards <= 1024:
            raise ValueError(f"shards must be between 1 and 1024, got {shards}")
        self.shards = shards

    # Writing ----------------------------------------------------------------------------
    def record(
        self,
        conn: Connection,
        *,
        action: str,
        category: str,
        actor_id: int | None,
        object_name: str | None = None,
        record_id: int | None = None,
        data: dict[str, Any] | None = None,
        purpose: str | None = None,
    ) -> None:
        """Append one entry inside the caller's open transaction; it commits or rolls back
        with the write. For a record write, ``data`` is ``{"old": {...}, "new": {...}}``.

        Holds the shard's head lock until the transaction ends: record as late in the
        transaction as you can, after the transaction's own row locks are taken.
        """
        self.record_many(
            conn,
            [
                {
                    "action": action,
                    "category": category,
                    "actor_id": actor_id,
                    "object_name": object_name,
                    "record_id": record_id,
                    "data": data,
                    "purpose": purpose,
                }
            ],
        )

    def record_many(self, conn: Connection, items: Sequence[Mapping[str, Any]]) -> None:
        """Append several entries (keys as ``record``'s arguments) with one lock and insert."""
        if not items:
            return
        if not conn.in_transaction():
            raise RuntimeError("AuditLog.record needs a connection inside an open transaction")
        checked = [_check_entry(item) for item in items]

        # Lock this connection's shard head, then chain the new entries onto it.
        shard = self._shard_for(conn)
        seq, prev = self._lock_head(conn, shard)
        at = utcnow()
        rows = []
        for item in checked:
            seq += 1
            body = chain.body_hash(
                item["actor_id"],
                item["object_name"],
                item["record_id"],
                item["purpose"],
                item["data"],
            )
            digest = chain.entry_hash(shard, seq, prev, at, item["category"], item["action"], body)
            rows.append(
                {
                    **item,
                    "shard": shard,
                    "seq": seq,
                    "at": at,
                    "body_hash": body,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest

        conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        conn.execute(_ADVANCE, {"shard_": shard, "seq_": seq, "hash_": prev})

    def _shard_for(self, conn: Connection) -> int:
        shard = conn.info.get(SHARD_INFO_KEY)
        if not isinstance(shard, int) or not 0 <= shard < self.shards:
            shard = next(_next_shard) % self.shards
            conn.info[SHARD_INFO_KEY] = shard
        return shard

    def _lock_head(self, conn: Connection, shard: int) -> tuple[int, str]:
        row = conn.execute(_LOCK, {"shard_": shard}).first()
        if row is None:
            self._create_head(conn, shard)
            row = conn.execute(_LOCK, {"shard_": shard}).one()
        return int(row.seq), str(row.hash)

    def _create_head(self, conn: Connection, shard: int) -> None:
        # A shard beyond the seeded ones gets its head on first use. A missing head over
        # existing entries is damage, not a new shard: refuse rather than fork the chain.
        used = conn.execute(
            sa.select(sa.literal(1)).where(entries.c.shard == shard).limit(1)
        ).first()
        if used is not None:
            raise AuditChainBroken(
                f"the audit head of shard {shard} is missing but the shard has entries; "
                "run `dealcraft audit verify`",
                details={"shard": shard},
            )
        ensure_heads(conn, [shard])

    def ensure_heads(self, engine: Engine) -> None:
        """Create the head rows of every shard up to ``shards`` (the first 16 exist already)."""
        with engine.begin() as conn:
            ensure_heads(conn, range(self.shards))

    # Reading ----------------------------------------------------------------------------
    def query(
        self,
        engine: Engine,
        *,
        object_name: str | None = None,
        record_id: int | None = None,
        actor_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = None,
        category: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries newest first, filtered; ``since`` is inclusive, ``until`` exclusive.

        Page backwards by passing the last entry's id as ``before_id``. Who may read the
        trail is decided by the caller (the API), not here.
        """
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidInput(
                f"limit must be between 1 and {MAX_QUERY_LIMIT}, got {limit}",
                code="invalid_limit",
                details={"field": "limit", "value": limit},
            )
        e = entries.c
        conditions = []
        for column, value in (
            (e.object_name, object_name),
            (e.record_id, record_id),
            (e.actor_id, actor_id),
            (e.action, action),
            (e.category, category),
        ):
            if value is not None:
                conditions.append(column == value)
        if since is not None:
            conditions.append(e.at >= _naive_utc(since))
        if until is not None:
            conditions.append(e.at < _naive_utc(until))
        if before_id is not None:
            conditions.append(e.id < before_id)
        query = sa.select(entries).where(*conditions).order_by(e.id.desc()).limit(limit)
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_entry_dict(row) for row in rows]

    def heads(self, engine: Engine) -> list[dict[str, Any]]:
        """Every shard's head: the values to copy out of the database as an external anchor."""
        with engine.connect() as conn:
            rows = conn.execute(sa.select(heads).order_by(heads.c.shard)).mappings().all()
        return [
            {
                "shard": r["shard"],
                "seq": r["seq"],
                "hash": r["hash"],
                "anchor_seq": r["anchor_seq"],
                "anchor_hash": r["anchor_hash"],
            }
            for r in rows
        ]

    # Checking and retention (see verify.py and retention.py) ----------------------------
    def verify(
        self, engine: Engine, *, checkpoint: Sequence[Mapping[str, Any]] | None = None
    ) -> VerifyResult:
        """See ``dealcraft.audit.verify.verify``."""
        from dealcraft.audit.verify import verify

        return verify(engine, shards=self.shards, checkpoint=checkpoint)

    def purge(
        self,
        engine: Engine,
        retention_years: Mapping[str, int],
        now: datetime | None = None,
        *,
        actor_id: int | None = None,
    ) -> int:
        from dealcraft.audit.retention import purge

        return purge(self, engine, retention_years, now=now, actor_id=actor_id)


def ensure_heads(conn: Connection, shards: Any) -> None:
    """Insert a genesis head for each shard that has none; existing heads are untouched."""
    values = [
        {
            "shard": s,
            "seq": 0,
            "hash": chain.GENESIS,
            "anchor_seq": 0,
            "anchor_hash": chain.GENESIS,
        }
        for s in shards
    ]
    if not values:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(heads).on_conflict_do_nothing(), values)
    elif conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(heads).on_conflict_do_nothing(), values)
    else:
        existing = set(conn.execute(sa.select(heads.c.shard)).scalars())
        missing = [v for v in values if v["shard"] not in existing]
        if missing:
            conn.execute(heads.insert(), missing)


def _check_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's columns, validated, with ``data`` reduced to plain JSON."""
    entry = {
        "action": item["action"],
        "category": item["category"],
        "actor_id": item.get("actor_id"),
        "object_name": item.get("object_name"),
        "record_id": item.get("record_id"),
        "purpose": item.get("purpose"),
        "data": chain.jsonable(item.get("data")),
    }
    for key in ("category", "action"):
        value = entry[key]
        if not isinstance(value, str) or not NAME_PATTERN.match(value) or len(value) > _LIMITS[key]:
            raise InvalidInput(
                f"audit {key} must be lowercase letters, digits, '_' or '.', starting with a "
                f"letter, at most {_LIMITS[key]} characters; got {value!r}",
                code="invalid_audit_entry",
                details={"field": key, "value": str(value)},
            )
    for key in ("object_name", "purpose"):
        value = entry[key]
        if value is not None and (not isinstance(value, str) or len(value) > _LIMITS[key]):
            raise InvalidInput(
                f"audit {key} must be a string of at most {_LIMITS[key]} characters; got {value!r}",
                code="invalid_audit_entry",
                details={"field": key, "value": str(value)},
            )
    for key in ("actor_id", "record_id"):
        value = entry[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(
                f"audit {key} must be an integer id or None; got {value!r}",
                code="invalid_audit_entry",
                details={"field": key, "value": str(value)},
            )
    return entry


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _entry_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["at"],
        "category": row["category"],
        "action": row["action"],
        "actor_id": row["actor_id"],
        "object_name": row["object_name"],
        "record_id": row["record_id"],
        "purpose": row["purpose"],
        "data": row["data"],
        "shard": row["shard"],
        "seq": row["seq"],
        "hash": row["hash"],
        "purged": row["purged_at"] is not None,
    }
