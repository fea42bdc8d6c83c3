"""Fast workspaces: the core app is installed once per session into a template, then copied.

Installing the core sales app takes seconds per test; copying a SQLite file or creating a
PostgreSQL database ``TEMPLATE`` takes a fraction of that. The template also holds the
personas every story uses, so no test pays for argon2 hashing just to sign someone in.

Import the fixtures into a test module with ``from fixtures_fast import *  # noqa: F403``.
"""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealcraft.access.principal import Principal
from dealcraft.db.engine import normalise_url
from dealcraft.settings import Settings
from dealcraft.workspace import Workspace

from conftest import PG_URL, _skipped_pg, make_workspace

# Personas in every template: (username, password, role, region).
PERSONAS = {
    "admin_ada": ("admin_ada", "ada-admin-password", "admin", "华东"),
    "rep_east": ("rep_east", "rep-east-password", "sales_rep", "华东"),
    "rep_south": ("rep_south", "rep-south-password", "sales_rep", "华南"),
}


def _add_personas(ws: Workspace) -> None:
    for username, password, role, region in PERSONAS.values():
        ws.identity.create_user(username, password, role=role, region=region, name=username)


@dataclass
class _Template:
    kind: str
    source: str  # a file path


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> _Template:
    base = tmp_path_factory.mktemp("template_sqlite")
    path = base / "template.db"
    ws = make_workspace(base / "data", f"sqlite:///{path}")
    _add_personas(ws)
    # Fold the WAL into the main file so one copy is the whole database.
    with ws.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    return _Template("sqlite", str(path))


class _PgCopies:
    """Copies of the PostgreSQL template, made one ahead and dropped in the background.

    Creating and dropping a database is mostly waiting on the server's disk, so one worker
    thread does it while the tests run.
    """

    def __init__(self, admin: sa.Engine, template: str) -> None:
        self.admin = admin
        self.template = template
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copies")
        self.next: Future[str] | None = None

    def _create(self) -> str:
        name = f"dc_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def take(self) -> str:
        ready = self.next or self.worker.submit(self._create)
        self.next = self.worker.submit(self._create)
        return ready.result()

    def give_back(self, name: str) -> None:
        self.worker.submit(self._drop, name)

    def close(self) -> None:
        if self.next is not None:
            self.worker.submit(self._drop, self.next.result())
        self.worker.shutdown(wait=True)


@pytest.fixture(scope="session")
def _pg_template():
    if not PG_URL:
        yield None
        return
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"dc_tmpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalise_url(PG_URL)).set(database=name)
    ws = make_workspace(Path("/tmp/dealcraft-pg-template"), url.render_as_string(False))
    _add_personas(ws)
    ws.close()
    copies = _PgCopies(admin, name)
    yield copies
    copies.close()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _open(data_dir: Path, url: str, refresh_seconds: float = 1.0) -> Workspace:
    settings = Settings(
        data_dir=data_dir, database_url=url, env="test", schema_refresh_seconds=refresh_seconds
    )
    return Workspace(settings)


@pytest.fixture
def _sqlite_copy(_sqlite_template, tmp_path):
    path = tmp_path / "workspace.db"
    shutil.copyfile(_sqlite_template.source, path)
    return f"sqlite:///{path}"


@pytest.fixture
def _pg_copy(request, _pg_template):
    if _pg_template is None:
        _skipped_pg.append(request.node.nodeid)
        pytest.skip("PostgreSQL not configured: set DEALCRAFT_TEST_PG_URL")
    name = _pg_template.take()
    yield sa.make_url(normalise_url(PG_URL)).set(database=name).render_as_string(False)
    _pg_template.give_back(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def crm_url(request):
    """The URL of a copy of the template workspace, on SQLite and on PostgreSQL."""
    return request.getfixturevalue("_sqlite_copy" if request.param == "sqlite" else "_pg_copy")


@pytest.fixture
def crm(crm_url, tmp_path):
    """A workspace with the core sales app and the personas, on both backends."""
    ws = _open(tmp_path / "data", crm_url)
    yield ws
    ws.close()


@pytest.fixture
def crm_sqlite(_sqlite_copy, tmp_path):
    """The same workspace on SQLite only, for stories whose subject is not the backend."""
    ws = _open(tmp_path / "data", _sqlite_copy)
    yield ws
    ws.close()


def persona(ws: Workspace, username: str) -> Principal:
    user = ws.identity.find_user(username)
    assert user is not None, username
    return ws.identity.principal_for_user(user)


def signed_in_client(ws: Workspace, username: str = "admin_ada"):
    """A TestClient on ``ws`` with a bearer token for ``username`` (no password hashing)."""
    from fastapi.testclient import TestClient

    from dealcraft.app import create_app

    token, _ = ws.identity.issue_token(persona(ws, username), name="test")
    c = TestClient(create_app(ws))
    c.headers["Authorization"] = f"Bearer {token}"
    return c


__all__ = [
    "PERSONAS",
    "_pg_copy",
    "_pg_template",
    "_sqlite_copy",
    "_sqlite_template",
    "crm",
    "crm_sqlite",
    "crm_url",
    "persona",
    "signed_in_client",
]
