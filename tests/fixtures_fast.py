"""Fast workspaces: the core app is installed once per session into a template, then copied.

Installing the core sales app takes seconds per test; copying a SQLite file or creating a
PostgreSQL database ``TEMPLATE`` takes a fraction of that. The template also holds the
personas every story uses, so no test pays for argon2 hashing just to sign someone in.

The fixtures are registered in conftest.py; tests import only the helpers (``persona``).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, _skipped_pg, make_workspace

from dealcraft.access.principal import Principal
from dealcraft.db.engine import normalise_url
from dealcraft.settings import Settings
from dealcraft.workspace import Workspace

# Personas in every template: (username, password, role, region).
PERSONAS = {
    "admin_ada": ("admin_ada", "ada-admin-password", "admin", "华东"),
    "rep_east": ("rep_east", "rep-east-password", "sales_rep", "华东"),
    "rep_south": ("rep_south", "rep-south-password", "sales_rep", "华南"),
    # Directors work every sales record: the persona of stories that are not about access.
    "director_east": ("director_east", "director-east-password", "sales_director", "华东"),
    "director_south": ("director_south", "director-south-password", "sales_director", "华南"),
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
    """Copies of the PostgreSQL template, reused after a reset when that is provably safe.

    Creating and dropping a database takes seconds on a busy server. After a test that did
    not change the schema, deleting the rows it added brings the copy back to the template
    state; anything else (a schema change, a new table, a template row changed or deleted, a
    table without an integer id that grew) drops the copy instead.
    """

    def __init__(self, admin: sa.Engine, template: str, base_url: sa.URL) -> None:
        self.admin = admin
        self.template = template
        self.base_url = base_url
        self.spare: list[str] = []
        engine = self._engine(template)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            self.columns = {
                t: {c["name"]: c["type"] for c in inspector.get_columns(t)}
                for t in inspector.get_table_names()
            }
            self.top = {
                t: conn.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{t}"')).scalar()
                for t, cols in self.columns.items()
                if isinstance(cols.get("id"), sa.Integer)
            }
            self.created = conn.execute(sa.text("SELECT now() AT TIME ZONE 'UTC'")).scalar()
            self.state = self._state(conn)
        engine.dispose()

    def _state(self, conn: sa.Connection) -> list[tuple]:
        """Every table's row count and rows touched since the template was made, and dc_meta."""
        parts = []
        for table, cols in sorted(self.columns.items()):
            touched = (
                f"updated_at > '{self.created.isoformat()}'" if "updated_at" in cols else "false"
            )
            parts.append(
                f"SELECT '{table}', count(*), count(*) FILTER (WHERE {touched}) FROM \"{table}\""
            )
        counts = [tuple(r) for r in conn.execute(sa.text(" UNION ALL ".join(parts)))]
        meta = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM dc_meta ORDER BY 1"))]
        return sorted(counts) + meta

    def _engine(self, name: str) -> sa.Engine:
        return sa.create_engine(self.base_url.set(database=name), poolclass=sa.pool.NullPool)

    def take(self) -> str:
        if self.spare:
            return self.spare.pop()
        name = f"dc_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def give_back(self, name: str) -> None:
        if self._reset(name):
            self.spare.append(name)
        else:
            self._drop(name)

    def _reset(self, name: str) -> bool:
        engine = self._engine(name)
        try:
            with engine.connect() as conn:
                tables = conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
                if set(tables) != set(self.columns):
                    return False
                for table, top in self.top.items():
                    conn.execute(sa.text(f'DELETE FROM "{table}" WHERE id > :top'), {"top": top})
                same = self._state(conn) == self.state
                # Keep the deletes only when the copy is the template again.
                if same:
                    conn.commit()
                return same
        except sa.exc.SQLAlchemyError:
            return False
        finally:
            engine.dispose()

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in self.spare:
            self._drop(name)


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
    copies = _PgCopies(admin, name, url)
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
