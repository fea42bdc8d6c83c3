"""The flow queue end to end: a worker process on SqliteHuey with SQLite, and on RedisHuey
with PostgreSQL, woken by the writer's "dispatch now" task rather than by its poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from huey import RedisHuey, SqliteHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.flows.service import FlowService
from dealcraft.flows.tables import flow_runs
from dealcraft.settings import Settings
from dealcraft.workspace import Workspace

FLOW = {
    "name": "welcome_lead",
    "enabled": True,
    "run_as": "flow_bot",
    "trigger": {"type": "record.created", "object": "lead"},
    "steps": [
        {"id": "hook", "type": "webhook", "url": "", "body": {"lead": "{{record.id}}"}},
        {"id": "mark", "type": "update_record", "values": {"status": "contacted"}},
    ],
}
# Longer than the test waits for the second run: only a wake-up can deliver it in time.
POLL_SECONDS = 60


@pytest.fixture(params=["sqlite+sqlitehuey", "postgresql+redis"])
def queue_workspace(request, tmp_path):
    """A CRM workspace and its queue: SQLite with SqliteHuey, or PostgreSQL with RedisHuey."""
    if request.param == "sqlite+sqlitehuey":
        database_url, queue_url = request.getfixturevalue("_sqlite_copy"), None
    else:
        database_url = request.getfixturevalue("_pg_copy")
        queue_url = request.getfixturevalue("redis_url")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, queue_url=queue_url, env="test"
    )
    ws = Workspace(settings)
    yield ws
    ws.close()


def _worker(ws: Workspace, webhook_port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEALCRAFT_ENV": "test",
        "DEALCRAFT_DATA_DIR": str(ws.settings.data_dir),
        "DEALCRAFT_DATABASE_URL": ws.settings.resolved_database_url,
        "DEALCRAFT_FLOW_PUMP_SECONDS": str(POLL_SECONDS),
    }
    env.pop("DEALCRAFT_QUEUE_URL", None)
    if ws.settings.queue_url:
        env["DEALCRAFT_QUEUE_URL"] = ws.settings.queue_url
    return subprocess.Popen(
        [sys.executable, "-m", "dealcraft.flows.worker", "2"], env=env, stdout=log, stderr=log
    )


def _wait_completed(ws: Workspace, record_id: int, timeout: float) -> float | None:
    """Seconds until the lead's run completed, or None if it did not in ``timeout``."""
    started = time.monotonic()
    query = sa.select(flow_runs.c.status).where(flow_runs.c.record_id == record_id)
    while time.monotonic() - started < timeout:
        with ws.engine.connect() as conn:
            if conn.execute(query).scalar() == "completed":
                return time.monotonic() - started
        time.sleep(0.02)
    return None


def test_created_lead_runs_its_flow_in_the_worker_woken_by_the_write(
    queue_workspace, webhook_sink, tmp_path
):
    # Given a flow on new leads and a worker whose poll comes only once a minute
    ws = queue_workspace
    service = FlowService(ws)
    service.ensure_service_account("flow_bot", "sales_director")
    flow = {**FLOW, "steps": [dict(s) for s in FLOW["steps"]]}
    flow["steps"][0]["url"] = f"{webhook_sink.url}/leads"
    service.save(flow)
    log = (tmp_path / "worker.log").open("wb")
    worker = _worker(ws, webhook_sink.port, log)
    try:
        # The worker's first pass, whenever it starts, delivers the first lead.
        first = ws.records.create(SYSTEM, "lead", {"name": "Wang Fang"})["id"]
        assert _wait_completed(ws, first, timeout=30) is not None, (
            tmp_path / "worker.log"
        ).read_text()[-2000:]
        time.sleep(0.5)  # the pump is now asleep for its poll interval
        woken_before = ws.records.after_commit.__self__.enqueued

        # When a second lead is created
        second = ws.records.create(SYSTEM, "lead", {"name": "Li Lei"})["id"]
        seconds = _wait_completed(ws, second, timeout=5)
    finally:
        worker.terminate()
        worker.wait(10)
        log.close()

    # Then its run completed within moments, because the write woke the worker
    assert seconds is not None, (tmp_path / "worker.log").read_text()[-2000:]
    waker = ws.records.after_commit.__self__
    assert waker.enqueued > woken_before
    queue, _ = waker._task
    assert isinstance(queue, RedisHuey if ws.settings.queue_url else SqliteHuey)
    # And each lead's webhook was delivered once and each lead marked
    assert sorted(webhook_sink.delivered) == sorted(
        f"run{r}.1.hook.post" for r in _run_ids(ws, [first, second])
    )
    assert [ws.records.get(SYSTEM, "lead", i)["status"] for i in (first, second)] == [
        "contacted",
        "contacted",
    ]
    print(f"\nqueue test: second lead's run completed {seconds * 1000:.0f} ms after its write")


def _run_ids(ws: Workspace, record_ids: list[int]) -> list[int]:
    with ws.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(flow_runs.c.id).where(flow_runs.c.record_id.in_(record_ids))
            ).scalars()
        )
