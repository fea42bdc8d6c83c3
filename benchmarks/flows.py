"""Flow engine benchmark: how fast a trigger reaches its first step, and how many runs one
worker completes per second, against Huey's own raw task throughput on the same machine.

    python -m benchmarks.flows [--backend sqlite|postgresql|both] [--runs 500] [--latency 100]

The backends are SQLite with SqliteHuey (the queue file in the data directory), and
PostgreSQL with RedisHuey. On each:

(a) throughput: ``--runs`` leads are bulk-created (one ``records.created`` outbox event),
    then one worker process (``python -m dealcraft.flows.worker 1``: the Huey consumer with
    one worker thread, and the pump) starts; runs/s = runs / (last run finished - first step
    started). Each run is one inbox notification (a ledgered effect, a run and a step row).
(b) raw Huey: the same number of no-op tasks through the same kind of Huey storage and a
    one-thread consumer in its own process, polling like the worker, timed the same way
    (first task started to last finished). The ratio is (a) / (b), measured in the same run.
(c) latency: with the worker running, ``--latency`` leads are created one at a time, 50 to
    150 ms apart; latency = the first step's start - the lead's creation (both from the
    database's rows). Each write wakes the worker with a "dispatch now" task after commit.
(d) the same without the wake-up (the writer's after-commit hook off), so the worker sees the
    outbox only at its poll every DEALCRAFT_FLOW_PUMP_SECONDS (default 0.5 s): the figure
    before the wake-up existed.

PostgreSQL: ``--database-url`` or DEALCRAFT_BENCH_PG_URL / DEALCRAFT_TEST_PG_URL names a
server on which a scratch database is created and dropped; ``--redis-url`` or
DEALCRAFT_BENCH_REDIS_URL names the Redis database (default redis://127.0.0.1:6379/14, which
is flushed). One JSON line per backend goes to stdout; progress to stderr.
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
def _raw_huey(queue: str, marks: str, total: int):
    """``queue`` is a Redis URL or the path of a SQLite queue file."""
    from huey import RedisHuey, SqliteHuey

    if queue.startswith(("redis://", "rediss://")):
        huey = RedisHuey("bench-raw", url=queue, results=False)
    else:
        huey = SqliteHuey("bench-raw", filename=queue, results=False)

    @huey.task(name="bench.noop")
    def noop(i: int) -> None:
        if i == 0 or i == total - 1:
            with open(marks, "a") as f:
                f.write(f"{i} {time.time()}\n")

    return huey, noop


def raw_consumer_main(queue_path: str, marks: str, total: int) -> None:
    huey, _ = _raw_huey(queue_path, marks, total)
    # The worker's own polling pace (dealcraft.flows.engine.run_worker).
    consumer = huey.create_consumer(
        workers=1,
        worker_type="thread",
        periodic=False,
        initial_delay=0.01,
        backoff=1.15,
        max_delay=0.05,
    )
    consumer.run()


def measure_raw_huey(base: Path, total: int, redis_url: str | None) -> float:
    """No-op tasks per second through a one-thread Huey consumer (same storage kind)."""
    queue, marks = redis_url or str(base / "raw-queue.db"), str(base / "raw-marks.txt")
    huey, noop = _raw_huey(queue, marks, total)
    huey.flush()
    for i in range(total):
        noop(i)
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.flows", "--raw-consumer", queue, marks, str(total)]
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


def _latencies(ws: Any, count: int, seed: int, completed: Any, wanted: int) -> list[float]:
    """Create leads one at a time; milliseconds from each creation to its first step."""
    from dealcraft.access.principal import SYSTEM
    from dealcraft.flows.tables import flow_runs, flow_steps

    rng = random.Random(seed)
    ids = []
    for i in range(count):
        ids.append(ws.records.create(SYSTEM, "lead", {"name": f"Single {seed}.{i}"})["id"])
        time.sleep(rng.uniform(0.05, 0.15))
    _wait_for(ws.engine, completed, wanted, timeout=120)
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
    return [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows]


def _summary(prefix: str, latencies: list[float]) -> dict[str, Any]:
    return {
        f"{prefix}_samples": len(latencies),
        f"{prefix}_p50_ms": round(statistics.median(latencies), 1),
        f"{prefix}_p99_ms": round(_percentile(latencies, 99), 1),
        f"{prefix}_max_ms": round(max(latencies), 1),
    }


def measure_flows(
    base: Path, database_url: str, redis_url: str | None, runs: int, latency_n: int
) -> dict[str, Any]:
    from dealcraft.access.principal import SYSTEM
    from dealcraft.flows.engine import make_huey
    from dealcraft.flows.service import FlowService
    from dealcraft.flows.tables import flow_runs, flow_steps
    from dealcraft.settings import Settings
    from dealcraft.workspace import Workspace

    data_dir = base / "data"
    settings = Settings(
        data_dir=data_dir, database_url=database_url, queue_url=redis_url, env="test"
    )
    ws = Workspace(settings)
    ws.initialise()
    make_huey(ws).flush()
    service = FlowService(ws)
    service.ensure_service_account("flow_bot", "sales_director")
    service.save(FLOW)
    env = {
        **os.environ,
        "DEALCRAFT_ENV": "test",
        "DEALCRAFT_DATA_DIR": str(data_dir),
        "DEALCRAFT_DATABASE_URL": database_url,
    }
    env.pop("DEALCRAFT_QUEUE_URL", None)
    if redis_url:
        env["DEALCRAFT_QUEUE_URL"] = redis_url
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

        # (c) Latency: single creates at a human-ish pace, each waking the worker.
        _progress(f"latency: {latency_n} leads one at a time, woken after commit")
        woken = _latencies(ws, latency_n, 7, completed, runs + latency_n)

        # (d) The same with the writer's after-commit hook off: the worker's poll only.
        _progress(f"latency: {latency_n} leads one at a time, poll only")
        ws.records.after_commit = None
        polled = _latencies(ws, latency_n, 8, completed, runs + 2 * latency_n)
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
        **_summary("latency", woken),
        **_summary("latency_poll_only", polled),
    }


def _redis_url(args: argparse.Namespace) -> str:
    return (
        args.redis_url or os.environ.get("DEALCRAFT_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/14"
    )


def run_backend(backend: str, args: argparse.Namespace, parser: Any) -> dict[str, Any]:
    """Both measurements on one backend (and its queue), in one scratch directory."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dealcraft-bench-flows-") as tmp:
        base = Path(tmp)
        drop = None
        redis_url = None
        if backend == "postgresql":
            server = (
                args.database_url
                or os.environ.get("DEALCRAFT_BENCH_PG_URL")
                or os.environ.get("DEALCRAFT_TEST_PG_URL")
            )
            if not server:
                parser.error("postgresql needs --database-url or DEALCRAFT_BENCH_PG_URL")
            database_url, drop = _scratch_pg(server)
            redis_url = _redis_url(args)
        else:
            database_url = f"sqlite:///{base / 'workspace.db'}"
        _progress(f"{backend}: queue {'redis' if redis_url else 'sqlite'}")
        try:
            figures = measure_flows(base, database_url, redis_url, args.runs, args.latency)
        finally:
            if drop is not None:
                drop()
        _progress(f"raw Huey: {args.runs} no-op tasks")
        raw = measure_raw_huey(base, args.runs, redis_url)
    return {
        "benchmark": "flows",
        "backend": backend,
        "queue": "redis" if redis_url else "sqlite",
        "pump_seconds": float(os.environ.get("DEALCRAFT_FLOW_PUMP_SECONDS", 0.5)),
        **figures,
        "huey_raw_tasks_per_second": round(raw, 1),
        "ratio_to_huey_raw": round(figures["runs_per_second_per_worker"] / raw, 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--raw-consumer":
        raw_consumer_main(argv[1], argv[2], int(argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        print(json.dumps(run_backend(backend, args, parser)), flush=True)


if __name__ == "__main__":
    main()
