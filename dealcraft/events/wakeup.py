"""Waking the dispatcher: a committed write tells the worker at once instead of at its poll.

The record service calls ``OutboxWaker.poke`` after a write that put events in the outbox has
committed. The waker puts one "dispatch now" task on the flow queue (SqliteHuey or RedisHuey,
so it reaches a worker in another process); the worker's task wakes its pump, which delivers
the outbox at once (on the pump's thread, so the queue's workers keep advancing runs).
A burst of writes enqueues once: pokes that arrive while a task is being enqueued, or within
``interval`` after it, are folded into one more task. The outbox row stays the guarantee: a
lost or late wake-up only means the worker's poll delivers the event instead.

One daemon thread per process enqueues for every waker, so a write never waits on the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huey import Huey

    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

DISPATCH_TASK = "dealcraft.flows.dispatch"
# A queue this long is backed up (or has no worker): the poll will find the events anyway.
BACKLOG_LIMIT = 1000
# A queue that is down is reported once a minute, not once per write.
WARN_EVERY_SECONDS = 60.0


class OutboxWaker:
    """Enqueues "dispatch now" on a queue made on first use by ``make_queue``."""

    def __init__(self, make_queue: Callable[[], Huey], interval: float = 0.02) -> None:
        self.make_queue = make_queue
        self.interval = interval
        self.enqueued = 0
        self.warned_at = float("-inf")
        self._task: Any = None

    def poke(self, events: list[dict[str, Any]] | None = None) -> None:
        """After commit: ask for a dispatch soon (never blocks, never raises)."""
        _WAKE_THREAD.request(self)

    def enqueue(self) -> None:
        """On the wake thread: one dispatch task, unless the queue is backed up."""
        if self._task is None:
            huey = self.make_queue()
            # The worker registers the real task under this name; here it is only a message.
            self._task = (huey, dispatch_task(huey, _nothing))
        huey, task = self._task
        if huey.pending_count() >= BACKLOG_LIMIT:
            return
        task()
        self.enqueued += 1


def dispatch_task(huey: Huey, wake: Callable[[], Any]) -> Any:
    """Register "dispatch now" on ``huey``: the worker passes what wakes its pump.

    Huey names a task by the module of its function as well, so writers and the worker
    register it here, under one name.
    """

    def dispatch_now() -> None:
        wake()

    return huey.task(name=DISPATCH_TASK)(dispatch_now)


def _nothing() -> None:
    """A writer's copy of the task never runs: the worker's delivers the outbox."""


class _WakeThread:
    """Wakers asked for a dispatch, served by one daemon thread, at most once per interval."""

    def __init__(self) -> None:
        self._pending: dict[int, OutboxWaker] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self, waker: OutboxWaker) -> None:
        with self._lock:
            self._pending[id(waker)] = waker
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="outbox-waker", daemon=True
                )
                self._thread.start()
        self._ready.set()

    def _serve(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            with self._lock:
                wakers, self._pending = list(self._pending.values()), {}
            for waker in wakers:
                try:
                    waker.enqueue()
                except Exception:
                    # The poll delivers the events; a queue that is down is the worker's story.
                    if time.monotonic() - waker.warned_at >= WARN_EVERY_SECONDS:
                        waker.warned_at = time.monotonic()
                        logger.warning("dispatch wake-up not enqueued", exc_info=True)
            time.sleep(min(w.interval for w in wakers) if wakers else 0)


_WAKE_THREAD = _WakeThread()


def waker_for(workspace: Workspace) -> OutboxWaker:
    """The waker of a workspace's flow queue (the queue is opened on the first write)."""

    def make_queue() -> Huey:
        from dealcraft.flows.engine import make_huey

        return make_huey(workspace)

    return OutboxWaker(make_queue)
