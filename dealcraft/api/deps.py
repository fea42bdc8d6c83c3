"""Request dependencies: the workspace and the authenticated principal."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dealcraft.access.principal import Principal
from dealcraft.errors import Unauthorized
from dealcraft.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def get_workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def get_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    workspace: Workspace = Depends(get_workspace),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "send a bearer token: Authorization: Bearer <token>", code="authentication_required"
        )
    principal = workspace.identity.principal_for_token(credentials.credentials)
    language = request.headers.get("accept-language", "")
    if language.lower().startswith("zh"):
        principal = Principal(**{**principal.__dict__, "language": "zh-CN"})
    return principal
