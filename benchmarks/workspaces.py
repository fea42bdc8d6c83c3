"""Demo workspaces for a benchmark run, built once per scale and reused.

The demo company is built with the ``dealcraft demo`` command and cached under
``.bench-cache/<scale>/`` with a digest of the code that decides its tables, rows and access
rules (the demo builder, the built-in apps, the schema engine, the access policies and the
migrations). A run reuses the cached build while that code is unchanged and builds it again
when it has changed (or with ``--rebuild``). Every run also migrates its copy as
``dealcraft serve`` would. Each run works on a throwaway copy:

- SQLite: the cached data directory is copied to a temporary directory.
- PostgreSQL: the demo is kept in a template database ``dc_bench_tpl_<scale>``; each run
  creates ``dc_bench_<pid>`` from it and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.servers import clean_env, log

PROJECT = Path(__file__).resolve().parents[1]
CACHE = PROJECT / ".bench-cache"
PG_ADMIN_URL = os.environ.get(
    "DEALCRAFT_BENCH_PG_URL", "postgresql://dealcraft:dealcraft@127.0.0.1:5432/postgres"
)
# Sources whose change alters the demo's tables or rows.
DEMO_SOURCES = (
    "dealcraft/demo",
    "dealcraft/apps",
    "dealcraft/schema",
    "dealcraft/access",
    "dealcraft/db/migrations",
)


@dataclass
class BenchWorkspace:
    backend: str
    data_dir: Path
    database_url: str | None

    def env(self) -> dict[str, str]:
        """Environment for a ``dealcraft`` process working on this workspace."""
        env = {"DEALCRAFT_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["DEALCRAFT_DATABASE_URL"] = self.database_url
        return env

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dealcraft.db'}"


def demo_digest() -> str:
    digest = hashlib.sha256()
    for folder in DEMO_SOURCES:
        for path in sorted((PROJECT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(PROJECT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _is_fresh(marker: Path, what: str) -> bool:
    """Whether the build ``marker`` describes was made from the current code."""
    if not marker.exists():
        return False
    built = json.loads(marker.read_text())
    if built.get("digest") == demo_digest():
        return True
    log(f"the cached {what} (built {built.get('built_at', '?')}) is from other code: rebuilding")
    return False


def _write_marker(marker: Path, **extra: str) -> None:
    marker.write_text(
        json.dumps({"digest": demo_digest(), "built_at": time.strftime("%Y-%m-%d %H:%M"), **extra})
    )


def build_demo(scale: str, data_dir: Path, database_url: str | None = None) -> None:
    """Run ``dealcraft demo --scale SCALE --no-serve`` into ``data_dir`` (and ``database_url``)."""
    env = clean_env(DEALCRAFT_DATA_DIR=str(data_dir))
    if database_url:
        env["DEALCRAFT_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "dealcraft.cli", "demo", "--scale", scale, "--no-serve",
            "--data-dir", str(data_dir)]  # fmt: skip
    log_path = data_dir.parent / f"{data_dir.name}.build.log"
    started = time.perf_counter()
    log(f"building the {scale} demo into {database_url or data_dir} (log: {log_path})")
    with open(log_path, "wb") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT)
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"`dealcraft demo --scale {scale}` failed ({done.returncode}):\n{tail}")
    log(f"built the {scale} demo in {time.perf_counter() - started:.0f} s")


# SQLite ---------------------------------------------------------------------------------------
@contextmanager
def sqlite_workspace(scale: str, scratch: Path, rebuild: bool = False) -> Iterator[BenchWorkspace]:
    cached = CACHE / scale / "sqlite"
    marker = CACHE / scale / "sqlite.json"
    if rebuild or not cached.exists() or not _is_fresh(marker, f"{scale} SQLite demo"):
        shutil.rmtree(cached, ignore_errors=True)
        marker.unlink(missing_ok=True)
        building = cached.with_name("sqlite.building")
        shutil.rmtree(building, ignore_errors=True)
        building.parent.mkdir(parents=True, exist_ok=True)
        build_demo(scale, building)
        building.rename(cached)
        _write_marker(marker)
    data_dir = scratch / "sqlite"
    shutil.copytree(cached, data_dir)
    yield BenchWorkspace("sqlite", data_dir, None)


# PostgreSQL -----------------------------------------------------------------------------------
def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"cannot connect to {PG_ADMIN_URL.rsplit('@', 1)[-1]}: {str(e).strip()}"
    return None


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def _database_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def _drop_database(conn: psycopg.Connection, name: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def postgres_workspace(
    scale: str, scratch: Path, rebuild: bool = False
) -> Iterator[BenchWorkspace]:
    template = f"dc_bench_tpl_{scale}"
    marker = CACHE / scale / "postgresql.json"
    files = CACHE / scale / "postgresql-files"
    with _admin() as conn:
        fresh = _database_exists(conn, template) and _is_fresh(marker, f"{scale} PostgreSQL demo")
        if rebuild or not fresh:
            marker.unlink(missing_ok=True)
            _drop_database(conn, template)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
            shutil.rmtree(files, ignore_errors=True)
            files.mkdir(parents=True)
            try:
                build_demo(scale, files, _pg_url(template))
            except BaseException:
                _drop_database(conn, template)
                raise
            _write_marker(marker, template=template)

        database = f"dc_bench_{os.getpid()}"
        _drop_database(conn, database)
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database), sql.Identifier(template)
            )
        )
    data_dir = scratch / "postgresql"
    shutil.copytree(files, data_dir)
    try:
        yield BenchWorkspace("postgresql", data_dir, _pg_url(database))
    finally:
        with _admin() as conn:
            _drop_database(conn, database)
        log(f"dropped database {database}")
