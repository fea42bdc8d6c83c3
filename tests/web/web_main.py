"""The app the NiceGUI ``user`` fixture runs: the real create_app with the web app mounted.

The fixture executes this file for every test (NiceGUI resets its globals in between), with
``DEALCRAFT_WEB_TEST_DATA_DIR`` pointing at that test's copy of the seeded workspace.
"""

import os

from nicegui import app as nicegui_app

from dealcraft.app import create_app
from dealcraft.settings import Settings
from dealcraft.web import mount_web
from dealcraft.workspace import Workspace

workspace = Workspace(
    Settings(
        data_dir=os.environ["DEALCRAFT_WEB_TEST_DATA_DIR"],
        env="test",
        secret_key="web-test-secret",
        schema_refresh_seconds=0,
    )
)
api = create_app(workspace)
mount_web(api, workspace)
nicegui_app.on_shutdown(workspace.close)
# The app's own workspace, for tests that watch its engine (the query-count pin).
nicegui_app.state.dealcraft_workspace = workspace

if os.environ.get("DEALCRAFT_WEB_SERVE_PORT"):
    # The Playwright tests run this file as a real server in a subprocess.
    import uvicorn

    uvicorn.run(
        api, host="127.0.0.1", port=int(os.environ["DEALCRAFT_WEB_SERVE_PORT"]), log_level="warning"
    )
