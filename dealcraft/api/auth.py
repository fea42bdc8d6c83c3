"""Tokens for API clients."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from dealcraft.api.deps import get_workspace
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


@router.post("/token", response_model=TokenResponse)
def issue_token(body: TokenRequest, workspace: Workspace = Depends(get_workspace)):
    """Exchange a username and password for a bearer token."""
    principal = workspace.identity.authenticate(body.username, body.password)
    token, expires_at = workspace.identity.issue_token(principal, name="password login")
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_at": expires_at.isoformat() + "Z",
    }
