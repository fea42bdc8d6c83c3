"""flows: definitions and their versions, runs, step visits, the effect ledger, run logs,
the in-app inbox, approvals, annotations and trigger marks

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dc_annotation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("object_name", sa.String(length=63), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=31), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dc_annotation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dc_annotation_record", ["object_name", "record_id", "id"], unique=False
        )

    op.create_table(
        "dc_approval",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=63), nullable=False),
        sa.Column("approver_user_id", sa.BigInteger(), nullable=True),
        sa.Column("approver_role", sa.String(length=63), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_dc_approval_visit"),
    )
    op.create_table(
        "dc_flow",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("webhook_secret", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dc_flow_effect",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_object", sa.String(length=63), nullable=True),
        sa.Column("created_record_id", sa.BigInteger(), nullable=True),
        sa.Column("watermark", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("created_object", "created_record_id", name="uq_dc_flow_effect_record"),
    )
    with op.batch_alter_table("dc_flow_effect", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dc_flow_effect_run_id"), ["run_id"], unique=False)

    op.create_table(
        "dc_flow_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.String(length=63), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dc_flow_log", schema=None) as batch_op:
        batch_op.create_index("ix_dc_flow_log_run", ["run_id", "id"], unique=False)

    op.create_table(
        "dc_flow_step",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=63), nullable=False),
        sa.Column("step_type", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_dc_flow_step_visit"),
    )
    op.create_table(
        "dc_flow_trigger_mark",
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=31), nullable=False),
        sa.Column("mark", sa.String(length=63), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "kind"),
    )
    op.create_table(
        "dc_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("object_name", sa.String(length=63), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("flow_run_id", sa.BigInteger(), nullable=True),
        sa.Column("effect_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("effect_key"),
    )
    with op.batch_alter_table("dc_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_dc_inbox_user", ["user_id", "read_at", "id"], unique=False)

    op.create_table(
        "dc_flow_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["dc_flow.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("flow_id", "version", name="uq_dc_flow_version"),
    )
    op.create_table(
        "dc_flow_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("trigger_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.String(length=63), nullable=True),
        sa.Column("step_seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("object_name", sa.String(length=63), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("waiting_event", sa.String(length=127), nullable=True),
        sa.Column("waiting_key", sa.String(length=127), nullable=True),
        sa.Column("wake_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=63), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("queued_until", sa.DateTime(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_version_id"],
            ["dc_flow_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trigger_key"),
    )
    with op.batch_alter_table("dc_flow_run", schema=None) as batch_op:
        batch_op.create_index("ix_dc_flow_run_due", ["status", "wake_at"], unique=False)
        batch_op.create_index("ix_dc_flow_run_flow", ["flow_id", "id"], unique=False)
        batch_op.create_index("ix_dc_flow_run_waiting", ["waiting_event", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dc_flow_run", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_flow_run_waiting")
        batch_op.drop_index("ix_dc_flow_run_flow")
        batch_op.drop_index("ix_dc_flow_run_due")

    op.drop_table("dc_flow_run")
    op.drop_table("dc_flow_version")
    with op.batch_alter_table("dc_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_inbox_user")

    op.drop_table("dc_inbox")
    op.drop_table("dc_flow_trigger_mark")
    op.drop_table("dc_flow_step")
    with op.batch_alter_table("dc_flow_log", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_flow_log_run")

    op.drop_table("dc_flow_log")
    with op.batch_alter_table("dc_flow_effect", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dc_flow_effect_run_id"))

    op.drop_table("dc_flow_effect")
    op.drop_table("dc_flow")
    op.drop_table("dc_approval")
    with op.batch_alter_table("dc_annotation", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_annotation_record")

    op.drop_table("dc_annotation")
