"""Access-control benchmark: what row scopes, masking and the audit trail cost.

    python -m benchmarks.access [--scale medium] [--backend sqlite|postgresql|both] [--quick]

On the demo workspace (the same cached build as ``benchmarks.records``) it measures, in the
same process and run:

- the same filtered, sorted page of contacts and of opportunities listed by the sales rep
  ``rep_east`` (row scope + masked phone numbers) and by ``admin`` (no scope): the rep's
  p50 over the admin's p50 (target: at most 1.3);
- a single-record create through the record service with the audit trail and without it
  (the same service with ``audit=None``): the ratio of p50 latencies (target: at most 1.3).

Prints one JSON line of figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.workspaces import postgres_unavailable, postgres_workspace, sqlite_workspace

LISTS = {
    "contact": ("decision_role in ('decision_maker', 'influencer', 'champion')", "-id"),
    "opportunity": (
        "stage in ('proposal', 'negotiation', 'won') and amount > 50000",
        "-amount,name",
    ),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Any, seconds: float) -> list[float]:
    fn()  # warm caches (schema view, policies, prepared statements)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 20:
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "n": len(samples),
    }


def measure(bench_ws: Any, seconds: float) -> dict[str, Any]:
    from dealcraft.records.service import RecordService
    from dealcraft.settings import Settings
    from dealcraft.workspace import Workspace

    settings = Settings(
        data_dir=bench_ws.data_dir, database_url=bench_ws.database_url, env="development"
    )
    ws = Workspace(settings)
    ws.initialise()
    identity = ws.identity
    rep = identity.principal_for_user(identity.find_user("rep_east"))
    admin = identity.principal_for_user(identity.find_user("admin"))
    figures: dict[str, Any] = {}

    # The same page as the rep and as the admin.
    for object_name, (where, sort) in LISTS.items():
        result: dict[str, Any] = {}
        for name, principal in (("admin", admin), ("rep", rep)):
            log(f"  list {object_name} as {name}")
            samples = timed(
                lambda p=principal, o=object_name, w=where, s=sort: ws.records.list(
                    p, o, where=w, sort=s, limit=50
                ),
                seconds,
            )
            result[name] = summary(samples)
        result["rep_over_admin"] = round(result["rep"]["p50_ms"] / result["admin"]["p50_ms"], 3)
        figures[f"list_{object_name}"] = result

    # A single create with and without the audit entry, alternating to share the noise.
    plain = RecordService(ws.engine, ws.registry, ws.policy, audit=None)
    counter = iter(range(10**9))

    def create(service: RecordService) -> None:
        service.create(
            rep, "account", {"name": f"基准客户{next(counter)}", "region": "华东", "grade": "C"}
        )

    with_audit: list[float] = []
    without: list[float] = []
    create(ws.records)
    create(plain)
    deadline = time.perf_counter() + seconds * 2
    while time.perf_counter() < deadline or len(with_audit) < 30:
        for service, bucket in ((ws.records, with_audit), (plain, without)):
            start = time.perf_counter()
            create(service)
            bucket.append((time.perf_counter() - start) * 1000)
    figures["create"] = {
        "with_audit": summary(with_audit),
        "without_audit": summary(without),
        "audit_overhead": round(statistics.median(with_audit) / statistics.median(without) - 1, 3),
    }
    ws.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--backend", default="both", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    args = parser.parse_args(argv)
    seconds = 0.5 if args.quick else 4.0
    out: dict[str, Any] = {"benchmark": "access", "scale": args.scale}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="dc-bench-access-") as scratch:
        for backend in backends:
            if backend == "postgresql" and (reason := postgres_unavailable()):
                out[backend] = {"skipped": reason}
                log(f"PostgreSQL skipped: {reason}")
                continue
            opener = sqlite_workspace if backend == "sqlite" else postgres_workspace
            log(f"{backend}: preparing the {args.scale} demo")
            with opener(args.scale, Path(scratch)) as bench_ws:
                out[backend] = measure(bench_ws, seconds)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
