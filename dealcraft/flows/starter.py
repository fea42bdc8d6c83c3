"""Starting runs: from outbox events (the dispatcher's subscriber), schedules, dates, by hand.

Every start has a trigger key, unique among runs: the version and the event's key (its
outbox id, and the record id for a record of a bulk create's batch event), the version
and the schedule's minute, the version, record and date, a webhook delivery id. Inserting a
run whose key exists does nothing, so a redelivered event or a second worker firing the
same tick starts no second run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dealcraft.events.outbox import OutboxEvent
from dealcraft.flows.conditions import evaluate_condition
from dealcraft.flows.registry import TRIGGER_TYPES, load_builtins
from dealcraft.flows.tables import flow_runs, flow_versions, flows
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.flows.runner import Runner
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveFlow:
    flow_id: int
    name: str
    version_id: int
    version: int
    definition: dict[str, Any]

    @property
    def trigger(self) -> dict[str, Any]:
        return self.definition["trigger"]


def active_flows(conn: sa.Connection) -> list[ActiveFlow]:
    """Enabled flows with the version new runs start on."""
    rows = conn.execute(
        sa.select(
            flows.c.id,
            flows.c.name,
            flow_versions.c.id.label("vid"),
            flow_versions.c.version,
            flow_versions.c.definition,
        )
        .join(
            flow_versions,
            sa.and_(
                flow_versions.c.flow_id == flows.c.id,
                flow_versions.c.version == flows.c.current_version,
            ),
        )
        .where(flows.c.enabled.is_(True))
        .order_by(flows.c.id)
    ).all()
    return [ActiveFlow(r.id, r.name, r.vid, r.version, r.definition) for r in rows]


def insert_run(
    conn: sa.Connection,
    flow: ActiveFlow,
    trigger_key: str,
    *,
    object_name: str | None,
    record_id: int | None,
    trigger: dict[str, Any],
) -> int | None:
    """A new pending run, or None if a run with this trigger key exists already."""
    now = utcnow()
    values = {
        "flow_id": flow.flow_id,
        "flow_version_id": flow.version_id,
        "trigger_key": trigger_key,
        "status": "pending",
        "current_step": flow.definition["steps"][0]["id"],
        "step_seq": 1,
        "attempt": 0,
        "context": {"trigger": trigger, "steps": {}},
        "object_name": object_name,
        "record_id": record_id,
        "wake_at": now,
        "created_at": now,
        "updated_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(flow_runs)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["trigger_key"])
    )
    if conn.execute(statement).rowcount == 0:
        return None
    run_id = conn.execute(
        sa.select(flow_runs.c.id).where(flow_runs.c.trigger_key == trigger_key)
    ).scalar_one()
    logger.info("flow run started", extra={"flow_run_id": run_id, "flow": flow.name})
    return int(run_id)


def trigger_context(event: OutboxEvent) -> dict[str, Any]:
    changes = event.payload.get("changes") or {}
    return {
        "type": event.event_type,
        "event": event.as_dict(),
        "changes": {k: {"old": v[0], "new": v[1]} for k, v in changes.items()},
        "payload": event.payload,
    }


class FlowStarter:
    """The dispatcher's subscriber: starts matching flows and wakes runs waiting for events."""

    def __init__(
        self, workspace: Workspace, runner: Runner, enqueue: Callable[[list[int]], None]
    ) -> None:
        load_builtins()
        self.workspace = workspace
        self.runner = runner
        self.enqueue = enqueue

    def handle(self, conn: sa.Connection, events: list[OutboxEvent]) -> list[Callable[[], None]]:
        started: list[int] = []
        for flow in active_flows(conn):
            handler = TRIGGER_TYPES.get(flow.trigger.get("type"))
            if handler is None:
                continue
            for event in events:
                if not handler.matches(flow.trigger, event):
                    continue
                if not self._condition_holds(conn, flow, event):
                    continue
                run_id = insert_run(
                    conn,
                    flow,
                    f"v{flow.version_id}:{event.key}",
                    object_name=event.object_name,
                    record_id=event.record_id,
                    trigger=trigger_context(event),
                )
                if run_id is not None:
                    started.append(run_id)
        woken = self.runner.wake_waiting(conn, events)
        ids = started + woken
        return [lambda: self.enqueue(ids)] if ids else []

    def _condition_holds(self, conn: sa.Connection, flow: ActiveFlow, event: OutboxEvent) -> bool:
        """The flow's condition on the record as its service account sees it now."""
        source = flow.definition.get("condition")
        if not source:
            return True
        if event.object_name is None or event.record_id is None:
            return False
        try:
            principal = self.runner.principal_for(flow.definition["run_as"])
            records = self.workspace.records
            record = records.get(
                principal, event.object_name, event.record_id, include_deleted=True, conn=conn
            )
            view = self.workspace.registry.view()
            params = {**principal.expression_params(), "today": utcnow().date()}

            def fetch(object_name: str, record_id: Any) -> Mapping[str, Any] | None:
                try:
                    return records.get(principal, object_name, int(record_id), conn=conn)
                except Exception:  # a missing or invisible record reads as NULL
                    return None

            return evaluate_condition(view, event.object_name, source, record, params, fetch)
        except Exception:
            # A record the service account cannot see does not exist for the flow.
            logger.info(
                "flow condition not evaluated", extra={"flow": flow.name, "event_id": event.id}
            )
            return False


class TimeTriggers:
    """Schedules (cron, to the minute) and date fields reached (once a day per record)."""

    def __init__(self, workspace: Workspace, runner: Runner) -> None:
        self.workspace = workspace
        self.runner = runner
        self._last_scan = 0.0

    def fire(self, now: dt.datetime | None = None) -> list[int]:
        from dealcraft.db.tx import write_transaction
        from dealcraft.flows.triggers import Cron

        now = (now or utcnow()).replace(second=0, microsecond=0)
        started: list[int] = []
        with self.workspace.engine.connect() as conn:
            timed = [f for f in active_flows(conn) if f.trigger.get("type") in ("schedule", "date")]
        for flow in timed:
            if flow.trigger["type"] == "schedule":
                if not Cron(flow.trigger["cron"]).matches(now):
                    continue
                key = f"v{flow.version_id}:cron:{now:%Y%m%d%H%M}"
                with write_transaction(self.workspace.engine) as conn:
                    run_id = insert_run(
                        conn,
                        flow,
                        key,
                        object_name=None,
                        record_id=None,
                        trigger={"type": "schedule", "at": now.isoformat() + "Z"},
                    )
                if run_id:
                    started.append(run_id)
            elif time.monotonic() - self._last_scan > 60:
                started.extend(self._dates(flow, now.date()))
        if (
            any(f.trigger["type"] == "date" for f in timed)
            and time.monotonic() - self._last_scan > 60
        ):
            self._last_scan = time.monotonic()
        return started

    def _dates(self, flow: ActiveFlow, today: dt.date) -> list[int]:
        from dealcraft.db.tx import write_transaction

        trigger = flow.trigger
        target = today - dt.timedelta(days=int(trigger.get("offset_days") or 0))
        principal = self.runner.principal_for(flow.definition["run_as"])
        started: list[int] = []
        cursor = None
        while True:
            page = self.workspace.records.list(
                principal,
                trigger["object"],
                where=f"{trigger['field']} = :day",
                params={"day": target},
                limit=500,
                cursor=cursor,
            )
            with write_transaction(self.workspace.engine) as conn:
                for record in page.data:
                    key = f"v{flow.version_id}:date:{record['id']}:{target.isoformat()}"
                    run_id = insert_run(
                        conn,
                        flow,
                        key,
                        object_name=trigger["object"],
                        record_id=record["id"],
                        trigger={"type": "date", "field": trigger["field"], "date": str(target)},
                    )
                    if run_id:
                        started.append(run_id)
            cursor = page.next_cursor
            if not cursor:
                return started
