"""The audit trail's tables, on the platform's shared metadata (migration 0002)."""

from __future__ import annotations

import sqlalchemy as sa

from dealcraft.db.system import metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# One row per audited event. ``shard`` and ``seq`` place the entry in one of several hash
# chains; ``hash`` seals the header and ``body_hash``, which seals the content columns. A
# purged entry (``purged_at`` set) keeps its header and both hashes but loses its content.
entries = sa.Table(
    "dc_audit",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("category", sa.String(31), nullable=False),
    sa.Column("action", sa.String(63), nullable=False),
    sa.Column("actor_id", sa.BigInteger),
    sa.Column("object_name", sa.String(63)),
    sa.Column("record_id", sa.BigInteger),
    sa.Column("purpose", sa.String(63)),
    sa.Column("data", sa.JSON(none_as_null=True)),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("purged_at", sa.DateTime),
    sa.UniqueConstraint("shard", "seq", name="uq_dc_audit_shard_seq"),
    sa.Index("ix_dc_audit_record", "object_name", "record_id", "id"),
    sa.Index("ix_dc_audit_actor", "actor_id", "id"),
    sa.Index("ix_dc_audit_at", "at"),
)

# The end of each chain, locked FOR UPDATE by a writer of that shard only. ``anchor_seq`` and
# ``anchor_hash`` are where verification starts once purging has deleted a chain's prefix.
heads = sa.Table(
    "dc_audit_head",
    metadata,
    sa.Column("shard", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("anchor_seq", sa.BigInteger, nullable=False),
    sa.Column("anchor_hash", sa.String(64), nullable=False),
)
