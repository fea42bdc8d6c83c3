"""Request dependencies: the workspace and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dealcraft.access.principal import Principal
from dealcraft.access.roles import PURPOSES
from dealcraft.errors import InvalidInput, Unauthorized
from dealcraft.workspace import Workspace

PURPOSE_HEADER = "X-Dealcraft-Purpose"
# Ids are 64-bit in every table; a larger number is refused before it reaches the driver
# (SQLite raises OverflowError on it, which would surface as a 500).
ID_MAX = 2**63 - 1
RecordId = Annotated[int, Path(ge=-ID_MAX, le=ID_MAX, description="a record id")]
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
    language = (
        "zh-CN" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"
    )
    purpose = request.headers.get(PURPOSE_HEADER) or request.query_params.get("purpose")
    if purpose and purpose not in PURPOSES:
        raise InvalidInput(
            f"{purpose!r} is not a declared purpose: {', '.join(PURPOSES)}",
            code="invalid_purpose",
            details={"field": PURPOSE_HEADER, "value": purpose},
        )
    return principal.with_request(language=language, purpose=purpose)
