"""Flow engine benchmark: how fast a trigger reaches its first step, and how many runs one
worker completes per second, against Huey's own raw task throughput on the same machine.

    python -m benchmarks.flows [--backend sqlite|postgresql] [--runs 500] [--latency 100]

(a) throughput: ``--runs`` leads are bulk-created (one ``records.created`` outbox event),
    then one worker process (``python -m dealcraft.flows.worker 1``: the Huey consumer with
    one worker thread, and the pump) starts; runs/s = runs / (last run finished - first step
    started). Each run is one inbox notification (a ledgered effect, a run and a step row).
(b) raw Huey: the same number of no-op tasks through the same Huey storage and a one-thread
    consumer in its own process, timed the same way (first task started to last finished).
(c) latency: with the worker running, ``--latency`` leads are created one at a time, 50 to
    150 ms apart; latency = the first step's start - the lead's creation (both from the
    database's rows). The worker sees the outbox by polling every DEALCRAFT_FLOW_PUMP_SECONDS
    (default 0.5 s), which bounds the figure; nothing in the API process wakes it yet.

PostgreSQL: ``--database-url`` or DEALCRAFT_BENCH_PG_URL / DEALCRAFT_TEST_PG_URL names a
server on which a scratch database is created and dropped. The queue is SqliteHuey in the
data directory unless DEALCRAFT_QUEUE_URL names Redis. One JSON line goes to stdout;
progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

FLOW = {
    "name": "bench_new_lead",
    "enabled": True,
    "run_as": "flow_bot",
    "trigger": {"type": "record.created", "object": "lead"},
    "steps": [
        {
            "id": "tell",
            "type": "notify",
            "channel": "inbox",
            "user": "flow_bot",
            "title": "New lead {{record.name}}",
        }
    ],
}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# The raw Huey consumer (a child process) ---------------------------------------------------
def _raw_huey(queue_path: str, marks: str, total: int):
    from huey import RedisHuey, SqliteHuey

    url = os.environ.get("DEALCRAFT_QUEUE_URL")
    if url and url.startswith(("redis://", "rediss://")):
        huey = RedisHuey("bench-raw", url=url, results=False)
    else:
        huey = SqliteHuey("bench-raw", filename=queue_path, results=False)

    @huey.task(name="bench.noop")
    def noop(i: int) -> None:
        if i == 0 or i == total - 1:
            with open(marks, "a") as f:
                f.write(f"{i} {time.time()}\n")

    return huey, noop


def raw_consumer_main(queue_path: str, marks: str, total: int) -> None:
    huey, _ = _raw_huey(queue_path, marks, total)
    consumer = huey.create_consumer(
        workers=1,
        worker_type="thread",
        periodic=False,
        initial_delay=0.05,
        backoff=1.15,
        max_delay=0.5,
    )
    consumer.run()


def measure_raw_huey(base: Path, total: int) -> float:
    """No-op tasks per second through a one-thread Huey consumer (same storage kind)."""
    queue_path, marks = str(base / "raw-queue.db"), str(base / "raw-marks.txt")
    huey, noop = _raw_huey(queue_path, marks, total)
    huey.flush()
    for i in range(total):
        noop(i)
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.flows", "--raw-consumer", queue_path, marks, str(total)]
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            lines = Path(marks).read_text().split() if Path(marks).exists() else []
            if len(lines) >= 4:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the raw Huey consumer did not finish in 300 s")
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(30)
    stamps = dict(line.split() for line in Path(marks).read_text().splitlines())
    return total / (float(stamps[str(total - 1)]) - float(stamps["0"]))


# The workspace and the Dealcraft worker ------------------------------------------------------
def _scratch_pg(url: str) -> tuple[str, Any]:
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"dealcraft_bench_flows_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return sa.make_url(url).set(database=name).render_as_string(hide_password=False), drop


def _worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dealcraft.flows.worker", "1"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(engine: sa.Engine, query: Any, wanted: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar() >= wanted:
                return
        time.sleep(0.05)
    raise RuntimeError(f"only part of {wanted} runs completed in {timeout:.0f} s")


def measure_flows(base: Path, database_url: str, runs: int, latency_n: int) -> dict[str, Any]:
    from dealcraft.access.principal import SYSTEM
    from dealcraft.flows.service import FlowService
    from dealcraft.flows.tables import flow_runs, flow_steps
    from dealcraft.settings import Settings
    from dealcraft.workspace import Workspace

    data_dir = base / "data"
    ws = Workspace(Settings(data_dir=data_dir, database_url=database_url, env="test"))
    ws.initialise()
    service = FlowService(ws)
    service.ensure_service_account("flow_bot", "sales_director")
    service.save(FLOW)
    env = {
        **os.environ,
        "DEALCRAFT_ENV": "test",
        "DEALCRAFT_DATA_DIR": str(data_dir),
        "DEALCRAFT_DATABASE_URL": database_url,
    }
    completed = (
        sa.select(sa.func.count()).select_from(flow_runs).where(flow_runs.c.status == "completed")
    )
    worker = None
    try:
        # (a) Throughput: a batch waiting in the outbox, then one worker.
        _progress(f"throughput: {runs} runs from one bulk create")
        ws.records.bulk_create(SYSTEM, "lead", [{"name": f"Lead {i}"} for i in range(runs)])
        worker = _worker(env, base / "worker.log")
        _wait_for(ws.engine, completed, runs, timeout=600)
        with ws.engine.connect() as conn:
            first = conn.execute(sa.select(sa.func.min(flow_steps.c.started_at))).scalar()
            last = conn.execute(sa.select(sa.func.max(flow_runs.c.finished_at))).scalar()
        runs_per_second = runs / max((last - first).total_seconds(), 1e-6)

        # (c) Latency: single creates at a human-ish pace while the worker runs.
        _progress(f"latency: {latency_n} leads one at a time")
        rng = random.Random(7)
        ids = []
        for i in range(latency_n):
            ids.append(ws.records.create(SYSTEM, "lead", {"name": f"Single {i}"})["id"])
            time.sleep(rng.uniform(0.05, 0.15))
        _wait_for(ws.engine, completed, runs + latency_n, timeout=120)
        lead = ws.registry.view().tables["lead"]
        with ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(lead.c.created_at, flow_steps.c.started_at)
                .join(flow_runs, flow_runs.c.record_id == lead.c.id)
                .join(
                    flow_steps,
                    sa.and_(flow_steps.c.run_id == flow_runs.c.id, flow_steps.c.seq == 1),
                )
                .where(lead.c.id.in_(ids))
            ).all()
        latencies = [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows]
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        ws.close()
    return {
        "runs": runs,
        "runs_per_second_per_worker": round(runs_per_second, 1),
        "latency_samples": len(latencies),
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p99_ms": round(_percentile(latencies, 99), 1),
        "latency_max_ms": round(max(latencies), 1),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--raw-consumer":
        raw_consumer_main(argv[1], argv[2], int(argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dealcraft-bench-flows-") as tmp:
        base = Path(tmp)
        drop = None
        if args.backend == "postgresql":
            server = (
                args.database_url
                or os.environ.get("DEALCRAFT_BENCH_PG_URL")
                or os.environ.get("DEALCRAFT_TEST_PG_URL")
            )
            if not server:
                parser.error("postgresql needs --database-url or DEALCRAFT_BENCH_PG_URL")
            database_url, drop = _scratch_pg(server)
        else:
            database_url = f"sqlite:///{base / 'workspace.db'}"
        try:
            figures = measure_flows(base, database_url, args.runs, args.latency)
        finally:
            if drop is not None:
                drop()
        _progress(f"raw Huey: {args.runs} no-op tasks")
        raw = measure_raw_huey(base, args.runs)

    queue = (
        "redis" if (os.environ.get("DEALCRAFT_QUEUE_URL") or "").startswith("redis") else "sqlite"
    )
    result = {
        "benchmark": "flows",
        "backend": args.backend,
        "queue": queue,
        "pump_seconds": float(os.environ.get("DEALCRAFT_FLOW_PUMP_SECONDS", 0.5)),
        **figures,
        "huey_raw_tasks_per_second": round(raw, 1),
        "ratio_to_huey_raw": round(figures["runs_per_second_per_worker"] / raw, 3),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
