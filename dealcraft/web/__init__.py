"""The web app: NiceGUI pages mounted on the same ASGI app as the REST API.

``mount_web(app, workspace)`` registers every page and mounts NiceGUI at ``/``. All assets
(Vue, Quasar, ECharts, fonts) are served from the NiceGUI wheel; no page loads anything from
another host. Pages read and write only through ``workspace.records`` with the signed-in
user's principal, so the access policy holds in the browser exactly as in the API.

NiceGUI keeps per-user session storage in files under ``NICEGUI_STORAGE_PATH`` (default
``.nicegui`` in the working directory), or in Redis when ``NICEGUI_REDIS_URL`` is set; both
are read by NiceGUI when it is first imported.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.routing import Route

from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)


def mount_web(app: FastAPI, workspace: Workspace) -> None:
    """Register the pages and mount NiceGUI on ``app`` (call once, after the API routers)."""
    from nicegui import ui

    from dealcraft.web import admin, builder, importer, kanban, lists, records, shell, workbench
    from dealcraft.web import flows as flow_pages
    from dealcraft.web import inbox as inbox_page

    # The API's placeholder home page (a redirect to the API docs) gives way to the web app.
    app.router.routes[:] = [
        r for r in app.router.routes if not (isinstance(r, Route) and r.path == "/")
    ]

    shell.register(workspace)
    workbench.register(workspace)
    lists.register(workspace)
    importer.register(workspace)
    records.register(workspace)
    kanban.register(workspace)
    builder.register(workspace)
    admin.register(workspace)
    flow_pages.register(workspace)
    inbox_page.register(workspace)

    ui.run_with(
        app,
        title="Dealcraft",
        storage_secret=workspace.settings.secret_key,
        show_welcome_message=False,
        reconnect_timeout=10.0,
    )
    logger.info("web app mounted")


__all__ = ["mount_web"]
