"""The effect ledger: every side effect of a step happens once, however often the step runs.

Before an effect is attempted a ``pending`` row is committed under the effect's key; after
it succeeded the row is completed with the result and an audit entry, in one transaction. A
step that runs again finds a ``done`` row and gets the stored result back without repeating
the effect. A ``pending`` row means a previous attempt may or may not have reached the other
side; the effect is then attempted again with the same key, which the other side uses to
recognise the repeat (the e-mail's Message-ID, the webhook's delivery id), and which a record
create uses to find the record a crashed attempt committed (``recover``).
"""

from __future__ import annotations

import logging
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

    def begin(self, key: str, run_id: int, step_id: str, kind: str, request: Any) -> Attempt | None:
        """Record an attempt; None when the effect is done already."""
        with write_transaction(self.engine) as conn:
            query = sa.select(flow_effects).where(flow_effects.c.key == key)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is not None and row["status"] == "done":
                return None
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
                        status="pending",
                        attempts=1,
                        request=request,
                        watermark=int(watermark or 0),
                        created_at=utcnow(),
                    )
                )
                return Attempt(key, 1, int(watermark or 0))
            conn.execute(
                flow_effects.update()
                .where(flow_effects.c.key == key)
                .values(attempts=row["attempts"] + 1)
            )
            return Attempt(key, row["attempts"] + 1, int(row["watermark"] or 0))

    def complete(self, key: str, done: Done, audit_entry: dict[str, Any] | None) -> bool:
        """Store the result (and the audit entry) once; False if the record was claimed."""
        values: dict[str, Any] = {"status": "done", "result": done.result, "done_at": utcnow()}
        if done.record is not None:
            values["created_object"], values["created_record_id"] = done.record
        try:
            with write_transaction(self.engine) as conn:
                changed = conn.execute(
                    flow_effects.update()
                    .where(flow_effects.c.key == key, flow_effects.c.status == "pending")
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
) -> dict[str, Any]:
    """Perform an effect at most once per success: the stored result if it is done."""
    attempt = ledger.begin(key, run_id, step_id, kind, request)
    if attempt is None:
        row = ledger.get(key)
        return dict(row["result"] or {}) if row else {}
    if attempt.repeated:
        logger.info("effect attempted again", extra={"effect_key": key, "attempt": attempt.number})
    done = perform(attempt)
    if not ledger.complete(key, done, audit_entry(done)):
        # Another effect claimed the same record first; try again, which recovers afresh.
        done = perform(Attempt(key, attempt.number + 1, attempt.watermark))
        ledger.complete(key, done, audit_entry(done))
    return done.result
