"""The flow engine's tables (migration 0005): definitions, runs, steps, effects, logs, inbox.

The database is the truth of every run; the task queue only says "look at run N now". A run
lost from the queue (a worker killed mid-task) is found again by the sweeper once its lease
has expired.
"""

from __future__ import annotations

import sqlalchemy as sa

from dealcraft.db.system import metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# One row per flow; ``current_version`` is the definition new runs start on.
flows = sa.Table(
    "dc_flow",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("webhook_secret", sa.String(128)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Every saved definition is a new, immutable row; a run points at the row it started on.
flow_versions = sa.Table(
    "dc_flow_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow_id", sa.Integer, sa.ForeignKey("dc_flow.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_by", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("flow_id", "version", name="uq_dc_flow_version"),
)

# A run. ``trigger_key`` is unique: the same event, schedule tick or delivery id can start
# a version's run once. ``wake_at`` is when the run may next advance; ``lease_until`` is how
# long the worker that claimed it owns it; ``queued_until`` stops the sweeper re-queueing a
# run that is already on the queue.
flow_runs = sa.Table(
    "dc_flow_run",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("flow_id", sa.Integer, nullable=False),
    sa.Column("flow_version_id", sa.Integer, sa.ForeignKey("dc_flow_version.id"), nullable=False),
    sa.Column("trigger_key", sa.String(255), unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_step", sa.String(63)),
    sa.Column("step_seq", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("object_name", sa.String(63)),
    sa.Column("record_id", sa.BigInteger),
    sa.Column("waiting_event", sa.String(127)),
    sa.Column("waiting_key", sa.String(127)),
    sa.Column("wake_at", sa.DateTime),
    sa.Column("lease_owner", sa.String(63)),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("queued_until", sa.DateTime),
    sa.Column("error", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Index("ix_dc_flow_run_due", "status", "wake_at"),
    sa.Index("ix_dc_flow_run_waiting", "waiting_event", "status"),
    sa.Index("ix_dc_flow_run_flow", "flow_id", "id"),
)

# One row per visit of a step (``seq`` counts visits within the run, so loops stay apart).
flow_steps = sa.Table(
    "dc_flow_step",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(63), nullable=False),
    sa.Column("step_type", sa.String(63), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("input", sa.JSON),
    sa.Column("output", sa.JSON),
    sa.Column("error", sa.JSON),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.UniqueConstraint("run_id", "seq", name="uq_dc_flow_step_visit"),
)

# The effect ledger: a row is written before an effect is attempted and completed after it
# succeeded, so a retried step finds the effect done and does not repeat it.
flow_effects = sa.Table(
    "dc_flow_effect",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("step_id", sa.String(63), nullable=False),
    sa.Column("kind", sa.String(63), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("request", sa.JSON),
    sa.Column("result", sa.JSON),
    # A record created by the effect: unique, so two effects can never claim one record.
    sa.Column("created_object", sa.String(63)),
    sa.Column("created_record_id", sa.BigInteger),
    sa.Column("watermark", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("done_at", sa.DateTime),
    sa.UniqueConstraint("created_object", "created_record_id", name="uq_dc_flow_effect_record"),
)

# A run's log lines, shown with the run in the web app.
flow_logs = sa.Table(
    "dc_flow_log",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("step_id", sa.String(63)),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", sa.JSON),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_dc_flow_log_run", "run_id", "id"),
)

# The in-app inbox that the notify step's "inbox" channel writes to.
inbox = sa.Table(
    "dc_inbox",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("object_name", sa.String(63)),
    sa.Column("record_id", sa.BigInteger),
    sa.Column("flow_run_id", sa.BigInteger),
    sa.Column("effect_key", sa.String(255), unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("read_at", sa.DateTime),
    sa.Index("ix_dc_inbox_user", "user_id", "read_at", "id"),
)

# Approvals a run waits on; escalation moves ``approver`` after ``escalate_at``.
approvals = sa.Table(
    "dc_approval",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(63), nullable=False),
    sa.Column("approver_user_id", sa.BigInteger),
    sa.Column("approver_role", sa.String(63)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.BigInteger),
    sa.Column("comment", sa.Text),
    sa.Column("escalated", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("decided_at", sa.DateTime),
    sa.UniqueConstraint("run_id", "seq", name="uq_dc_approval_visit"),
)

# Owners' strategy annotations on records, checked by the human verification gate.
annotations = sa.Table(
    "dc_annotation",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("object_name", sa.String(63), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("author_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(31), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("similarity", sa.Float),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_dc_annotation_record", "object_name", "record_id", "id"),
)

# Which schedule ticks and dates a trigger has already fired for (a unique key per tick).
trigger_marks = sa.Table(
    "dc_flow_trigger_mark",
    metadata,
    sa.Column("flow_id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(31), primary_key=True),
    sa.Column("mark", sa.String(63), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
