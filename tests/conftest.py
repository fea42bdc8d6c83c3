"""Shared fixtures: a SQLite engine always, a PostgreSQL engine when a server is configured.

PostgreSQL tests read ``DEALCRAFT_TEST_PG_URL``, Redis tests ``DEALCRAFT_TEST_REDIS_URL``.
Locally they skip with that reason when it is unset; under ``CI=true`` a skipped PostgreSQL or
Redis test fails the run (see ``pytest_sessionfinish``).
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from dealcraft.db.engine import create_engine, normalise_url

# NiceGUI's simulated-user fixture for the web tests (pytest_plugins must live here).
pytest_plugins = ["nicegui.testing.user_plugin"]

PG_URL = os.environ.get("DEALCRAFT_TEST_PG_URL")
_skipped_pg: list[str] = []
REDIS_URL = os.environ.get("DEALCRAFT_TEST_REDIS_URL")
_skipped_redis: list[str] = []


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'test.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(request):
    """The URL of a fresh PostgreSQL database, dropped after the test."""
    if not PG_URL:
        _skipped_pg.append(request.node.nodeid)
        pytest.skip("PostgreSQL not configured: set DEALCRAFT_TEST_PG_URL")
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"dc_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalise_url(PG_URL)).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url):
    """An engine on a fresh PostgreSQL database."""
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_url(request):
    """The URL of a Redis database for the flow queue, emptied before and after the test."""
    if not REDIS_URL:
        _skipped_redis.append(request.node.nodeid)
        pytest.skip("Redis not configured: set DEALCRAFT_TEST_REDIS_URL")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    """Run a test on both backends."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") != "true":
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    for skipped, server in ((_skipped_pg, "PostgreSQL"), (_skipped_redis, "Redis")):
        if not skipped:
            continue
        session.exitstatus = 1
        if tr is not None:
            tr.write_line(
                f"CI: {len(skipped)} {server} test(s) were skipped; CI requires them to run.",
                red=True,
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace.db'}"
    return request.getfixturevalue("pg_url")


def make_workspace(data_dir, database_url):
    from dealcraft.settings import Settings
    from dealcraft.workspace import Workspace

    settings = Settings(data_dir=data_dir, database_url=database_url, env="test")
    workspace = Workspace(settings)
    workspace.initialise()
    return workspace


@pytest.fixture
def workspace(database_url, tmp_path):
    """An initialised workspace (core sales app installed) on SQLite and on PostgreSQL."""
    ws = make_workspace(tmp_path / "data", database_url)
    yield ws
    ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path):
    """An initialised workspace on SQLite only, for tests whose subject is not the backend."""
    ws = make_workspace(tmp_path / "data", f"sqlite:///{tmp_path / 'workspace.db'}")
    yield ws
    ws.close()


@pytest.fixture
def admin(workspace):
    """The principal of an admin user named admin."""
    user = workspace.identity.create_user("admin", "admin-password", role="admin", name="Admin")
    return workspace.identity.principal_for_user(user)


@pytest.fixture
def client(workspace):
    """An HTTP client on the app, signed in as an admin (header set)."""
    from fastapi.testclient import TestClient

    from dealcraft.app import create_app

    workspace.identity.create_user("admin", "admin-password", role="admin", name="Admin")
    with TestClient(create_app(workspace)) as c:
        token = c.post(
            "/api/v1/auth/token", json={"username": "admin", "password": "admin-password"}
        ).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


# Workspaces copied from a per-session template (see fixtures_fast.py). Registered here, once,
# so the session-scoped template is built once per backend, not once per test module.
from fixtures_fast import (  # noqa: E402, F401
    _pg_copy,
    _pg_template,
    _sqlite_copy,
    _sqlite_template,
    crm,
    crm_sqlite,
    crm_url,
)
