"""saved views: list views kept per user in the database, shared per team

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dc_saved_view",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_name", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=127), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("where", sa.Text(), nullable=True),
        sa.Column("sort", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_name", "owner_id", "name", name="uq_dc_saved_view_name"),
    )
    with op.batch_alter_table("dc_saved_view", schema=None) as batch_op:
        batch_op.create_index("ix_dc_saved_view_team", ["object_name", "team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dc_saved_view", schema=None) as batch_op:
        batch_op.drop_index("ix_dc_saved_view_team")
    op.drop_table("dc_saved_view")
