"""The flow engine of one workspace: the queue, the runner, the dispatcher and the pump.

The task queue is Huey: SqliteHuey in the data directory by default, RedisHuey when
``DEALCRAFT_QUEUE_URL`` is a ``redis://`` URL. A queued task only says "advance run N";
the database decides whether there is anything to do, so a lost or repeated task is
harmless. The pump (in every worker) delivers outbox events, fires schedules and dates, and
re-queues runs that are due or whose worker died.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING

from huey import Huey, RedisHuey, SqliteHuey

from dealcraft.events.dispatch import Dispatcher
from dealcraft.events.wakeup import dispatch_task
from dealcraft.flows.runner import Runner
from dealcraft.flows.service import FlowService
from dealcraft.flows.settings import FlowSettings, get_flow_settings
from dealcraft.flows.starter import FlowStarter, TimeTriggers

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

TASK_NAME = "dealcraft.flows.advance"


def make_huey(workspace: Workspace) -> Huey:
    url = workspace.settings.queue_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("dealcraft", url=url, results=False)
    path = workspace.settings.data_dir / "queue.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("dealcraft", filename=str(path), results=False)


class FlowEngine:
    def __init__(
        self,
        workspace: Workspace,
        settings: FlowSettings | None = None,
        huey: Huey | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings or get_flow_settings()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.runner = Runner(workspace, self.settings, self.owner)
        self.service = FlowService(workspace)
        self.starter = FlowStarter(workspace, self.runner, self.enqueue)
        self.dispatcher = Dispatcher(workspace.engine, [self.starter])
        self.time_triggers = TimeTriggers(workspace, self.runner)
        self.huey = huey if huey is not None else make_huey(workspace)
        self._advance_task = self.huey.task(name=TASK_NAME)(self._advance)
        # "Dispatch now", enqueued by writers after commit (dealcraft.events.wakeup): the
        # task only wakes the pump, so the dispatch never takes a queue worker's turn.
        self._stop = threading.Event()
        self._wake = threading.Event()
        dispatch_task(self.huey, self._wake.set)

    def _advance(self, run_id: int) -> None:
        self.runner.advance(run_id)

    # Queueing ----------------------------------------------------------------------------
    def enqueue(self, run_ids: list[int]) -> None:
        """Put runs on the queue (after the commit that made them due)."""
        if not run_ids:
            return
        self.runner.mark_queued(run_ids)
        for run_id in run_ids:
            self._advance_task(run_id)

    def wake(self, events: list[dict]) -> None:
        """``RecordService.after_commit``: deliver new events now instead of at the next pump."""
        try:
            self.pump_once(sweep=False)
        except Exception:
            logger.exception("dispatch after commit failed; the pump will deliver")

    # The pump ----------------------------------------------------------------------------
    def pump_once(self, sweep: bool = True) -> int:
        """Deliver outbox events, fire time triggers, re-queue due runs; returns work done."""
        done = self.dispatcher.drain()
        started = self.time_triggers.fire()
        if started:
            self.enqueue(started)
        due = self.runner.due_runs() if sweep else []
        if due:
            self.enqueue(due)
        return done + len(started) + len(due)

    def pump_forever(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the pass: a wake-up during it brings the next one
            try:
                busy = self.pump_once()
            except Exception:
                logger.exception("flow pump failed; retrying")
                busy = 0
            if not busy:
                self._wake.wait(self.settings.pump_seconds)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # Inline, for tests and the CLI ---------------------------------------------------------
    def run_inline(self, max_rounds: int = 200) -> int:
        """Deliver events and advance due runs in this process until nothing is due."""
        advanced = 0
        for _ in range(max_rounds):
            self.dispatcher.drain()
            started = self.time_triggers.fire()
            due = sorted(set(started + self.runner.due_runs(queued=True)))
            if not due:
                return advanced
            for run_id in due:
                self.runner.advance(run_id)
                advanced += 1
        return advanced


def run_worker(workspace: Workspace, workers: int = 4) -> None:
    """``dealcraft worker``: the Huey consumer plus the pump, until SIGINT or SIGTERM."""
    engine = FlowEngine(workspace)
    # The worker's own writes (flow steps) wake its pump directly, not through the queue.
    workspace.records.after_commit = lambda events: engine._wake.set()
    pump = threading.Thread(target=engine.pump_forever, name="flow-pump", daemon=True)
    pump.start()
    consumer = engine.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=False,
        initial_delay=0.01,
        backoff=1.15,
        # SqliteHuey is polled: this bounds how late a wake-up is seen (RedisHuey blocks).
        max_delay=0.05,
    )
    logger.info("flow worker started", extra={"owner": engine.owner, "workers": workers})
    try:
        consumer.run()
    finally:
        engine.stop()
        time.sleep(0)
