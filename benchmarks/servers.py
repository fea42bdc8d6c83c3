"""Server processes for a benchmark: started in their own process group, stopped by its id.

Every server binds 127.0.0.1 on a free port. ``serve`` stops the whole process group when
the block ends, also when it ends with an error, so no worker outlives the benchmark.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def log(message: str) -> None:
    """Human progress goes to stderr; stdout carries only the JSON figures."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``DEALCRAFT_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALCRAFT_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    pid: int
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mib(self) -> float:
        """Resident memory of every process in the server's process group."""
        return group_rss_mib(self.pid)


def group_rss_mib(pgid: int) -> float:
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Field 5 of /proc/PID/stat is the process group; the name (field 2) may hold spaces.
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return round(total_kib / 1024, 1)


def wait_until_up(
    server: Server, path: str, proc: subprocess.Popen, timeout: float, any_status: bool
) -> None:
    """Poll until the server answers ``path`` with 200 (or, with ``any_status``, below 500)."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{server.name} exited with {proc.returncode} while starting:\n{tail}"
            )
        try:
            r = httpx.get(server.url + path, timeout=2)
            if r.status_code == 200 or (any_status and r.status_code < 500):
                return
            last_error = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            last_error = type(e).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s ({last_error})")


def stop_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group ``pid`` leads, then SIGKILL what is left after ``grace``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A zombie leader keeps the group "alive" until reaped; reap it if it is our child.
    try:
        done, _status = os.waitpid(pgid, os.WNOHANG)
        if done == pgid:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return False
    except ChildProcessError:
        pass
    return True


@contextmanager
def serve(
    name: str,
    argv: Sequence[str],
    *,
    health_path: str,
    port: int,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    any_status: bool = False,
) -> Iterator[Server]:
    """Run ``argv`` as a server in a new session; stop its process group when done.

    ``env`` is the whole environment of the server (default: ``clean_env()``). The server is
    up when ``health_path`` answers 200, or any status below 500 with ``any_status`` (for a
    path that needs a login).
    """
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else clean_env(),
            cwd=cwd,
            start_new_session=True,
        )
    server = Server(name, proc.pid, port, log_path)
    try:
        started = time.perf_counter()
        wait_until_up(server, health_path, proc, timeout, any_status)
        log(f"{name} up on {server.url} (pid {proc.pid}) in {time.perf_counter() - started:.1f} s")
        yield server
    finally:
        stop_group(proc.pid)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        log(f"{name} stopped (pid {proc.pid})")
