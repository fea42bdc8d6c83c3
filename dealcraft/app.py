"""Builds the ASGI app: the REST API and the web app, on one server."""

from __future__ import annotations

from fastapi import FastAPI, Request

from dealcraft import __version__
from dealcraft.api import access, auth, bulk_edit, files, inbox, records, schema, transfer, views
from dealcraft.api.errors import install_error_handlers
from dealcraft.api.openapi import install_openapi
from dealcraft.api.responses import JSONResponse
from dealcraft.errors import NotFound
from dealcraft.flows import api as flows_api
from dealcraft.web import mount_web
from dealcraft.workspace import Workspace


def create_app(workspace: Workspace | None = None, *, web: bool = False) -> FastAPI:
    """The API (and with ``web`` the web app) for a workspace.

    NiceGUI keeps one web app per process, so ``web`` may be true once per process: the
    server's factory (``serve_app``) sets it; tests build API-only apps freely.
    """
    workspace = workspace or Workspace()
    app = FastAPI(
        title="Dealcraft API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        default_response_class=JSONResponse,
    )
    app.state.workspace = workspace
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(schema.router)
    # Before the record routes, so /records/{object}/export is not read as a record id.
    app.include_router(transfer.router)
    app.include_router(records.router)
    app.include_router(files.router)
    app.include_router(access.router)
    app.include_router(flows_api.router)
    app.include_router(bulk_edit.router)
    app.include_router(inbox.router)
    app.include_router(views.router)
    install_openapi(app)

    @app.get("/api/health", tags=["meta"])
    def health():
        return {"status": "ok", "version": __version__}

    @app.api_route(
        "/api/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def unknown_endpoint(path: str, request: Request):
        # Unknown API paths answer JSON, before the web app's catch-all page.
        raise NotFound(
            f"no such endpoint: {request.method} /api/{path}",
            code="not_found",
            details={"path": f"/api/{path}"},
        )

    # The web app mounts at "/" and catches every remaining path: it must come last.
    if web:
        mount_web(app, workspace)
    return app


def serve_app() -> FastAPI:
    """The factory ``dealcraft serve`` runs: the API and the web app."""
    return create_app(web=True)
