"""Peer systems (BottleCRM, NocoDB) installed and run with the scripts in ../shared/peers.

Nothing of the peers lives in this repository: the scripts are read from
``DEALCRAFT_PEERS_DIR`` (default ``../shared/peers`` beside the project) and install into
``PEERS_ROOT`` (default ``.peers`` in the project, which git ignores). A peer that cannot be
installed or started is skipped with the reason, and the rest of the benchmark goes on.

The load shape is that of ``peers/bench.py``: (A) POST create, 4 clients, until 1000 rows
or 10 s; top the table up to 1000 rows with the peer's own seeding script; (B) a two-field
filtered list of 25 rows at a random offset 0-99, 4 clients, 5 s; (C) the same, 1 client,
2.5 s. Request bodies and query strings follow bench.py field for field.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import Request, measure
from benchmarks.servers import Server, clean_env, free_port, log, serve

PROJECT = Path(__file__).resolve().parents[1]
STATUSES = ["assigned", "in process", "recycled", "closed"]
SOURCES = ["call", "email", "partner", "other"]
CITIES = ["Pune", "Berlin", "Austin", "Lagos", "Osaka"]
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "Adm1n-pass!"


def peers_dir() -> Path:
    override = os.environ.get("DEALCRAFT_PEERS_DIR")
    return (
        Path(override)
        if override
        else Path(__file__).resolve().parents[1].parent / "shared" / "peers"
    )


def peers_root() -> Path:
    return Path(os.environ.get("PEERS_ROOT", PROJECT / ".peers")).resolve()


@dataclass
class Shape:
    """Durations of the bench.py load shape."""

    post_cap_secs: float = 10.0
    post_max_rows: int = 1000
    get_secs: float = 5.0
    conc: int = 4
    warmup_requests: int = 20

    @classmethod
    def quick(cls) -> Shape:
        return cls(post_cap_secs=2.0, post_max_rows=200, get_secs=1.0, warmup_requests=5)


@dataclass
class Target:
    """One system under the peer load shape: how to create a row and list a page."""

    name: str
    base_url: str
    headers: dict[str, str]
    create: Callable[[int, str], Request]
    list_request: Callable[[], Request]
    check_list: Callable[[httpx.Response], tuple[Any, int]]
    top_up: Callable[[], str] | None = None
    before_lists: Callable[[], None] | None = None
    server: Server | None = None
    notes: dict[str, Any] = field(default_factory=dict)


async def _warm(target: Target, count: int) -> None:
    async with httpx.AsyncClient(base_url=target.base_url, headers=target.headers, timeout=30) as c:
        for _ in range(count):
            method, path, kwargs = target.list_request()
            await c.request(method, path, **kwargs)


def run_shape(target: Target, shape: Shape) -> dict[str, Any]:
    """Run phases A, B and C against ``target`` and return their figures."""
    tag = f"{int(time.time()) % 100000}{random.randrange(100):02d}"
    out: dict[str, Any] = {}
    asyncio.run(_warm(target, shape.warmup_requests))

    # A: create rows until the cap, then let the peer's own script top the table up.
    out["create_c4"] = asyncio.run(
        measure(
            target.base_url,
            lambda i: target.create(i, tag),
            concurrency=shape.conc,
            seconds=shape.post_cap_secs,
            max_requests=shape.post_max_rows,
            headers=target.headers,
        )
    )
    log(f"{target.name} POST create: {_brief(out['create_c4'])}")
    if target.top_up is not None:
        out["top_up"] = target.top_up()
    if target.before_lists is not None:
        target.before_lists()

    # Check the list answers what it should before timing it.
    method, path, kwargs = target.list_request()
    r = httpx.request(method, target.base_url + path, headers=target.headers, timeout=30, **kwargs)
    r.raise_for_status()
    total, page = target.check_list(r)
    out["list_check"] = {"matching": total, "page_rows": page, "bytes": len(r.content)}

    # B and C: the filtered page with 4 clients, then with 1.
    out["list_c4"] = asyncio.run(
        measure(
            target.base_url,
            lambda i: target.list_request(),
            concurrency=shape.conc,
            seconds=shape.get_secs,
            headers=target.headers,
        )
    )
    out["list_c1"] = asyncio.run(
        measure(
            target.base_url,
            lambda i: target.list_request(),
            concurrency=1,
            seconds=shape.get_secs / 2,
            headers=target.headers,
        )
    )
    log(f"{target.name} GET list: c4 {_brief(out['list_c4'])}; c1 {_brief(out['list_c1'])}")
    if target.server is not None:
        out["rss_mib"] = target.server.rss_mib()
    return {**target.notes, **out}


def _brief(figures: dict[str, Any]) -> str:
    return (
        f"n={figures['n']} {figures.get('rps', 0)} req/s p50={figures.get('p50')}ms "
        f"p99={figures.get('p99')}ms non2xx={figures.get('non2xx')}"
    )


# Installing -----------------------------------------------------------------------------------
def _bottlecrm_installed(root: Path) -> bool:
    site = root / "site"
    return all(
        p.exists() for p in (root / "venv/bin/gunicorn", site / "manage.py", site / "db.sqlite3")
    )


def _nocodb_installed(root: Path) -> bool:
    return (root / "main.js").exists() and (root / "node_modules/nocodb").is_dir()


INSTALLED = {"bottlecrm": _bottlecrm_installed, "nocodb": _nocodb_installed}


class Installer:
    """Installs the missing peers in the background while the demo workspaces build."""

    def __init__(self, names: list[str], log_dir: Path, timeout: float = 1200) -> None:
        self.names = names
        self.log_dir = log_dir
        self.timeout = timeout
        self.problems: dict[str, str] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        scripts = peers_dir()
        for name in self.names:
            setup = scripts / f"{name}_setup.sh"
            if not setup.exists():
                self.problems[name] = f"no setup script {setup} (set DEALCRAFT_PEERS_DIR)"
                continue
            root = peers_root() / name
            if INSTALLED[name](root):
                continue
            if root.exists() and any(root.iterdir()):
                # The scripts are not re-runnable over a half-made install (createsuperuser).
                shutil.rmtree(root)
            thread = threading.Thread(target=self._install, args=(name, setup, root), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _install(self, name: str, setup: Path, root: Path) -> None:
        log_path = self.log_dir / f"{name}-setup.log"
        log(f"installing {name} into {root} (log: {log_path})")
        started = time.perf_counter()
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                ["bash", str(setup)],
                env=clean_env(ROOT=str(root), PEERS_ROOT=str(peers_root())),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                from benchmarks.servers import stop_group

                stop_group(proc.pid)
                code = None
        if code != 0 or not INSTALLED[name](root):
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            why = "timed out" if code is None else f"exited with {code}"
            self.problems[name] = f"{setup.name} {why}: {' | '.join(tail)} (log: {log_path})"
        else:
            log(f"installed {name} in {time.perf_counter() - started:.0f} s")

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def wait(self) -> dict[str, str]:
        for thread in self._threads:
            thread.join()
        return self.problems


# Running --------------------------------------------------------------------------------------
def _run_script(
    name: str,
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    stdin: Path | None = None,
    timeout: float = 300,
) -> str:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as out:
        done = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            stdin=open(stdin, "rb") if stdin else subprocess.DEVNULL,
        )
    text = log_path.read_text(errors="replace").strip()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}): {text[-800:]}")
    return text.splitlines()[-1] if text else ""


def measure_bottlecrm(shape: Shape, log_dir: Path) -> dict[str, Any]:
    root = peers_root() / "bottlecrm"
    site = root / "site"

    # Every run starts from the freshly installed database.
    pristine = site / "db.sqlite3.pristine"
    if not pristine.exists():
        shutil.copy2(site / "db.sqlite3", pristine)
    shutil.copy2(pristine, site / "db.sqlite3")

    port = free_port()
    env = clean_env(ROOT=str(root), PORT=str(port), WORKERS="2")
    argv = ["bash", str(peers_dir() / "bottlecrm_run.sh")]
    with serve(
        "bottlecrm",
        argv,
        health_path="/api/leads/",
        port=port,
        log_dir=log_dir,
        env=env,
        timeout=90,
        any_status=True,
    ) as server:
        r = httpx.post(
            server.url + "/api/auth/login/",
            data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=30,
        )
        r.raise_for_status()

        def create(i: int, tag: str) -> Request:
            return (
                "POST",
                "/api/leads/",
                {
                    "data": {
                        "title": f"Lead {tag}-{i}",
                        "first_name": f"F{i}",
                        "last_name": f"L{i}",
                        "email": f"lead{tag}{i}@example.com",
                        "phone": f"+14155550{i % 1000:03d}",
                        "status": STATUSES[i % 4],
                        "source": SOURCES[i % 4],
                        "city": CITIES[i % 5],
                        "account_name": f"Co {tag}-{i}",
                        "opportunity_amount": str(1000 + i),
                        "assigned_to": "[1]",
                    }
                },
            )

        def list_request() -> Request:
            return (
                "GET",
                "/api/leads/",
                {
                    "params": {
                        "limit": 25,
                        "offset": random.randrange(0, 100),
                        "status": "assigned",
                        "source": "call",
                    }
                },
            )

        def check_list(r: httpx.Response) -> tuple[Any, int]:
            d = r.json()["open_leads"]
            return d["leads_count"], len(d["open_leads"])

        def top_up() -> str:
            return _run_script(
                "bottlecrm-seed",
                [str(root / "venv/bin/python"), "manage.py", "shell"],
                clean_env(CELERY_BROKER_URL="memory://", DJANGO_SETTINGS_MODULE="peer_settings"),
                site,
                log_dir,
                stdin=peers_dir() / "bottlecrm_seed_orm.py",
            )

        target = Target(
            "bottlecrm",
            server.url,
            {"Authorization": "JWT " + r.json()["token"]},
            create,
            list_request,
            check_list,
            top_up=top_up,
            server=server,
            notes={"server": "gunicorn, 2 sync workers", "database": "sqlite"},
        )
        return run_shape(target, shape)


def measure_nocodb(shape: Shape, log_dir: Path) -> dict[str, Any]:
    root = peers_root() / "nocodb"
    data, pristine = root / "data", root / "data.pristine"
    port = free_port()
    env = clean_env(ROOT=str(root), PORT=str(port))
    argv = ["bash", str(peers_dir() / "nocodb_run.sh")]

    # Keep a copy of the data directory as first boot leaves it (meta migrations done),
    # and start every run from it.
    if not pristine.exists():
        shutil.rmtree(data, ignore_errors=True)
        with serve(
            "nocodb-first-boot",
            argv,
            health_path="/api/v1/health",
            port=port,
            log_dir=log_dir,
            env=env,
            timeout=300,
        ):
            pass
        shutil.copytree(data, pristine)
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(pristine, data)

    with serve(
        "nocodb",
        argv,
        health_path="/api/v1/health",
        port=port,
        log_dir=log_dir,
        env=env,
        timeout=180,
    ) as server:
        cfg_path = root / "bench_cfg.json"
        script_env = clean_env(
            NOCODB_URL=server.url, NOCODB_CFG=str(cfg_path), PEERS_ROOT=str(peers_root())
        )
        _run_script(
            "nocodb-provision",
            [sys.executable, str(peers_dir() / "nocodb_provision.py")],
            script_env,
            root,
            log_dir,
        )
        cfg = json.loads(cfg_path.read_text())
        table = cfg["table_id"]

        def create(i: int, tag: str) -> Request:
            return (
                "POST",
                f"/api/v2/tables/{table}/records",
                {
                    "json": {
                        "Title": f"Lead {tag}-{i}",
                        "FirstName": f"F{i}",
                        "LastName": f"L{i}",
                        "Email": f"lead{tag}{i}@example.com",
                        "Phone": f"+14155550{i % 1000:03d}",
                        "Status": STATUSES[i % 4],
                        "Source": SOURCES[i % 4],
                        "City": CITIES[i % 5],
                        "AccountName": f"Co {tag}-{i}",
                        "Amount": 1000 + i,
                    }
                },
            )

        def list_request() -> Request:
            return (
                "GET",
                f"/api/v2/tables/{table}/records",
                {
                    "params": {
                        "limit": 25,
                        "offset": random.randrange(0, 100),
                        "where": "(Status,eq,assigned)~and(Source,eq,call)",
                    }
                },
            )

        def check_list(r: httpx.Response) -> tuple[Any, int]:
            d = r.json()
            return d["pageInfo"].get("totalRows"), len(d["list"])

        def top_up() -> str:
            return _run_script(
                "nocodb-topup",
                [sys.executable, str(peers_dir() / "nocodb_topup.py")],
                script_env,
                root,
                log_dir,
            )

        target = Target(
            "nocodb",
            server.url,
            {"xc-token": cfg["token"]},
            create,
            list_request,
            check_list,
            top_up=top_up,
            server=server,
            notes={"server": "node, 1 process", "database": "sqlite"},
        )
        return run_shape(target, shape)


MEASURE = {"bottlecrm": measure_bottlecrm, "nocodb": measure_nocodb}
