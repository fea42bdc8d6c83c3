"""audit trail: hash-chained entries and one head row per shard

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default shard count of dealcraft.audit.AuditLog; more heads are added on first use.
SHARDS = 16
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "dc_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("category", sa.String(length=31), nullable=False),
        sa.Column("action", sa.String(length=63), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("object_name", sa.String(length=63), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=63), nullable=True),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shard", "seq", name="uq_dc_audit_shard_seq"),
    )
    with op.batch_alter_table("dc_audit", schema=None) as batch_op:
        batch_op.create_index("ix_dc_audit_record", ["object_name", "record_id", "id"])
        batch_op.create_index("ix_dc_audit_actor", ["actor_id", "id"])
        batch_op.create_index("ix_dc_audit_at", ["at"])

    heads = op.create_table(
        "dc_audit_head",
        sa.Column("shard", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("shard"),
    )
    # Seed the heads so verify can tell a deleted head from a shard never written to.
    op.bulk_insert(
        heads,
        [
            {"shard": s, "seq": 0, "hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS}
            for s in range(SHARDS)
        ],
    )


def downgrade() -> None:
    op.drop_table("dc_audit_head")
    with op.batch_alter_table("dc_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_audit_at")
        batch_op.drop_index("ix_dc_audit_actor")
        batch_op.drop_index("ix_dc_audit_record")
    op.drop_table("dc_audit")
