"""Record-service benchmark: Dealcraft against the floor of any Python API, and against peers.

    python -m benchmarks.records --scale medium [--backend sqlite|postgresql|both]
                                 [--peers/--no-peers] [--quick]

On the same demo database (SQLite and PostgreSQL) it measures

(a) list:   a filtered, sorted page of 50 opportunities over HTTP, against a minimal FastAPI
            endpoint running the same SQL text on the same database (benchmarks/minimal_app.py);
(b) create: one opportunity over HTTP, against a minimal endpoint doing a plain INSERT;
(c) import: 100,000 opportunities through ``RecordService.bulk_create``, against one
            ``executemany`` of the same stored column values into a copy of the table;
(d) peers:  the load shape of ../shared/peers/bench.py (POST create, then a two-field filtered
            list of 25 rows, 4 and 1 clients) against Dealcraft, BottleCRM and NocoDB.

It prints one JSON line of figures on stdout; progress goes to stderr. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import random
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks import peers as peer_systems
from benchmarks import workspaces
from benchmarks.load import Request, measure
from benchmarks.minimal_app import CONFIG_ENV, STAMP_COLUMNS
from benchmarks.servers import Server, clean_env, free_port, log, serve

LIST_WHERE = "stage in ('proposal', 'negotiation') and amount > 100000"
LIST_SORT = "-amount,name"
LIST_LIMIT = 50
LEAD_WHERE = "status = 'assigned' and source = 'call'"
LEAD_LIMIT = 25
ADMIN = "admin"
TARGETS = {"list_latency": 1.5, "create_latency": 2.0, "import_speed": 0.5, "peer_throughput": 5.0}

# Lead values for the peer shape: Dealcraft's own choices, cycled like bench.py cycles its own.
LEAD_STATUSES = ["assigned", "contacted", "qualified", "disqualified"]
LEAD_SOURCES = ["call", "website", "partner", "referral"]
LEAD_REGIONS = ["华东", "华南", "华北", "华中", "西南"]
STAGES = ["prospecting", "qualification", "needs_analysis", "proposal", "negotiation"]


class Durations:
    def __init__(self, quick: bool) -> None:
        self.warmup = 0.2 if quick else 1.0
        self.phase = 1.0 if quick else 8.0
        self.import_rows = 2_000 if quick else 100_000
        self.shape = peer_systems.Shape.quick() if quick else peer_systems.Shape()


# The probe: what Dealcraft runs, captured in-process on the same database ---------------------
class Probe:
    """Opens the workspace in-process to capture the SQL and column values Dealcraft uses."""

    def __init__(self, bench: workspaces.BenchWorkspace) -> None:
        from dealcraft.settings import load_settings
        from dealcraft.workspace import Workspace

        self.bench = bench
        self.workspace = Workspace(
            load_settings(data_dir=bench.data_dir, database_url=bench.database_url)
        )
        # As `dealcraft serve` does before it serves: bring the copied database up to date.
        self.workspace.initialise()
        user = self.workspace.identity.find_user(ADMIN)
        if user is None:
            raise RuntimeError(f"the demo workspace has no user {ADMIN!r}")
        self.admin_id: int = user["id"]
        self.principal = self.workspace.identity.principal_for_user(user)
        with self.workspace.engine.connect() as conn:
            self.account_ids = list(
                conn.exec_driver_sql(
                    "SELECT id FROM obj_account WHERE deleted_at IS NULL ORDER BY id LIMIT 2000"
                ).scalars()
            )
            self.rows = {
                name: conn.exec_driver_sql(
                    f"SELECT count(*) FROM obj_{name} WHERE deleted_at IS NULL"
                ).scalar()
                for name in ("account", "opportunity", "lead", "activity")
            }
            self.user_ids = list(
                conn.exec_driver_sql(
                    "SELECT id FROM obj_user WHERE deleted_at IS NULL ORDER BY id LIMIT 200"
                ).scalars()
            )
        if not self.account_ids:
            raise RuntimeError("the demo workspace has no accounts")
        # A token for the demo admin, issued directly: the benchmark times records, not logins.
        self.token, _expires = self.workspace.identity.issue_token(self.principal, name="benchmark")

    def _capture(self, call) -> list[tuple[str, Any, Any]]:
        captured: list[tuple[str, Any, Any]] = []

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters, context))

        engine = self.workspace.engine
        sa.event.listen(engine, "before_cursor_execute", on_execute)
        try:
            call()
        finally:
            sa.event.remove(engine, "before_cursor_execute", on_execute)
        return captured

    def list_sql(self) -> tuple[str, Any, int]:
        """The SELECT the record service runs for the benchmark's list, with its parameters."""
        pages = []
        captured = self._capture(
            lambda: pages.append(
                self.workspace.records.list(
                    self.principal,
                    "opportunity",
                    where=LIST_WHERE,
                    sort=LIST_SORT,
                    limit=LIST_LIMIT,
                )
            )
        )
        selects = [
            c
            for c in captured
            if "obj_opportunity" in c[0] and c[0].lstrip().upper().startswith("SELECT")
        ]
        if len(selects) != 1:
            raise RuntimeError(f"expected one SELECT on obj_opportunity, captured {len(selects)}")
        statement, parameters, _context = selects[0]
        return statement, parameters, len(pages[0].data)

    def opportunity_body(self, i: int, name: str) -> dict[str, Any]:
        """An opportunity as an API client sends it."""
        return {
            "name": name,
            "account": self.account_ids[i % len(self.account_ids)],
            "stage": STAGES[i % 3],  # early stages and small amounts: outside the list filter
            "amount": 1000 + (i * 37) % 90_000,
            "probability": (i * 7) % 60,
            "close_date": (date(2027, 1, 1) + timedelta(days=i % 365)).isoformat(),
            "owner": self.user_ids[i % len(self.user_ids)] if self.user_ids else self.admin_id,
            "competitors": ["salesforce", "kingdee"] if i % 2 else ["hubspot"],
            "description": "Benchmark opportunity: a mid-size rollout with a pilot phase.",
        }

    def insert_columns(self) -> dict[str, Any]:
        """The columns (and driver values) Dealcraft's INSERT writes for one opportunity."""
        body = self.opportunity_body(0, "Probe opportunity")
        captured = self._capture(
            lambda: self.workspace.records.create(self.principal, "opportunity", body)
        )
        inserts = [
            c for c in captured if c[0].lstrip().upper().startswith("INSERT INTO OBJ_OPPORTUNITY")
        ]
        if len(inserts) != 1:
            raise RuntimeError(f"expected one INSERT INTO obj_opportunity, captured {len(inserts)}")
        _statement, parameters, context = inserts[0]
        if isinstance(parameters, dict):
            values = dict(parameters)
        else:
            values = dict(zip(context.compiled.positiontup, parameters, strict=True))
        return {k: _jsonable(v) for k, v in values.items() if k not in STAMP_COLUMNS and k != "id"}

    def close(self) -> None:
        self.workspace.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# (a) and (b): Dealcraft and the minimal endpoints, side by side --------------------------------
def _ratio(ours: float | None, reference: float | None) -> float | None:
    if not ours or not reference:
        return None
    return round(ours / reference, 2)


def _compare(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "dealcraft": ours,
        "minimal": ref,
        "p50_ratio": _ratio(ours.get("p50"), ref.get("p50")),
        "p99_ratio": _ratio(ours.get("p99"), ref.get("p99")),
        "rps_ratio": _ratio(ours.get("rps"), ref.get("rps")),
    }


def measure_pair(
    name: str, ours: tuple[str, Any, dict], ref: tuple[str, Any, dict], durations: Durations
) -> dict[str, Any]:
    """The same phase against Dealcraft and the minimal app, at 1 and 4 clients, alternating."""
    out: dict[str, Any] = {}
    for conc in (1, 4):
        figures = []
        for label, (url, make, headers) in (("dealcraft", ours), ("minimal", ref)):
            result = asyncio.run(
                measure(
                    url,
                    make,
                    concurrency=conc,
                    seconds=durations.phase,
                    warmup=durations.warmup,
                    headers=headers,
                    offset=conc * 1_000_000,
                )
            )
            log(
                f"{name} c{conc} {label}: {result['rps']} req/s p50={result.get('p50')}ms "
                f"p99={result.get('p99')}ms non2xx={result['non2xx']}"
            )
            figures.append(result)
        out[f"c{conc}"] = _compare(*figures)
    return out


def dealcraft_lead_target(
    server: Server, headers: dict[str, str], probe: Probe
) -> peer_systems.Target:
    """Dealcraft's ``lead`` object under the peers' load shape (bench.py's fields, our names)."""
    cursors: list[str | None] = [None]
    admin_id = probe.admin_id
    counts: dict[str, int] = {}

    def create(i: int, tag: str) -> Request:
        return (
            "POST",
            "/api/v1/records/lead",
            {
                "json": {
                    "name": f"Lead {tag}-{i} F{i} L{i}",
                    "company": f"Co {tag}-{i}",
                    "email": f"lead{tag}{i}@example.com",
                    "phone": f"+14155550{i % 1000:03d}",
                    "status": LEAD_STATUSES[i % 4],
                    "source": LEAD_SOURCES[i % 4],
                    "region": LEAD_REGIONS[i % 5],
                    "assigned_to": admin_id,
                }
            },
        )

    def list_request() -> Request:
        # Keyset pages stand in for bench.py's random offset 0-99: one of the first four pages.
        params: dict[str, Any] = {"where": LEAD_WHERE, "limit": LEAD_LIMIT}
        cursor = random.choice(cursors)
        if cursor:
            params["cursor"] = cursor
        return ("GET", "/api/v1/records/lead", {"params": params})

    def check_list(r: httpx.Response) -> tuple[Any, int]:
        return counts.get("matching"), len(r.json()["data"])

    def fetch_cursors() -> None:
        records = probe.workspace.records
        counts["matching"] = records.count(probe.principal, "lead", where=LEAD_WHERE)
        counts["rows"] = records.count(probe.principal, "lead")
        target.notes["lead_rows"] = counts["rows"]
        probe.workspace.engine.dispose()
        cursor = None
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
            for _ in range(3):
                params: dict[str, Any] = {"where": LEAD_WHERE, "limit": LEAD_LIMIT}
                if cursor:
                    params["cursor"] = cursor
                cursor = c.get("/api/v1/records/lead", params=params).json()["next_cursor"]
                if not cursor:
                    break
                cursors.append(cursor)

    target = peer_systems.Target(
        "dealcraft",
        server.url,
        headers,
        create,
        list_request,
        check_list,
        before_lists=fetch_cursors,
        server=server,
        notes={"server": "uvicorn, 1 worker"},
    )
    return target


# (c): import ------------------------------------------------------------------------------------
def measure_import(probe: Probe, rows: int) -> dict[str, Any]:
    """bulk_create of ``rows`` opportunities, then executemany of the stored values into a copy."""
    from dealcraft.access.principal import SYSTEM
    from dealcraft.db.tx import write_transaction

    records, engine = probe.workspace.records, probe.workspace.engine
    bodies = [probe.opportunity_body(i, f"Imported opportunity {i}") for i in range(rows)]

    log(f"import: bulk_create of {rows} opportunities")
    started = time.perf_counter()
    result = records.bulk_create(SYSTEM, "opportunity", bodies)
    ours_secs = time.perf_counter() - started
    if result.created != rows:
        raise RuntimeError(f"bulk_create created {result.created} of {rows} rows")
    log(f"import: bulk_create {ours_secs:.2f} s ({rows / ours_secs:.0f} rows/s)")

    # The reference writes exactly the column values Dealcraft stored, read back.
    metadata = sa.MetaData()
    table = sa.Table("obj_opportunity", metadata, autoload_with=engine)
    copy = sa.Table(
        "bench_import_copy",
        metadata,
        *[
            sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in table.columns
        ],
    )
    with engine.begin() as conn:
        copy.drop(conn, checkfirst=True)
        copy.create(conn)
        for index in sa.inspect(conn).get_indexes("obj_opportunity"):
            sa.Index(
                f"bench_copy_{index['name']}"[:63],
                *[copy.c[name] for name in index["column_names"]],
            ).create(conn)
        columns = [c for c in table.columns if c.name != "id"]
        low, high = min(result.ids), max(result.ids)
        stored = [
            dict(row)
            for row in conn.execute(
                sa.select(*columns).where(table.c.id.between(low, high)).order_by(table.c.id)
            ).mappings()
        ]
    log(f"import: executemany of the same {len(stored)} rows into a copy table")
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        conn.execute(copy.insert(), stored)
    ref_secs = time.perf_counter() - started
    log(f"import: executemany {ref_secs:.2f} s ({rows / ref_secs:.0f} rows/s)")
    with engine.begin() as conn:
        copy.drop(conn)

    ours = {"secs": round(ours_secs, 2), "rows_per_s": round(rows / ours_secs)}
    ref = {"secs": round(ref_secs, 2), "rows_per_s": round(rows / ref_secs)}
    return {
        "rows": rows,
        "dealcraft": ours,
        "executemany": ref,
        "speed_ratio": _ratio(ours["rows_per_s"], ref["rows_per_s"]),
    }


# One backend ------------------------------------------------------------------------------------
def run_backend(
    bench: workspaces.BenchWorkspace, args: argparse.Namespace, durations: Durations, scratch: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    probe = Probe(bench)
    try:
        list_sql, list_params, page_rows = probe.list_sql()
        insert_values = probe.insert_columns()
        config_path = scratch / f"minimal-{bench.backend}.pickle"
        config_path.write_bytes(
            pickle.dumps(
                {
                    "database_url": bench.url,
                    "list_sql": list_sql,
                    "list_params": list_params,
                    "table": "obj_opportunity",
                    "insert_columns": list(insert_values),
                    "user_id": probe.admin_id,
                }
            )
        )
        out["demo_rows"] = probe.rows
        out["list_query"] = {
            "where": LIST_WHERE,
            "sort": LIST_SORT,
            "limit": LIST_LIMIT,
            "page_rows": page_rows,
        }
        probe.workspace.engine.dispose()

        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
            "--factory",
        ]
        with ExitStack() as stack:
            port = free_port()
            ours = stack.enter_context(
                serve(
                    f"dealcraft-{bench.backend}",
                    [*uvicorn, "--port", str(port), "dealcraft.app:create_app"],
                    health_path="/api/health",
                    port=port,
                    log_dir=scratch,
                    env=clean_env(**bench.env()),
                )
            )
            port = free_port()
            ref = stack.enter_context(
                serve(
                    f"minimal-{bench.backend}",
                    [*uvicorn, "--port", str(port), "benchmarks.minimal_app:create_app"],
                    health_path="/health",
                    port=port,
                    log_dir=scratch,
                    env=clean_env(**{CONFIG_ENV: str(config_path)}),
                )
            )
            headers = {"Authorization": "Bearer " + probe.token}

            # Both list endpoints must answer the same rows before they are timed.
            list_params_http = {"where": LIST_WHERE, "sort": LIST_SORT, "limit": LIST_LIMIT}
            a = httpx.get(
                ours.url + "/api/v1/records/opportunity",
                params=list_params_http,
                headers=headers,
                timeout=30,
            )
            a.raise_for_status()
            b = httpx.get(ref.url + "/list", timeout=30)
            b.raise_for_status()
            ours_ids = [r["id"] for r in a.json()["data"]]
            ref_ids = [r["id"] for r in b.json()["data"]][:LIST_LIMIT]
            if ours_ids != ref_ids:
                raise RuntimeError("the minimal list returned other rows than Dealcraft's")
            out["list_query"]["bytes"] = {"dealcraft": len(a.content), "minimal": len(b.content)}

            tag = f"{int(time.time()) % 100000}"

            def ours_list(_i: int) -> Request:
                return ("GET", "/api/v1/records/opportunity", {"params": list_params_http})

            def ref_list(_i: int) -> Request:
                return ("GET", "/list", {})

            out["list"] = measure_pair(
                "list", (ours.url, ours_list, headers), (ref.url, ref_list, {}), durations
            )

            def ours_create(i: int) -> Request:
                return (
                    "POST",
                    "/api/v1/records/opportunity",
                    {"json": probe.opportunity_body(i, f"Bench opportunity {tag}-{i}")},
                )

            def ref_create(i: int) -> Request:
                return (
                    "POST",
                    "/create",
                    {"json": {**insert_values, "name": f"Bench opportunity {tag}-{i}"}},
                )

            out["create"] = measure_pair(
                "create", (ours.url, ours_create, headers), (ref.url, ref_create, {}), durations
            )

            if args.peers:
                target = dealcraft_lead_target(ours, headers, probe)
                out["peer_shape"] = peer_systems.run_shape(target, durations.shape)
            out["rss_mib"] = {"dealcraft": ours.rss_mib(), "minimal": ref.rss_mib()}

        try:
            out["import"] = measure_import(probe, durations.import_rows)
        except Exception as e:  # the HTTP figures above still stand
            log(f"import failed: {type(e).__name__}: {e}")
            out["import"] = {"error": f"{type(e).__name__}: {e}"}
    finally:
        probe.close()
    return out


# The run ----------------------------------------------------------------------------------------
def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """The ratios the targets are stated in, and whether each is met."""
    summary: dict[str, Any] = {"targets": TARGETS}
    peers = {k: v for k, v in result.get("peers", {}).items() if "skipped" not in v}
    for backend, b in result["backends"].items():
        if "error" in b or "skipped" in b:
            continue
        s: dict[str, Any] = {}
        for figure, target in (("list", "list_latency"), ("create", "create_latency")):
            ratio = b[figure]["c1"]["p50_ratio"]
            s[f"{figure}_p50_ratio"] = ratio
            s[f"{figure}_p99_ratio"] = b[figure]["c1"]["p99_ratio"]
            s[f"{figure}_met"] = ratio is not None and ratio <= TARGETS[target]
        s["import_speed_ratio"] = b["import"].get("speed_ratio")
        s["import_met"] = (s["import_speed_ratio"] or 0) >= TARGETS["import_speed"]
        if "peer_shape" in b and peers:
            for phase in ("create_c4", "list_c4", "list_c1"):
                best_name = max(peers, key=lambda n: peers[n][phase].get("rps", 0))
                best = peers[best_name][phase].get("rps", 0)
                ratio = _ratio(b["peer_shape"][phase].get("rps"), best)
                s[f"peer_{phase}_ratio"] = ratio
                s[f"peer_{phase}_vs"] = best_name
                s[f"peer_{phase}_met"] = ratio is not None and ratio >= TARGETS["peer_throughput"]
        summary[backend] = s
    return summary


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.records", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    ap.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure BottleCRM and NocoDB (installed on first use)",
    )
    ap.add_argument("--quick", action="store_true", help="short phases, for a smoke test")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached demo workspaces")
    ap.add_argument(
        "--keep-logs", type=Path, default=None, help="copy server and setup logs to this directory"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    durations = Durations(args.quick)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    result: dict[str, Any] = {
        "benchmark": "records",
        "scale": args.scale,
        "quick": args.quick,
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_start": _loadavg(),
        },
        "backends": {},
        "peers": {},
    }

    # A SIGTERM unwinds like Ctrl-C, so every server is stopped and every database dropped.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dc-bench-") as tmp:
        scratch = Path(tmp)
        try:
            # Peers install in the background while the demo workspaces build.
            installer = None
            if args.peers:
                installer = peer_systems.Installer(list(peer_systems.MEASURE), scratch)
                installer.start()
            prepared: dict[str, Any] = {}
            for backend in backends:
                if backend == "postgresql":
                    why = workspaces.postgres_unavailable()
                    if why:
                        log(f"skipping postgresql: {why}")
                        result["backends"][backend] = {"skipped": why}
                        continue
                prepared[backend] = backend

            for backend in prepared:
                log(f"--- backend {backend}")
                opener = (
                    workspaces.sqlite_workspace
                    if backend == "sqlite"
                    else workspaces.postgres_workspace
                )
                try:
                    with opener(args.scale, scratch, rebuild=args.rebuild) as bench:
                        # Installs compete for the CPU: let them finish before timing anything.
                        if installer is not None and installer.busy():
                            log("waiting for the peers' installs to finish before measuring")
                            installer.wait()
                        result["backends"][backend] = run_backend(bench, args, durations, scratch)
                except Exception as e:  # one backend failing still reports the others
                    log(f"backend {backend} failed: {type(e).__name__}: {e}")
                    result["backends"][backend] = {"error": f"{type(e).__name__}: {e}"}

            if installer is not None:
                problems = installer.wait()
                for name, measure_peer in peer_systems.MEASURE.items():
                    if name in problems:
                        log(f"skipping peer {name}: {problems[name]}")
                        result["peers"][name] = {"skipped": problems[name]}
                        continue
                    log(f"--- peer {name}")
                    try:
                        result["peers"][name] = measure_peer(durations.shape, scratch)
                    except Exception as e:
                        why = f"{type(e).__name__}: {e}"
                        log(f"skipping peer {name}: {why}")
                        result["peers"][name] = {"skipped": why}
        finally:
            if args.keep_logs:
                import shutil

                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for path in scratch.glob("*.log"):
                    shutil.copy2(path, args.keep_logs / path.name)

    # Other work on the host skews every figure; the load average shows whether there was any.
    result["host"]["loadavg_end"] = _loadavg()
    result["summary"] = summarise(result)
    result["elapsed_secs"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")), flush=True)
    failed = any("error" in b for b in result["backends"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
