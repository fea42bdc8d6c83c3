"""Builds the ASGI app: the REST API (and, as they land, the web pages)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from dealcraft import __version__
from dealcraft.api import access, auth, files, records, schema, transfer
from dealcraft.api.errors import install_error_handlers
from dealcraft.api.openapi import install_openapi
from dealcraft.api.responses import JSONResponse
from dealcraft.workspace import Workspace


def create_app(workspace: Workspace | None = None) -> FastAPI:
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
    install_openapi(app)

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/api/docs")

    @app.get("/api/health", tags=["meta"])
    def health():
        return {"status": "ok", "version": __version__}

    return app
