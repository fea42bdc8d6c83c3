"""The dispatcher: delivers outbox events to subscribers at least once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Connection, Engine

from dealcraft.db.tx import write_transaction
from dealcraft.events.outbox import OutboxEvent, expand, has_pending, mark_delivered, pending

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], None]


class Subscriber(Protocol):
    """Reacts to events inside the delivering transaction.

    Batch events are expanded first: a bulk create's ``records.created`` arrives as one
    ``record.created`` per record (told apart by ``event.key``).

    ``handle`` writes what it needs with ``conn`` (so its writes commit with the delivery
    mark, or neither does) and returns callbacks to run once that transaction commits.
    It must be idempotent: an event can be delivered again after a crash.
    """

    def handle(self, conn: Connection, events: list[OutboxEvent]) -> list[AfterCommit]: ...


@dataclass
class DispatchResult:
    delivered: int = 0
    callbacks: list[AfterCommit] = field(default_factory=list)


class Dispatcher:
    def __init__(self, engine: Engine, subscribers: list[Subscriber], batch_size: int = 200):
        self.engine = engine
        self.subscribers = subscribers
        self.batch_size = batch_size

    def dispatch_once(self) -> int:
        """Deliver one batch of pending outbox rows; returns how many rows were delivered."""
        result = DispatchResult()
        # A look first, so an empty outbox costs no write lock (wake-ups come per write).
        if not has_pending(self.engine):
            return 0
        with write_transaction(self.engine) as conn:
            rows = pending(conn, self.batch_size)
            if not rows:
                return 0
            events = expand(rows)
            for subscriber in self.subscribers:
                result.callbacks.extend(subscriber.handle(conn, events))
            mark_delivered(conn, [e.id for e in rows])
            result.delivered = len(rows)

        # Only now, after commit, may the subscribers' effects begin.
        for callback in result.callbacks:
            try:
                callback()
            except Exception:
                # The committed state is the truth; the sweeper finds what a callback missed.
                logger.exception("after-commit callback failed")
        logger.debug("outbox events delivered", extra={"count": result.delivered})
        return result.delivered

    def drain(self, max_batches: int = 1000) -> int:
        """Deliver until the outbox is empty (or ``max_batches`` batches)."""
        total = 0
        for _ in range(max_batches):
            delivered = self.dispatch_once()
            total += delivered
            if delivered < self.batch_size:
                break
        return total
