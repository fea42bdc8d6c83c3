"""The load loop: N keep-alive clients issue requests back to back for a while.

It follows the shape of ../shared/peers/bench.py (httpx AsyncClient, one shared counter,
stop at a deadline or a request cap) so Dealcraft, the minimal endpoints and the peers are
measured by the same client code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

# (method, path, keyword arguments for httpx.AsyncClient.request)
Request = tuple[str, str, dict[str, Any]]


@dataclass
class PhaseResult:
    latencies: list[float]
    errors: int
    seconds: float
    concurrency: int
    first_error: str | None = None

    def figures(self) -> dict[str, Any]:
        """Counts, req/s and latency percentiles in milliseconds."""
        n = len(self.latencies)
        out: dict[str, Any] = {"conc": self.concurrency, "n": n, "secs": round(self.seconds, 2)}
        if n == 0:
            return {**out, "rps": 0.0, "non2xx": self.errors}
        ms = sorted(x * 1000 for x in self.latencies)

        def pct(q: float) -> float:
            # Same definition as peers/bench.py, so the peers' published figures compare.
            return round(ms[min(n - 1, int(q * n))], 2)

        out.update(
            rps=round(n / self.seconds, 1),
            p50=pct(0.50),
            p95=pct(0.95),
            p99=pct(0.99),
            non2xx=self.errors,
        )
        if self.first_error:
            out["first_error"] = self.first_error
        return out


async def run_phase(
    client: httpx.AsyncClient,
    make: Callable[[int], Request],
    concurrency: int,
    seconds: float,
    max_requests: int | None = None,
) -> PhaseResult:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    issued = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal errors, issued, first_error
        while time.perf_counter() < deadline:
            if max_requests is not None and issued >= max_requests:
                return
            i = issued
            issued += 1
            method, path, kwargs = make(i)
            t0 = time.perf_counter()
            try:
                r = await client.request(method, path, **kwargs)
                ok = r.status_code < 300
                if not ok and first_error is None:
                    first_error = f"HTTP {r.status_code}: {r.text[:300]}"
            except httpx.HTTPError as e:
                ok = False
                if first_error is None:
                    first_error = f"{type(e).__name__}: {e}"
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return PhaseResult(latencies, errors, time.perf_counter() - started, concurrency, first_error)


def client_for(
    base_url: str, concurrency: int, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits, headers=headers)


async def measure(
    base_url: str,
    make: Callable[[int], Request],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.0,
    max_requests: int | None = None,
    headers: dict[str, str] | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """Warm the connections up, then measure one phase; ``offset`` shifts request numbers."""
    async with client_for(base_url, concurrency, headers) as client:
        if warmup > 0:
            await run_phase(client, lambda i: make(offset + 10_000_000 + i), concurrency, warmup)
        result = await run_phase(
            client, lambda i: make(offset + i), concurrency, seconds, max_requests
        )
    return result.figures()
