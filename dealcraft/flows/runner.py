"""The runner: advances one flow run, step by step, with every step's state in the database.

A worker claims a run with a lease (a conditional UPDATE, so two workers never both own it),
runs its current step, and commits the step's output together with the move to the next
step, on the condition that it still holds the lease. A worker killed at any moment leaves
either the previous step committed (the step runs again; its effects are in the ledger) or
the next one; the sweeper hands the run to another worker when the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dealcraft.access.principal import Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import DealcraftError, NotFound, VersionConflict
from dealcraft.events.outbox import OutboxEvent
from dealcraft.flows import templates
from dealcraft.flows.definition import default_next, find_step
from dealcraft.flows.effects import Attempt, Done, EffectInFlight, EffectLedger, run_effect
from dealcraft.flows.errors import PermanentStepError, StepFailed, TransientStepError
from dealcraft.flows.registry import END, STEP_TYPES, StepResult, load_builtins, parse_duration
from dealcraft.flows.settings import FlowSettings
from dealcraft.flows.tables import flow_logs, flow_runs, flow_steps, flow_versions, flows
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

# Statuses: pending → running → (waiting | retrying | parked)* → completed | cancelled.
ACTIVE = ("pending", "running", "waiting", "retrying")
FINISHED = ("completed", "cancelled")


class LeaseLost(Exception):
    """Another worker took the run over (or an admin cancelled it): stop touching it."""


@dataclass
class StepContext:
    """What a step's ``run`` sees. Side effects go through ``effect``; logs through ``log``."""

    runner: Runner
    run: dict[str, Any]
    definition: dict[str, Any]
    step: dict[str, Any]
    seq: int
    attempt: int
    principal: Principal
    record: dict[str, Any] | None
    wake: dict[str, Any] | None
    now: dt.datetime = field(default_factory=utcnow)

    @property
    def workspace(self) -> Workspace:
        return self.runner.workspace

    @property
    def settings(self) -> FlowSettings:
        return self.runner.settings

    @property
    def run_id(self) -> int:
        return int(self.run["id"])

    @property
    def step_id(self) -> str:
        return self.step["id"]

    @property
    def object_name(self) -> str | None:
        return self.run["object_name"]

    @property
    def record_id(self) -> int | None:
        return self.run["record_id"]

    @property
    def config(self) -> dict[str, Any]:
        return self.step

    def template_context(self) -> dict[str, Any]:
        context = self.run["context"]
        return {
            "record": self.record or {},
            "trigger": context.get("trigger", {}),
            "steps": context.get("steps", {}),
            "run": {"id": self.run_id, "seq": self.seq},
            "flow": {"name": self.definition["name"], "version": self.run["version"]},
            "now": self.now.isoformat() + "Z",
            "today": self.now.date().isoformat(),
        }

    def render(self, value: Any) -> Any:
        return templates.render(value, self.template_context())

    def effect_key(self, name: str) -> str:
        return f"run{self.run_id}.{self.seq}.{self.step_id}.{name}"

    def effect(
        self,
        name: str,
        kind: str,
        request: Any,
        perform: Callable[[Attempt], Done | dict[str, Any]],
    ) -> dict[str, Any]:
        """Do ``perform`` once for this step visit; a repeat returns the stored result."""

        def wrapped(attempt: Attempt) -> Done:
            done = perform(attempt)
            return done if isinstance(done, Done) else Done(done)

        def audit_entry(done: Done) -> dict[str, Any]:
            obj, rid = done.record if done.record else (self.object_name, self.record_id)
            return {
                "action": "flow.effect",
                "category": "automation",
                "actor_id": self.principal.user_id,
                "object_name": obj,
                "record_id": rid,
                "data": {
                    "flow": self.definition["name"],
                    "version": self.run["version"],
                    "run_id": self.run_id,
                    "step": self.step_id,
                    "kind": kind,
                    "key": self.effect_key(name),
                },
            }

        return run_effect(
            self.runner.ledger,
            key=self.effect_key(name),
            run_id=self.run_id,
            step_id=self.step_id,
            kind=kind,
            request=request,
            perform=wrapped,
            audit_entry=audit_entry,
            in_flight_seconds=self.runner.in_flight_seconds,
            hold=lambda conn: self.runner._hold(conn, self.run),
        )

    def log(self, message: str, level: str = "info", **data: Any) -> None:
        self.runner.log(self.run_id, self.step_id, message, level, data)


class Runner:
    def __init__(self, workspace: Workspace, settings: FlowSettings, owner: str) -> None:
        load_builtins()
        self.workspace = workspace
        self.engine = workspace.engine
        self.settings = settings
        self.owner = owner
        self.ledger = EffectLedger(self.engine, workspace.audit)
        self._definitions: dict[int, tuple[dict[str, Any], int, str]] = {}
        self._principals: dict[str, tuple[float, Principal]] = {}

    @property
    def in_flight_seconds(self) -> float:
        """How long an effect's attempt may be talking to the other side: the lease it was
        started under plus the longest network timeout. No second attempt starts sooner."""
        settings = self.settings
        return settings.lease_seconds + max(settings.http_timeout, settings.smtp_timeout)

    # Claiming ----------------------------------------------------------------------------
    def claim(self, run_id: int) -> dict[str, Any] | None:
        """Take the run if it is due and nobody holds a live lease on it."""
        now = utcnow()
        r = flow_runs
        due = sa.or_(
            sa.and_(r.c.status.in_(("pending", "retrying", "waiting")), r.c.wake_at <= now),
            sa.and_(r.c.status == "running", r.c.lease_until < now),
        )
        with write_transaction(self.engine) as conn:
            claimed = conn.execute(
                r.update()
                .where(r.c.id == run_id, due)
                .values(
                    status="running",
                    lease_owner=self.owner,
                    lease_until=now + dt.timedelta(seconds=self.settings.lease_seconds),
                    queued_until=None,
                    updated_at=now,
                )
            ).rowcount
            if not claimed:
                return None
            return dict(conn.execute(sa.select(r).where(r.c.id == run_id)).mappings().one())

    def due_runs(self, limit: int = 500, *, queued: bool = False) -> list[int]:
        """Runs that should advance now and are neither leased nor (unless ``queued``)
        already on the queue."""
        now = utcnow()
        r = flow_runs
        query = (
            sa.select(r.c.id)
            .where(
                sa.or_(
                    sa.and_(r.c.status.in_(("pending", "retrying", "waiting")), r.c.wake_at <= now),
                    sa.and_(r.c.status == "running", r.c.lease_until < now),
                ),
                sa.true() if queued else sa.or_(r.c.queued_until.is_(None), r.c.queued_until < now),
            )
            .order_by(r.c.wake_at, r.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def mark_queued(self, run_ids: list[int]) -> None:
        if not run_ids:
            return
        until = utcnow() + dt.timedelta(seconds=self.settings.lease_seconds)
        with write_transaction(self.engine) as conn:
            conn.execute(
                flow_runs.update().where(flow_runs.c.id.in_(run_ids)).values(queued_until=until)
            )

    # Advancing ---------------------------------------------------------------------------
    def advance(self, run_id: int) -> str | None:
        """Run the claimed run's steps until it finishes, pauses or fails; its status after."""
        run = self.claim(run_id)
        if run is None:
            return None
        try:
            return self._advance(run)
        except LeaseLost:
            logger.info("run taken over or cancelled", extra={"flow_run_id": run_id})
            return None

    def _advance(self, run: dict[str, Any]) -> str:
        definition, version, flow_name = self._definition(run["flow_version_id"])
        run["version"] = version
        principal = self.principal_for(definition["run_as"])
        while True:
            step = find_step(definition, run["current_step"])
            handler = STEP_TYPES[step["type"]]
            visit = self._visit(run, step)
            wake = self._wake_for(run, visit)
            ctx = StepContext(
                runner=self,
                run=run,
                definition=definition,
                step=step,
                seq=run["step_seq"],
                attempt=visit["attempts"],
                principal=principal,
                record=self._record(principal, run),
                wake=wake,
            )
            started = time.monotonic()
            try:
                result = handler.run(ctx)
            except LeaseLost:
                raise
            except EffectInFlight as e:
                return self._defer(run, step, e)
            except Exception as e:  # every failure is classified and stored with the run
                return self._fail(run, step, visit, _classify(e))
            if result.wait is not None:
                return self._pause(run, step, result)
            next_id = result.next or default_next(definition, step["id"])
            if next_id == END:
                next_id = None
            run = self._finish_step(run, step, result, next_id, time.monotonic() - started)
            if run["status"] != "running":
                logger.info(
                    "flow run finished",
                    extra={"flow_run_id": run["id"], "flow": flow_name, "status": run["status"]},
                )
                return run["status"]

    def _definition(self, version_id: int) -> tuple[dict[str, Any], int, str]:
        cached = self._definitions.get(version_id)
        if cached is None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(flow_versions.c.definition, flow_versions.c.version, flows.c.name)
                    .join(flows, flows.c.id == flow_versions.c.flow_id)
                    .where(flow_versions.c.id == version_id)
                ).one()
            cached = (row.definition, row.version, row.name)
            self._definitions[version_id] = cached
        return cached

    def principal_for(self, username: str) -> Principal:
        """The flow's service account as a principal; its role's policy is what it may do."""
        cached = self._principals.get(username)
        if cached and time.monotonic() - cached[0] < 30:
            return cached[1]
        user = self.workspace.identity.find_user(username)
        if user is None:
            raise PermanentStepError(
                f"the flow's service account {username!r} does not exist",
                code="service_account_missing",
            )
        principal = self.workspace.identity.principal_for_user(user)
        self._principals[username] = (time.monotonic(), principal)
        return principal

    def _record(self, principal: Principal, run: Mapping[str, Any]) -> dict[str, Any] | None:
        if not run["object_name"] or run["record_id"] is None:
            return None
        try:
            return self.workspace.records.get(
                principal, run["object_name"], run["record_id"], include_deleted=True
            )
        except NotFound:
            return None

    def _visit(self, run: dict[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
        """The step row of this visit, with one more attempt counted."""
        s = flow_steps
        now = utcnow()
        with write_transaction(self.engine) as conn:
            self._hold(conn, run)
            row = (
                conn.execute(
                    sa.select(s).where(s.c.run_id == run["id"], s.c.seq == run["step_seq"])
                )
                .mappings()
                .first()
            )
            if row is None:
                conn.execute(
                    s.insert().values(
                        run_id=run["id"],
                        seq=run["step_seq"],
                        step_id=step["id"],
                        step_type=step["type"],
                        status="running",
                        attempts=1,
                        input={"config": dict(step)},
                        started_at=now,
                    )
                )
                return {"status": "new", "attempts": 1}
            conn.execute(
                s.update()
                .where(s.c.id == row["id"])
                .values(attempts=row["attempts"] + 1, status="running")
            )
            return {"status": row["status"], "attempts": row["attempts"] + 1}

    def _wake_for(self, run: Mapping[str, Any], visit: Mapping[str, Any]) -> dict[str, Any] | None:
        """Why a paused step runs again: the event it waited for, or its time came."""
        if visit["status"] != "waiting":
            return None
        wake = run["context"].get("wake")
        if wake and wake.get("seq") == run["step_seq"]:
            return wake
        return {"seq": run["step_seq"], "reason": "time"}

    def _hold(self, conn: sa.Connection, run: Mapping[str, Any], **values: Any) -> None:
        """Renew the lease (and apply ``values``) only if this worker still holds the run."""
        now = utcnow()
        r = flow_runs
        held = conn.execute(
            r.update()
            .where(r.c.id == run["id"], r.c.lease_owner == self.owner, r.c.status == "running")
            .values(
                lease_until=now + dt.timedelta(seconds=self.settings.lease_seconds),
                updated_at=now,
                **values,
            )
        ).rowcount
        if not held:
            raise LeaseLost(run["id"])

    def _finish_step(
        self,
        run: dict[str, Any],
        step: Mapping[str, Any],
        result: StepResult,
        next_id: str | None,
        seconds: float,
    ) -> dict[str, Any]:
        now = utcnow()
        context = dict(run["context"])
        context["steps"] = {**context.get("steps", {}), step["id"]: result.output}
        context.pop("wake", None)
        status = "running" if next_id else "completed"
        values: dict[str, Any] = {
            "context": context,
            "current_step": next_id or step["id"],
            "step_seq": run["step_seq"] + 1 if next_id else run["step_seq"],
            "attempt": 0,
            "waiting_event": None,
            "waiting_key": None,
            "error": None,
        }
        with write_transaction(self.engine) as conn:
            self._hold(conn, run, **values)
            conn.execute(
                flow_steps.update()
                .where(flow_steps.c.run_id == run["id"], flow_steps.c.seq == run["step_seq"])
                .values(
                    status="done",
                    output={**result.output, "next": next_id, "seconds": round(seconds, 4)},
                    error=None,
                    finished_at=now,
                )
            )
            if status == "completed":
                conn.execute(
                    flow_runs.update()
                    .where(flow_runs.c.id == run["id"])
                    .values(status="completed", finished_at=now, lease_owner=None, lease_until=None)
                )
        return {**run, **values, "status": status}

    def _pause(self, run: dict[str, Any], step: Mapping[str, Any], result: StepResult) -> str:
        wait = result.wait
        assert wait is not None
        # A wait for an event with no timeout sleeps until the event sets wake_at.
        wake_at = wait.until if wait.until is not None else None
        if wait.event is None and wake_at is None:
            wake_at = utcnow()
        with write_transaction(self.engine) as conn:
            self._hold(conn, run)
            conn.execute(
                flow_runs.update()
                .where(flow_runs.c.id == run["id"])
                .values(
                    status="waiting",
                    wake_at=wake_at,
                    waiting_event=wait.event,
                    waiting_key=wait.key,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            conn.execute(
                flow_steps.update()
                .where(flow_steps.c.run_id == run["id"], flow_steps.c.seq == run["step_seq"])
                .values(
                    status="waiting",
                    output={
                        **result.output,
                        "until": wake_at.isoformat() + "Z" if wake_at else None,
                        "event": wait.event,
                    },
                )
            )
        return "waiting"

    def _defer(self, run: dict[str, Any], step: Mapping[str, Any], e: EffectInFlight) -> str:
        """An earlier attempt of the step's effect may still be in flight: come back when its
        window has passed. Not a failure, so the visit's attempt is not counted."""
        with write_transaction(self.engine) as conn:
            self._hold(conn, run)
            conn.execute(
                flow_runs.update()
                .where(flow_runs.c.id == run["id"])
                .values(status="retrying", wake_at=e.until, lease_owner=None, lease_until=None)
            )
            conn.execute(
                flow_steps.update()
                .where(flow_steps.c.run_id == run["id"], flow_steps.c.seq == run["step_seq"])
                .values(status="retrying", attempts=flow_steps.c.attempts - 1)
            )
        logger.info(
            "effect may still be in flight; step deferred",
            extra={"flow_run_id": run["id"], "step": step["id"], "effect_key": e.key},
        )
        return "retrying"

    def _fail(
        self, run: dict[str, Any], step: Mapping[str, Any], visit: Mapping[str, Any], e: StepFailed
    ) -> str:
        retry = step.get("retry") or {}
        max_attempts = int(retry.get("max_attempts") or self.settings.max_attempts)
        base = parse_duration(retry.get("backoff")) if retry.get("backoff") else None
        base_seconds = base.total_seconds() if base else self.settings.backoff_seconds
        attempts = int(visit["attempts"])
        error = {
            "code": e.code,
            "message": e.message,
            "step": step["id"],
            "attempts": attempts,
            "transient": e.transient,
        }
        now = utcnow()
        if e.transient and attempts < max_attempts:
            delay = min(base_seconds * 2 ** (attempts - 1), self.settings.max_backoff_seconds)
            delay *= random.uniform(0.9, 1.1)  # spread retries of many runs apart
            status, wake_at = "retrying", now + dt.timedelta(seconds=delay)
            error["retry_at"] = wake_at.isoformat() + "Z"
        else:
            status, wake_at = "parked", None
        with write_transaction(self.engine) as conn:
            self._hold(conn, run)
            conn.execute(
                flow_runs.update()
                .where(flow_runs.c.id == run["id"])
                .values(
                    status=status,
                    wake_at=wake_at,
                    error=error,
                    attempt=attempts,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            conn.execute(
                flow_steps.update()
                .where(flow_steps.c.run_id == run["id"], flow_steps.c.seq == run["step_seq"])
                .values(status="retrying" if status == "retrying" else "failed", error=error)
            )
            conn.execute(
                flow_logs.insert().values(
                    run_id=run["id"],
                    step_id=step["id"],
                    level="warning" if status == "retrying" else "error",
                    message=f"{e.code}: {e.message}",
                    data=error,
                    at=now,
                )
            )
        log = logger.warning if status == "retrying" else logger.error
        log(
            "flow step failed: %s",
            e.message,
            extra={"flow_run_id": run["id"], "step": step["id"], "status": status},
        )
        return status

    # Waking ------------------------------------------------------------------------------
    def wake_waiting(self, conn: sa.Connection, events: list[OutboxEvent]) -> list[int]:
        """Inside the dispatcher's transaction: runs waiting for these events become due."""
        r = flow_runs
        names = sorted({e.event_type for e in events})
        query = sa.select(r.c.id, r.c.context, r.c.step_seq, r.c.waiting_event, r.c.waiting_key)
        query = query.where(r.c.status == "waiting", r.c.waiting_event.in_(names))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=r)
        woken: list[int] = []
        for row in conn.execute(query).mappings().all():
            for event in events:
                if event.event_type != row["waiting_event"]:
                    continue
                if row["waiting_key"] is not None and row["waiting_key"] != event_key(event):
                    continue
                context = {
                    **row["context"],
                    "wake": {"seq": row["step_seq"], "reason": "event", "event": event.as_dict()},
                }
                conn.execute(
                    r.update()
                    .where(r.c.id == row["id"])
                    .values(context=context, wake_at=utcnow(), waiting_event=None)
                )
                woken.append(row["id"])
                break
        return woken

    # Logs --------------------------------------------------------------------------------
    def log(
        self, run_id: int, step_id: str | None, message: str, level: str, data: dict[str, Any]
    ) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                flow_logs.insert().values(
                    run_id=run_id,
                    step_id=step_id,
                    level=level,
                    message=message,
                    data=data or None,
                    at=utcnow(),
                )
            )
        logger.log(
            logging.getLevelName(level.upper()) if isinstance(level, str) else logging.INFO,
            message,
            extra={"flow_run_id": run_id, "step": step_id},
        )


def event_key(event: OutboxEvent) -> str | None:
    """What a wait for an event matches on: the record id, or the payload's ``key``."""
    if event.record_id is not None:
        return str(event.record_id)
    key = event.payload.get("key")
    return str(key) if key is not None else None


def _classify(e: Exception) -> StepFailed:
    """Every failure as a StepFailed: transient ones are retried, the rest park the run."""
    if isinstance(e, StepFailed):
        return e
    if isinstance(e, VersionConflict):
        return TransientStepError(e.message, code=e.code)
    if isinstance(e, DealcraftError):
        return PermanentStepError(e.message, code=e.code, details=e.details)
    if isinstance(e, sa.exc.OperationalError | TimeoutError | ConnectionError):
        return TransientStepError(f"{type(e).__name__}: {e}", code="step_transient")
    logger.error("flow step raised an unexpected error", exc_info=e)
    return PermanentStepError(f"{type(e).__name__}: {e}", code="step_crashed")
