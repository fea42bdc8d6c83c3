"""The effect ledger: every side effect of a step happens once, however often the step runs.

An effect's row moves ``sending`` → ``done``. Right before the effect is attempted the row is
committed as ``sending`` with the attempt's time (and, in the same transaction, the runner
confirms it still holds the run's lease); right after it succeeded the row is completed with
the result and an audit entry, in one small transaction. A step that runs again finds a
``done`` row and gets the stored result back without repeating the effect.

A ``sending`` row younger than its in-flight window means an attempt may still be talking to
the other side (a worker whose lease ran out mid-call): a second attempt is refused with
``EffectInFlight`` and the run tries again when the window has passed, so two attempts of one
effect never overlap. An attempt that failed puts the row back to ``pending``. An older
``sending`` row (its worker died) or a ``pending`` one means a previous attempt may or may not
have reached the other side; the effect is attempted again with the same key, which the other
side uses to recognise the repeat (the e-mail's Message-ID, the webhook's ``Idempotency-Key``),
and which a record create uses to find the record a crashed attempt committed (``recover``).

While a row is ``sending`` its ``result`` holds the attempt (``{"sending": {"at", "until",
"number"}}``); until ``dc_flow_effect`` has an attempt-time column, that is where it lives.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.flows.tables import flow_effects
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)

# Rows in these states may be attempted (again); "sending" only once its window has passed.
OPEN = ("pending", "sending")


class EffectInFlight(Exception):
    """Another attempt of the effect may still be in flight until ``until``: do not overlap."""

    def __init__(self, key: str, until: dt.datetime) -> None:
        super().__init__(f"effect {key} may still be in flight until {until.isoformat()}Z")
        self.key = key
        self.until = until


@dataclass
class Attempt:
    """What an effect's perform function is told: its key, and whether it ran before."""

    key: str
    number: int  # 1 for the first attempt
    watermark: int  # the outbox's last id when the effect was first attempted

    @property
    def repeated(self) -> bool:
        return self.number > 1


@dataclass
class Done:
    """An effect's result; ``record`` names a record it created (claimed once, uniquely)."""

    result: dict[str, Any]
    record: tuple[str, int] | None = None


class EffectLedger:
    def __init__(self, engine: Engine, audit: Any = None) -> None:
        self.engine = engine
        self.audit = audit

    def get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flow_effects).where(flow_effects.c.key == key)).mappings()
            found = row.first()
        return dict(found) if found else None

    def begin(
        self,
        key: str,
        run_id: int,
        step_id: str,
        kind: str,
        request: Any,
        *,
        in_flight_seconds: float,
        hold: Callable[[sa.Connection], None] | None = None,
    ) -> Attempt | None:
        """Mark the effect ``sending`` for one attempt; None when it is done already.

        ``hold`` runs first in the same transaction (the runner's lease check: it raises if
        the run is no longer this worker's). Raises ``EffectInFlight`` while an earlier
        attempt's window (``in_flight_seconds`` from its start) has not passed.
        """
        now = utcnow()
        with write_transaction(self.engine) as conn:
            if hold is not None:
                hold(conn)
            query = sa.select(flow_effects).where(flow_effects.c.key == key)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is not None and row["status"] == "done":
                return None
            if row is not None and row["status"] == "sending":
                until = _sending_until(row)
                if until is not None and until > now:
                    raise EffectInFlight(key, until)
            number = 1 if row is None else int(row["attempts"]) + 1
            sending = {
                "sending": {
                    "number": number,
                    "at": now.isoformat() + "Z",
                    "until": (now + dt.timedelta(seconds=in_flight_seconds)).isoformat() + "Z",
                }
            }
            if row is None:
                watermark = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(system.outbox.c.id), 0))
                ).scalar()
                conn.execute(
                    flow_effects.insert().values(
                        key=key,
                        run_id=run_id,
                        step_id=step_id,
                        kind=kind,
                        status="sending",
                        attempts=1,
                        request=request,
                        result=sending,
                        watermark=int(watermark or 0),
                        created_at=now,
                    )
                )
                return Attempt(key, 1, int(watermark or 0))
            conn.execute(
                flow_effects.update()
                .where(flow_effects.c.key == key)
                .values(status="sending", attempts=number, result=sending)
            )
            return Attempt(key, number, int(row["watermark"] or 0))

    def release(self, key: str) -> None:
        """The attempt failed (it raised): the effect may be attempted again at once."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                flow_effects.update()
                .where(flow_effects.c.key == key, flow_effects.c.status == "sending")
                .values(status="pending", result=None)
            )

    def complete(self, key: str, done: Done, audit_entry: dict[str, Any] | None) -> bool:
        """Store the result (and the audit entry) once; False if the record was claimed."""
        values: dict[str, Any] = {"status": "done", "result": done.result, "done_at": utcnow()}
        if done.record is not None:
            values["created_object"], values["created_record_id"] = done.record
        try:
            with write_transaction(self.engine) as conn:
                changed = conn.execute(
                    flow_effects.update()
                    .where(flow_effects.c.key == key, flow_effects.c.status.in_(OPEN))
                    .values(**values)
                ).rowcount
                if changed and self.audit is not None and audit_entry is not None:
                    self.audit.record(conn, **audit_entry)
        except sa.exc.IntegrityError:
            return False
        return True

    def claimed_records(self, object_name: str, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        e = flow_effects
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(e.c.created_record_id).where(
                        e.c.created_object == object_name, e.c.created_record_id.in_(ids)
                    )
                ).scalars()
            )


def run_effect(
    ledger: EffectLedger,
    *,
    key: str,
    run_id: int,
    step_id: str,
    kind: str,
    request: Any,
    perform: Callable[[Attempt], Done],
    audit_entry: Callable[[Done], dict[str, Any] | None],
    in_flight_seconds: float,
    hold: Callable[[sa.Connection], None] | None = None,
) -> dict[str, Any]:
    """Perform an effect at most once per success: the stored result if it is done."""
    attempt = ledger.begin(
        key, run_id, step_id, kind, request, in_flight_seconds=in_flight_seconds, hold=hold
    )
    if attempt is None:
        row = ledger.get(key)
        return dict(row["result"] or {}) if row else {}
    if attempt.repeated:
        logger.info("effect attempted again", extra={"effect_key": key, "attempt": attempt.number})

    # The attempt: nothing but the call itself between the two ledger transactions.
    started = time.perf_counter()
    try:
        done = perform(attempt)
    except BaseException:
        ledger.release(key)
        raise
    performed = time.perf_counter()
    completed = ledger.complete(key, done, audit_entry(done))
    logger.debug(
        "effect done",
        extra={
            "effect_key": key,
            "perform_ms": round((performed - started) * 1000, 1),
            "complete_ms": round((time.perf_counter() - performed) * 1000, 1),
        },
    )
    if not completed:
        # Another effect claimed the same record first; try again, which recovers afresh.
        try:
            done = perform(Attempt(key, attempt.number + 1, attempt.watermark))
        except BaseException:
            ledger.release(key)
            raise
        ledger.complete(key, done, audit_entry(done))
    return done.result


def _sending_until(row: Any) -> dt.datetime | None:
    """The end of a ``sending`` row's in-flight window (None if it was not recorded)."""
    attempt = (row["result"] or {}).get("sending") or {}
    until = attempt.get("until")
    return dt.datetime.fromisoformat(until.rstrip("Z")) if until else None
