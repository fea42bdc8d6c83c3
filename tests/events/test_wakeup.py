"""Waking the dispatcher: a burst of writes enqueues one "dispatch now"; a backed-up queue none."""

from __future__ import annotations

import time

from huey import SqliteHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.events.wakeup import BACKLOG_LIMIT, OutboxWaker, dispatch_task


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_burst_of_pokes_enqueues_one_dispatch_that_the_worker_runs(tmp_path):
    # Given a writer's waker and a worker on the same SqliteHuey file
    queue = str(tmp_path / "queue.db")
    writer = SqliteHuey("dealcraft", filename=queue, results=False)
    waker = OutboxWaker(lambda: writer, interval=0.5)

    # When a hundred writes commit in a burst
    for _ in range(100):
        waker.poke([])

    # Then one task is on the queue, and the worker's task of that name runs once for it
    assert _wait_for(lambda: waker.enqueued >= 1)
    time.sleep(0.1)
    assert waker.enqueued == 1
    worker = SqliteHuey("dealcraft", filename=queue, results=False)
    woken = []
    dispatch_task(worker, lambda: woken.append(True))
    while (task := worker.dequeue()) is not None:
        worker.execute(task)
    assert woken == [True]


def test_poke_while_the_queue_is_backed_up_enqueues_nothing(tmp_path):
    # Given a queue holding as many tasks as the backlog limit (a worker that is not running)
    writer = SqliteHuey("dealcraft", filename=str(tmp_path / "queue.db"), results=False)
    filler = writer.task(name="filler")(lambda: None)
    for _ in range(BACKLOG_LIMIT):
        filler()
    waker = OutboxWaker(lambda: writer, interval=0.0)

    # When a write commits
    waker.poke([])
    time.sleep(0.3)

    # Then no wake-up is added: the worker's poll will find the event
    assert waker.enqueued == 0
    assert writer.pending_count() == BACKLOG_LIMIT


def test_committed_record_write_pokes_the_workspace_waker(crm_sqlite):
    # Given the workspace's waker
    waker = crm_sqlite.records.after_commit.__self__
    before = waker.enqueued

    # When a lead is created
    crm_sqlite.records.create(SYSTEM, "lead", {"name": "Zhao Min"})

    # Then a wake-up reached the workspace's queue
    assert _wait_for(lambda: waker.enqueued > before)
