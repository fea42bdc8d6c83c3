"""The saved-views table (migration 0006): list views kept per user, shared per team."""

from __future__ import annotations

import sqlalchemy as sa

from dealcraft.db.system import metadata

# ``team_id`` set means the owner shares the view with that team; null keeps it private.
saved_views = sa.Table(
    "dc_saved_view",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("object_name", sa.String(63), nullable=False),
    sa.Column("name", sa.String(127), nullable=False),
    sa.Column("owner_id", sa.BigInteger, nullable=False),
    sa.Column("team_id", sa.BigInteger),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("where", sa.Text),
    sa.Column("sort", sa.String(255)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("object_name", "owner_id", "name", name="uq_dc_saved_view_name"),
    sa.Index("ix_dc_saved_view_team", "object_name", "team_id"),
)
