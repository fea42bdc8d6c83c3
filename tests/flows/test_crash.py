"""Durability under SIGKILL: 200 runs, each sending an e-mail and calling a webhook and
updating its record, while the worker process is killed at random moments and restarted.

Every run completes and every effect is delivered exactly once, counted at the receiver. The
receivers deduplicate by the key each message carries (the e-mail's Message-ID, the webhook's
``Idempotency-Key``), as real ones do: a worker killed after the receiver accepted a message
but before the ledger recorded it sends the message again with the same key, and the receiver
acknowledges the repeat without delivering it. The test prints those raw repeat arrivals (see
docs/flows.md for the figures) and bounds them by the effects that can be in flight at a kill.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from dealcraft.access.principal import SYSTEM
from dealcraft.flows.service import FlowService
from dealcraft.flows.tables import flow_runs, flow_steps
from dealcraft.settings import Settings
from dealcraft.workspace import Workspace

RUNS = 200
# Worker threads: PostgreSQL commits in parallel, so more threads keep its CI time down.
WORKERS = {"sqlite": 4, "postgresql": 8}
KILLS = 8
KILL_SEED = 20240601
FLOW = """
name: crash_test
enabled: true
run_as: flow_bot
trigger: {{type: record.created, object: lead}}
steps:
  - id: mail
    type: notify
    channel: email
    to: "{{{{record.email}}}}"
    subject: "Welcome {{{{record.name}}}}"
    text: "Hello {{{{record.name}}}}, lead {{{{record.id}}}}"
  - id: hook
    type: webhook
    url: "{webhook}/leads"
    secret: crash-secret
    body: {{lead: "{{{{record.id}}}}", name: "{{{{record.name}}}}"}}
  - id: mark
    type: update_record
    values: {{status: contacted}}
"""


def _start_worker(env: dict[str, str], log, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dealcraft.flows.worker", str(workers)],
        env=env,
        stdout=log,
        stderr=log,
    )


def test_killed_worker_completes_every_run_and_delivers_each_effect_once(
    crm_url, tmp_path, smtp_sink, webhook_sink
):
    # Given a workspace with the flow, and a worker configured for short leases.
    backend = "postgresql" if crm_url.startswith("postgresql") else "sqlite"
    workers = WORKERS[backend]
    data_dir = tmp_path / "data"
    ws = Workspace(Settings(data_dir=data_dir, database_url=crm_url, env="test"))
    service = FlowService(ws)
    service.ensure_service_account("flow_bot", "sales_director")
    service.import_yaml(FLOW.format(webhook=webhook_sink.url))
    env = {
        **os.environ,
        "DEALCRAFT_ENV": "test",
        "DEALCRAFT_DATA_DIR": str(data_dir),
        "DEALCRAFT_DATABASE_URL": crm_url,
        "DEALCRAFT_FLOW_SMTP_PORT": str(smtp_sink.port),
        "DEALCRAFT_FLOW_LEASE_SECONDS": "3.0",
        "DEALCRAFT_FLOW_SMTP_TIMEOUT": "1.0",
        "DEALCRAFT_FLOW_HTTP_TIMEOUT": "1.0",
        "DEALCRAFT_FLOW_BACKOFF_SECONDS": "0.1",
        "DEALCRAFT_FLOW_PUMP_SECONDS": "0.1",
    }
    env.pop("DEALCRAFT_QUEUE_URL", None)  # the default queue: SqliteHuey in the data directory
    log = (tmp_path / "worker.log").open("wb")
    rng = random.Random(KILL_SEED)
    started = time.monotonic()

    # When 200 leads are created while the worker is killed and restarted at random.
    worker = _start_worker(env, log, workers)
    for i in range(RUNS):
        ws.records.create(SYSTEM, "lead", {"name": f"Lead {i}", "email": f"lead{i}@example.com"})
    kills = 0
    while kills < KILLS and time.monotonic() - started < 50:
        # Kill only a worker that is doing work: wait for it to visit steps, then a moment.
        before = _visits(ws)
        while _visits(ws) == before and time.monotonic() - started < 50:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        if _completed(ws) == RUNS:
            break
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        worker = _start_worker(env, log, workers)
    deadline = time.monotonic() + 30
    while _completed(ws) < RUNS and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    log.close()

    # Then every run completed and every lead was marked.
    statuses = _statuses(ws)
    assert statuses == {"completed": RUNS}, (
        statuses,
        (tmp_path / "worker.log").read_text()[-3000:],
    )
    assert ws.records.count(SYSTEM, "lead", where="status = 'contacted'") == RUNS

    # And the receivers delivered each e-mail and each webhook exactly once.
    assert len(smtp_sink.delivered) == RUNS
    assert len(set(smtp_sink.delivered)) == RUNS, "an e-mail was delivered twice"
    assert len(webhook_sink.delivered) == RUNS
    assert len(set(webhook_sink.delivered)) == RUNS, "a webhook was delivered twice"
    assert len({r["body"] for r in webhook_sink.requests}) == RUNS

    # And repeats reached the receivers only for effects in flight when a worker died.
    repeats = smtp_sink.repeats + webhook_sink.repeats
    assert repeats <= kills * workers, (repeats, kills)
    assert kills >= 5, "the worker was not killed often enough to test anything"
    with ws.engine.connect() as conn:
        resumed = conn.execute(
            sa.select(sa.func.count()).select_from(flow_steps).where(flow_steps.c.attempts > 1)
        ).scalar()
    assert resumed >= 1, "no kill interrupted a step; the test proved nothing"
    print(
        f"\ncrash test [{backend}]: {kills} kills, {resumed} step visits resumed, "
        f"raw repeat arrivals: e-mail {smtp_sink.repeats}, webhook {webhook_sink.repeats}; "
        f"{time.monotonic() - started:.1f}s"
    )
    ws.close()


def _statuses(ws: Workspace) -> dict[str, int]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(flow_runs.c.status, sa.func.count()).group_by(flow_runs.c.status)
        ).all()
    return {status: n for status, n in rows}


def _visits(ws: Workspace) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(flow_steps.c.attempts), 0))
        ).scalar()


def _completed(ws: Workspace) -> int:
    return _statuses(ws).get("completed", 0)
