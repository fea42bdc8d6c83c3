"""The outbox: events written in the same transaction as the change they describe."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dealcraft.db import system
from dealcraft.errors import InvalidInput
from dealcraft.schema.service import utcnow

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
RECORD_EVENTS = ("record.created", "record.updated", "record.deleted", "record.restored")
# A bulk create writes one event for its whole batch; subscribers see one per record.
BATCH_EVENTS = {"records.created": "record.created"}


@dataclass(frozen=True)
class OutboxEvent:
    id: int
    event_type: str
    object_name: str | None
    record_id: int | None
    payload: dict[str, Any]
    actor_id: int | None
    created_at: datetime
    # Set on the per-record events a batch event expands into (the record's id); the outbox
    # row is still ``id``, so ``key`` is what tells two of them apart.
    part: int | None = None

    @property
    def key(self) -> str:
        """Unique per delivered event: ``e<outbox id>``, ``e<outbox id>.r<record id>`` for a
        record of a batch (the key flow runs are started under)."""
        return f"e{self.id}" if self.part is None else f"e{self.id}.r{self.part}"

    @classmethod
    def from_row(cls, row: Any) -> OutboxEvent:
        return cls(
            id=int(row["id"]),
            event_type=row["event_type"],
            object_name=row["object_name"],
            record_id=row["record_id"],
            payload=dict(row["payload"] or {}),
            actor_id=row["actor_id"],
            created_at=row["created_at"],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "type": self.event_type,
            "object": self.object_name,
            "record_id": self.record_id,
            "payload": self.payload,
            "actor_id": self.actor_id,
            "at": self.created_at.isoformat() + "Z",
        }


def check_event_name(name: str, field: str = "event") -> None:
    """Named events are dotted lowercase names (``segment.entered``); ``record.*`` is reserved."""
    if not isinstance(name, str) or not EVENT_NAME.match(name) or len(name) > 63:
        raise InvalidInput(
            f"an event name is dotted lowercase words such as 'payment.received', got {name!r}",
            code="invalid_event_name",
            details={"field": field, "value": str(name)},
        )
    if name.startswith("record."):
        raise InvalidInput(
            f"event names starting with 'record.' are raised by the record service, got {name!r}",
            code="reserved_event_name",
            details={"field": field, "value": name},
        )


def publish(
    conn: Connection,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    object_name: str | None = None,
    record_id: int | None = None,
    actor_id: int | None = None,
) -> None:
    """Write a named event into the caller's open transaction: it is delivered only if that
    transaction commits. Metrics, segments and the assistant raise their events this way."""
    check_event_name(event_type)
    if not conn.in_transaction():
        raise RuntimeError("publish needs a connection inside an open transaction")
    conn.execute(
        system.outbox.insert().values(
            event_type=event_type,
            object_name=object_name,
            record_id=record_id,
            payload=payload or {},
            actor_id=actor_id,
            created_at=utcnow(),
        )
    )


def pending(conn: Connection, limit: int) -> list[OutboxEvent]:
    """Undelivered events, oldest first; on PostgreSQL locked so two dispatchers share work."""
    o = system.outbox
    query = sa.select(o).where(o.c.delivered_at.is_(None)).order_by(o.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [OutboxEvent.from_row(r) for r in conn.execute(query).mappings()]


def has_pending(engine: Engine) -> bool:
    """Whether any event waits for delivery (a read, no lock)."""
    o = system.outbox
    with engine.connect() as conn:
        query = sa.select(o.c.id).where(o.c.delivered_at.is_(None)).limit(1)
        return conn.execute(query).first() is not None


def expand(events: list[OutboxEvent]) -> list[OutboxEvent]:
    """Batch events as the per-record events subscribers match on, in the batch's order.

    ``records.created`` with ``{"ids": [...]}`` becomes one ``record.created`` per id, each
    with the batch's actor, time and version and ``payload.batch`` = the outbox id.
    """
    out: list[OutboxEvent] = []
    for event in events:
        single = BATCH_EVENTS.get(event.event_type)
        if single is None:
            out.append(event)
            continue
        payload = {k: v for k, v in event.payload.items() if k != "ids"}
        for record_id in event.payload.get("ids") or ():
            out.append(
                OutboxEvent(
                    id=event.id,
                    event_type=single,
                    object_name=event.object_name,
                    record_id=int(record_id),
                    payload={**payload, "batch": event.id},
                    actor_id=event.actor_id,
                    created_at=event.created_at,
                    part=int(record_id),
                )
            )
    return out


def mark_delivered(conn: Connection, ids: list[int]) -> None:
    o = system.outbox
    now = utcnow()
    for start in range(0, len(ids), 500):
        conn.execute(
            o.update().where(o.c.id.in_(ids[start : start + 500])).values(delivered_at=now)
        )


def mark_all_delivered(conn: Connection) -> int:
    """Mark every pending event delivered without delivering it (a seeded history that no
    subscriber should react to); returns how many there were."""
    o = system.outbox
    return int(
        conn.execute(
            o.update().where(o.c.delivered_at.is_(None)).values(delivered_at=utcnow())
        ).rowcount
    )
