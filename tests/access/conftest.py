"""Fixtures of the access stories: a world per module and backend (see world.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, _skipped_pg
from fastapi.testclient import TestClient

from dealcraft.app import create_app
from dealcraft.db.engine import normalise_url
from dealcraft.settings import Settings
from dealcraft.workspace import Workspace

from .world import World, build_world


def open_workspace(data_dir: Path, url: str) -> Workspace:
    settings = Settings(data_dir=data_dir, database_url=url, env="test")
    return Workspace(settings)


def _world(backend, request, _sqlite_template, _pg_template, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"access_{backend}")
    copy = None
    if backend == "sqlite":
        path = base / "data" / "dealcraft.db"
        path.parent.mkdir(parents=True)
        shutil.copyfile(_sqlite_template.source, path)
        url = f"sqlite:///{path}"
    else:
        if _pg_template is None:
            _skipped_pg.append(request.node.nodeid)
            pytest.skip("PostgreSQL not configured: set DEALCRAFT_TEST_PG_URL")
        copy = _pg_template.take()
        url = sa.make_url(normalise_url(PG_URL)).set(database=copy).render_as_string(False)
    ws = open_workspace(base / "data", url)
    w: World = build_world(ws)
    w.backend = backend  # type: ignore[attr-defined]
    w.url = url  # type: ignore[attr-defined]
    w.client = TestClient(create_app(ws))  # type: ignore[attr-defined]
    yield w
    w.client.close()  # type: ignore[attr-defined]
    ws.close()
    if copy is not None:
        _pg_template.give_back(copy)


@pytest.fixture(scope="module")
def world(request, _sqlite_template, _pg_template, tmp_path_factory):
    """The organisation of world.py on SQLite, built once per test module."""
    yield from _world("sqlite", request, _sqlite_template, _pg_template, tmp_path_factory)


@pytest.fixture(scope="module")
def pg_world(request, _sqlite_template, _pg_template, tmp_path_factory):
    """The same organisation on PostgreSQL, built once per test module."""
    yield from _world("postgresql", request, _sqlite_template, _pg_template, tmp_path_factory)
