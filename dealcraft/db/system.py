"""The platform's own tables. Record tables (``obj_*``) are made at run time from metadata."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Objects and fields: the metadata every record table is derived from.
objects = sa.Table(
    "dc_object",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("app", sa.String(63)),
    sa.Column("title_field", sa.String(63)),
    sa.Column("table_name", sa.String(70), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

fields = sa.Table(
    "dc_field",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("object_name", sa.String(63), sa.ForeignKey("dc_object.name"), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("type", sa.String(31), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("required", sa.Boolean, nullable=False, default=False),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("archived_at", sa.DateTime),
    sa.UniqueConstraint("object_name", "name", name="uq_dc_field_object_name"),
)

# A counter bumped on every schema change, so other processes know to reload.
meta = sa.Table(
    "dc_meta",
    metadata,
    sa.Column("key", sa.String(63), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# Field history: one row per changed field per write; a create stores one row of all values.
history = sa.Table(
    "dc_history",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("object_name", sa.String(63), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("field", sa.String(63)),
    sa.Column("old_value", sa.JSON),
    sa.Column("new_value", sa.JSON),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("changed_by", sa.BigInteger),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Index("ix_dc_history_record", "object_name", "record_id", "id"),
)

# The transactional outbox: written with the record, delivered after commit, at least once.
outbox = sa.Table(
    "dc_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("event_type", sa.String(63), nullable=False),
    sa.Column("object_name", sa.String(63)),
    sa.Column("record_id", sa.BigInteger),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("actor_id", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("delivered_at", sa.DateTime),
    sa.Index("ix_dc_outbox_pending", "delivered_at", "id"),
)

# Credentials live apart from the user record so no record read can reach a hash.
credentials = sa.Table(
    "dc_credential",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

api_tokens = sa.Table(
    "dc_api_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(127), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
)

# Uploaded files; a file field holds the id of one of these rows.
files = sa.Table(
    "dc_file",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(127), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# The register of exports, for tracing a leaked file back to its exporter.
exports = sa.Table(
    "dc_export",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("object_name", sa.String(63), nullable=False),
    sa.Column("where", sa.Text),
    sa.Column("purpose", sa.String(63)),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("row_count", sa.Integer),
    sa.Column("sha256", sa.String(64)),
    sa.Column("record_ids", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

import dealcraft.access.tables  # noqa: E402,F401  (registers the access tables)
import dealcraft.audit.tables  # noqa: E402,F401  (registers the audit trail's tables)
import dealcraft.flows.tables  # noqa: E402, F401  (registers the flow engine tables)
import dealcraft.saved_views.tables  # noqa: E402,F401  (registers the saved-views table)
