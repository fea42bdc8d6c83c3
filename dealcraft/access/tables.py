"""Tables of the access layer: versioned policies, data-category rules, login attempts."""

from __future__ import annotations

import sqlalchemy as sa

from dealcraft.db.system import metadata

# Every saved change is a new row; the active row of (role, object) is the one in force.
policies = sa.Table(
    "dc_policy",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(63), nullable=False),
    sa.Column("object_name", sa.String(63), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("operations", sa.JSON, nullable=False),
    sa.Column("row_scope", sa.Text),
    sa.Column("field_rules", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_dc_policy_role_object", "role", "object_name", "active"),
)

category_rules = sa.Table(
    "dc_category_rule",
    metadata,
    sa.Column("category", sa.String(31), primary_key=True),
    sa.Column("purposes", sa.JSON),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

login_attempts = sa.Table(
    "dc_login_attempt",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_failure_at", sa.DateTime, nullable=False),
    sa.Column("locked_until", sa.DateTime),
)
