"""Demo workspaces for a benchmark run, built once per scale and reused.

The demo company is built with the ``dealcraft demo`` command into ``.bench-cache/`` under a
key made of the scale and a digest of the code that decides its tables and rows (the demo
builder, the built-in apps, the schema engine and the migrations); a change to that code
builds it again. Each run works on a throwaway copy:

- SQLite: the cached data directory is copied to a temporary directory.
- PostgreSQL: the demo is built once into a template database ``dc_bench_tpl_<key>``; each
  run creates ``dc_bench_<pid>`` from it and drops it afterwards.
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
DEMO_SOURCES = ("dealcraft/demo", "dealcraft/apps", "dealcraft/schema", "dealcraft/db")


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


def cache_key(scale: str) -> str:
    digest = hashlib.sha256()
    for folder in DEMO_SOURCES:
        for path in sorted((PROJECT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(PROJECT)).encode())
            digest.update(path.read_bytes())
    return f"{scale}-{digest.hexdigest()[:12]}"


def _drop_stale(scale: str, key: str) -> None:
    """Cached builds of this scale made by other versions of the code are of no further use."""
    if CACHE.exists():
        for old in CACHE.glob(f"{scale}-*"):
            if old.name == key or not old.is_dir():
                continue
            shutil.rmtree(old / "sqlite", ignore_errors=True)
            for log_file in old.glob("*.log"):
                log_file.unlink()
            if not (old / "postgresql.json").exists():
                shutil.rmtree(old, ignore_errors=True)


def build_demo(scale: str, data_dir: Path, database_url: str | None = None) -> None:
    """Run ``dealcraft demo --scale SCALE --no-serve`` into ``data_dir`` (and ``database_url``)."""
    env = clean_env(DEALCRAFT_DATA_DIR=str(data_dir))
    if database_url:
        env["DEALCRAFT_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "dealcraft.cli", "demo", "--scale", scale, "--no-serve",
            "--data-dir", str(data_dir)]
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
    key = cache_key(scale)
    cached = CACHE / key / "sqlite"
    if rebuild and cached.exists():
        shutil.rmtree(cached)
    if not (cached / "READY").exists():
        if cached.exists():
            shutil.rmtree(cached)
        cached.parent.mkdir(parents=True, exist_ok=True)
        _drop_stale(scale, key)
        building = cached.with_name("sqlite.building")
        shutil.rmtree(building, ignore_errors=True)
        build_demo(scale, building)
        (building / "READY").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        building.rename(cached)
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
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _drop_database(conn: psycopg.Connection, name: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def postgres_workspace(scale: str, scratch: Path, rebuild: bool = False) -> Iterator[BenchWorkspace]:
    key = cache_key(scale)
    template = f"dc_bench_tpl_{key.replace('-', '_')}"
    marker = CACHE / key / "postgresql.json"
    with _admin() as conn:
        if rebuild or not marker.exists() or not _database_exists(conn, template):
            # Older templates of this scale are stale: drop them with the new build.
            stale = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"dc_bench_tpl_{scale}_%",),
            ).fetchall()
            for (name,) in stale:
                _drop_database(conn, name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
            files = CACHE / key / "postgresql-files"
            shutil.rmtree(files, ignore_errors=True)
            files.mkdir(parents=True)
            try:
                build_demo(scale, files, _pg_url(template))
            except BaseException:
                _drop_database(conn, template)
                raise
            marker.write_text(json.dumps({"template": template, "built": time.time()}))

        database = f"dc_bench_{os.getpid()}"
        _drop_database(conn, database)
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database), sql.Identifier(template)
            )
        )
    data_dir = scratch / "postgresql"
    shutil.copytree(CACHE / key / "postgresql-files", data_dir)
    try:
        yield BenchWorkspace("postgresql", data_dir, _pg_url(database))
    finally:
        with _admin() as conn:
            _drop_database(conn, database)
        log(f"dropped database {database}")
