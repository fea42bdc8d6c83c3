"""Fixtures for the web tests: a seeded workspace copied per test, and NiceGUI's simulated user.

The ``user`` fixture is NiceGUI's user simulation pointed at ``web_main.py``,
which builds the real app with ``create_app`` + ``mount_web`` on this test's workspace copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_workspace

# pytest allows ``pytest_plugins = ["nicegui.testing.user_plugin"]`` only in the top-level
# conftest, so the plugin's configure hook (a private storage directory for the session) is
# taken from it here, and its ``user`` fixture is defined below on our main file.
from nicegui.testing.general_fixtures import pytest_configure  # noqa: E402,F401
from nicegui.testing.user_simulation import user_simulation

from dealcraft.settings import Settings
from dealcraft.workspace import Workspace
from web.seed import seed_workspace

MAIN_FILE = Path(__file__).parent / "web_main.py"


@pytest.fixture(scope="session")
def web_template(tmp_path_factory) -> Path:
    """A workspace with the core app, the personas and a few records, built once."""
    base = tmp_path_factory.mktemp("web_template")
    ws = make_workspace(base / "data", f"sqlite:///{base / 'data' / 'dealcraft.db'}")
    seed_workspace(ws)
    with ws.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    return base / "data"


@pytest.fixture
def web_data_dir(web_template, tmp_path, monkeypatch) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(web_template / "dealcraft.db", data_dir / "dealcraft.db")
    monkeypatch.setenv("DEALCRAFT_WEB_TEST_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture
def web_workspace(web_data_dir):
    """The test's workspace, opened beside the app's, to arrange and check data."""
    ws = Workspace(Settings(data_dir=web_data_dir, env="test", schema_refresh_seconds=0))
    yield ws
    ws.close()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def user(web_data_dir, caplog):
    """NiceGUI's simulated user on the Dealcraft app; fails the test on any ERROR log."""
    async with user_simulation(main_file=MAIN_FILE) as simulated:
        yield simulated
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    if errors:
        pytest.fail(f"unexpected ERROR logs: {[r.getMessage() for r in errors]}", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell that a test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
