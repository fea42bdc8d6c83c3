"""Web app benchmark: time to first render against the REST API, and memory per client.

    python -m benchmarks.web [--scale medium] [--backend sqlite|postgresql] [--runs 15]

On the demo workspace (the cached build of ``benchmarks.workspaces``) it starts the real
server (``uvicorn dealcraft.app:serve_app --factory``: API and web app, one worker) on
127.0.0.1 and drives Debian's Chromium, headless, through Playwright. Signed in as the demo
rep ``rep_east``, it measures:

- **list**: ``/o/opportunity`` with 50 rows and 10 columns, from navigation start to the
  50th row in the page (taken in the page by a mutation observer, one animation frame after
  the row arrives, so the frame is painted), against ``GET /api/v1/records/opportunity``
  with the same page size and a token of the same user;
- **record**: an account page (fields, related lists, history) against
  ``GET /api/v1/records/account/{id}`` with the same token;
- **memory**: the server's resident memory (its whole process group) with 1 and with 11 open
  pages of the list; ``(RSS11 - RSS1) / 10`` is the memory per connected client.

Browser and API requests alternate, so both share the machine's noise. Prints a table, then
one JSON line of figures (with the load average); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks.servers import clean_env, free_port, log, serve
from benchmarks.workspaces import postgres_unavailable, postgres_workspace, sqlite_workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME = "rep_east"
DEMO_PASSWORD = "dealcraft-demo"
LIST_ROWS = 50
LIST_COLUMNS = (
    "name",
    "account",
    "stage",
    "amount",
    "probability",
    "close_date",
    "owner",
    "competitors",
    "loss_reason",
    "weighted_amount",
)
LIST_ROW = "tr[data-record]"
RECORD_READY = "[data-testid=record-title]"
EXTRA_CLIENTS = 10
SETTLE_SECONDS = 3.0

# Runs before any page script: notes when the list's 50th row and the record's title first
# exist, one animation frame later (once they are painted), in ms since navigation start.
READY_SCRIPT = """
(() => {
  const wanted = WANTED;
  window.__dcReady = {};
  const check = () => {
    for (const [name, [selector, count]] of Object.entries(wanted)) {
      if (name in window.__dcReady) continue;
      if (document.querySelectorAll(selector).length >= count) {
        window.__dcReady[name] = null;
        requestAnimationFrame(() => { window.__dcReady[name] = performance.now(); });
      }
    }
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true});
})();
""".replace("WANTED", json.dumps({"list": [LIST_ROW, LIST_ROWS], "record": [RECORD_READY, 1]}))


def prepare(bench_ws: Any) -> dict[str, Any]:
    """A token for the rep, and an account of theirs that has opportunities."""
    from dealcraft.settings import Settings
    from dealcraft.workspace import Workspace

    ws = Workspace(
        Settings(data_dir=bench_ws.data_dir, database_url=bench_ws.database_url, env="development")
    )
    ws.initialise()
    try:
        principal = ws.identity.principal_for_user(ws.identity.find_user(USERNAME))
        token, _expires = ws.identity.issue_token(principal, name="web benchmark")
        deal = ws.records.list(principal, "opportunity", where="account is not null", limit=1)
        account = deal.data[0]["account"]
        total = ws.records.count(principal, "opportunity")
    finally:
        ws.close()
    return {"token": token, "account": account, "opportunities": total}


def first_render(page: Any, url: str, name: str) -> tuple[float, float]:
    """Milliseconds from navigation start until the page's ``name`` element is painted, and
    until the last byte of the page's HTML arrived (the server's share)."""
    page.goto(url, wait_until="commit")
    handle = page.wait_for_function(
        f"() => window.__dcReady && window.__dcReady[{json.dumps(name)}]", timeout=60_000
    )
    html = page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd")
    return float(handle.json_value()), float(html)


def api_call(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> float:
    started = time.perf_counter()
    response = client.get(url, params=params)
    response.raise_for_status()
    response.json()
    return (time.perf_counter() - started) * 1000


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("[data-testid=username]", USERNAME)
    page.fill("[data-testid=password]", DEMO_PASSWORD)
    page.click("[data-testid=login]")
    page.wait_for_selector("[data-testid=logout]")


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "n": len(samples),
    }


def measure(bench_ws: Any, scratch: Path, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    probe = prepare(bench_ws)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log", "--factory",
            "dealcraft.app:serve_app"]  # fmt: skip
    env = clean_env(**bench_ws.env(), NICEGUI_STORAGE_PATH=str(scratch / "nicegui"))
    figures: dict[str, Any] = {"user": USERNAME, "opportunities_readable": probe["opportunities"]}

    with serve(
        f"dealcraft-web-{bench_ws.backend}",
        argv,
        health_path="/api/health",
        port=port,
        log_dir=scratch,
        env=env,
        timeout=120,
    ) as server:
        base = server.url
        list_url = f"{base}/o/opportunity?limit={LIST_ROWS}&columns={','.join(LIST_COLUMNS)}"
        record_url = f"{base}/o/account/{probe['account']}"
        api_list = f"{base}/api/v1/records/opportunity"
        api_record = f"{base}/api/v1/records/account/{probe['account']}"
        headers = {"Authorization": f"Bearer {probe['token']}"}

        with (
            sync_playwright() as p,
            httpx.Client(headers=headers, timeout=60) as client,
        ):
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(READY_SCRIPT)
            page = context.new_page()
            sign_in(page, base)

            # Warm both paths (schema view, policies, statements, the browser's cache).
            for _ in range(2):
                first_render(page, list_url, "list")
                first_render(page, record_url, "record")
                api_call(client, api_list, {"limit": LIST_ROWS})
                api_call(client, api_record)
            first_render(page, list_url, "list")
            rows = page.locator(LIST_ROW).count()
            api_list_rows = len(client.get(api_list, params={"limit": LIST_ROWS}).json()["data"])
            if rows != LIST_ROWS or api_list_rows != LIST_ROWS:
                raise RuntimeError(
                    f"expected {LIST_ROWS} rows, the page shows {rows}, the API {api_list_rows}"
                )

            # Alternate page loads and API calls.
            log(f"timing {runs} runs of each page and API call")
            samples: dict[str, list[float]] = defaultdict(list)
            for _ in range(runs):
                for kind, url in (("list", list_url), ("record", record_url)):
                    rendered, html = first_render(page, url, kind)
                    samples[f"web_{kind}"].append(rendered)
                    samples[f"html_{kind}"].append(html)
                samples["api_list"].append(api_call(client, api_list, {"limit": LIST_ROWS}))
                samples["api_record"].append(api_call(client, api_record))
            for kind in ("list", "record"):
                web, api = summary(samples[f"web_{kind}"]), summary(samples[f"api_{kind}"])
                figures[kind] = {
                    "web_first_render": web,
                    "web_html_received": summary(samples[f"html_{kind}"]),
                    "api": api,
                    "ratio": round(web["p50_ms"] / api["p50_ms"], 1),
                }

            # Memory: one open page, then eleven (each page is one NiceGUI client).
            page.goto(list_url)
            page.wait_for_selector(LIST_ROW)
            time.sleep(SETTLE_SECONDS)
            rss_one = server.rss_mib()
            pages = []
            for _ in range(EXTRA_CLIENTS):
                extra = context.new_page()
                extra.goto(list_url)
                extra.wait_for_selector(LIST_ROW)
                pages.append(extra)
            time.sleep(SETTLE_SECONDS)
            rss_eleven = server.rss_mib()
            figures["memory"] = {
                "rss_1_client_mib": rss_one,
                f"rss_{EXTRA_CLIENTS + 1}_clients_mib": rss_eleven,
                "per_client_mib": round((rss_eleven - rss_one) / EXTRA_CLIENTS, 2),
            }
            browser.close()
    return figures


def table(out: dict[str, Any]) -> str:
    lines = [
        f"web benchmark, {out['scale']} demo, load average {out['load_average']}",
        f"{'backend':<11} {'page':<7} {'web p50 ms':>11} {'html p50 ms':>12} {'api p50 ms':>11} "
        f"{'ratio':>6}",
    ]
    for backend in ("sqlite", "postgresql"):
        figures = out.get(backend)
        if not figures:
            continue
        if "skipped" in figures:
            lines.append(f"{backend:<11} skipped: {figures['skipped']}")
            continue
        for kind in ("list", "record"):
            f = figures[kind]
            lines.append(
                f"{backend:<11} {kind:<7} {f['web_first_render']['p50_ms']:>11} "
                f"{f['web_html_received']['p50_ms']:>12} {f['api']['p50_ms']:>11} {f['ratio']:>6}"
            )
        m = figures["memory"]
        lines.append(
            f"{backend:<11} memory  1 client {m['rss_1_client_mib']} MiB, "
            f"{EXTRA_CLIENTS + 1} clients {m[f'rss_{EXTRA_CLIENTS + 1}_clients_mib']} MiB, "
            f"{m['per_client_mib']} MiB per client"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each page")
    parser.add_argument("--rebuild", action="store_true", help="build the cached demo again")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        log(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
        return 2

    out: dict[str, Any] = {"benchmark": "web", "scale": args.scale}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="dc-bench-web-") as scratch:
        for backend in backends:
            if backend == "postgresql" and (reason := postgres_unavailable()):
                out[backend] = {"skipped": reason}
                log(f"PostgreSQL skipped: {reason}")
                continue
            opener = sqlite_workspace if backend == "sqlite" else postgres_workspace
            log(f"{backend}: preparing the {args.scale} demo")
            with opener(args.scale, Path(scratch), args.rebuild) as bench_ws:
                run_dir = Path(scratch) / f"{backend}-run"
                run_dir.mkdir()
                out[backend] = measure(bench_ws, run_dir, args.runs)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(table(out))
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
