"""Access administration: policies, roles, tokens, and reading the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field

from dealcraft.access.principal import Principal
from dealcraft.access.roles import PURPOSES, ROLES
from dealcraft.api.deps import ID_MAX, RecordId, get_principal, get_workspace
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import Forbidden, NotFound
from dealcraft.schema.service import utcnow
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1", tags=["access"])

AUDIT_READERS = frozenset({"admin", "legal_counsel"})


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may manage access", code="admin_required")


@router.get("/access/me")
def who_am_i(principal: Principal = Depends(get_principal)):
    """The signed-in principal as the record service sees it."""
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "roles": sorted(principal.roles),
        "teams": sorted(principal.team_ids),
        "region": principal.region,
        "reports": sorted(principal.reports),
        "deal_room_accounts": sorted(principal.deal_room_accounts),
        "purposes": sorted(principal.purposes),
        "scopes": sorted(principal.scopes),
    }


@router.get("/access/roles")
def list_roles(principal: Principal = Depends(get_principal)):
    return {"roles": list(ROLES), "purposes": list(PURPOSES)}


@router.get("/access/policies")
def list_policies(
    role: str | None = Query(None),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    _require_admin(principal)
    return {"data": [p.as_dict() for p in workspace.policies.list(role)]}


class PolicyBody(BaseModel):
    operations: list[str] = Field(default_factory=list)
    row_scope: str | None = None
    field_rules: dict[str, str] = Field(default_factory=dict)


@router.put("/access/policies/{role}/{object_name}")
def save_policy(
    role: str,
    object_name: str,
    body: PolicyBody = Body(...),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Grant ``role`` operations, a row scope and field rules on an object (a new version)."""
    _require_admin(principal)
    spec = {"role": role, "object_name": object_name, **body.model_dump()}
    policy = workspace.policies.save_audited(
        spec, actor_id=principal.user_id, audit=workspace.audit
    )
    return policy.as_dict()


@router.delete("/access/policies/{role}/{object_name}", status_code=204)
def remove_policy(
    role: str,
    object_name: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    _require_admin(principal)
    with write_transaction(workspace.engine) as conn:
        workspace.policies.remove(role, object_name, conn=conn)
        workspace.audit.record(
            conn,
            action="policy.change",
            category="admin",
            actor_id=principal.user_id,
            data={"removed": {"role": role, "object_name": object_name}},
        )
    workspace.policies.invalidate()
    return Response(status_code=204)


@router.get("/access/policies/{role}/{object_name}/versions")
def policy_versions(
    role: str,
    object_name: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    _require_admin(principal)
    return {"data": workspace.policies.versions(role, object_name)}


# Tokens ----------------------------------------------------------------------------------
class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=127)
    scopes: list[str] = Field(default_factory=lambda: ["*"])
    ttl_hours: int = Field(default=24 * 30, ge=1, le=24 * 366)


@router.get("/auth/tokens", tags=["auth"])
def list_tokens(
    principal: Principal = Depends(get_principal), workspace: Workspace = Depends(get_workspace)
):
    """Your tokens (never their secret values)."""
    t = system.api_tokens
    with workspace.engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(
                    t.c.id, t.c.name, t.c.scopes, t.c.created_at, t.c.expires_at, t.c.revoked_at
                )
                .where(t.c.user_id == principal.user_id)
                .order_by(t.c.id)
            )
            .mappings()
            .all()
        )
    return {"data": [{k: _iso(v) for k, v in row.items()} for row in rows]}


@router.post("/auth/tokens", status_code=201, tags=["auth"])
def issue_token(
    body: TokenBody,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """A new scoped, expiring token; its value is shown once."""
    token, expires_at = workspace.identity.issue_token(
        principal, name=body.name, scopes=body.scopes, ttl=timedelta(hours=body.ttl_hours)
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_at": _iso(expires_at),
        "scopes": body.scopes,
    }


@router.delete("/auth/tokens/{token_id}", status_code=204, tags=["auth"])
def revoke_token(
    token_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    workspace.identity.revoke_token_id(principal, token_id)
    return Response(status_code=204)


# Audit -------------------------------------------------------------------------------------
@router.get("/audit", tags=["audit"])
def read_audit(
    object_name: str | None = Query(None, alias="object"),
    record_id: int | None = Query(None, ge=-ID_MAX, le=ID_MAX),
    user_id: int | None = Query(None, alias="user", ge=-ID_MAX, le=ID_MAX),
    action: str | None = Query(None),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    limit: int = Query(100),
    before_id: int | None = Query(None, ge=-ID_MAX, le=ID_MAX),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Audit entries, newest first; for admins and legal counsel."""
    if not (principal.is_admin or principal.roles & AUDIT_READERS):
        raise Forbidden("your role may not read the audit trail", code="audit_reader_required")
    data = workspace.audit.query(
        workspace.engine,
        object_name=object_name,
        record_id=record_id,
        actor_id=user_id,
        action=action,
        since=_naive(since),
        until=_naive(until),
        limit=limit,
        before_id=before_id,
    )
    return {"data": [{k: _iso(v) for k, v in e.items()} for e in data]}


def _naive(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        from datetime import UTC

        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _iso(value: Any) -> Any:
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


__all__ = ["router", "NotFound", "utcnow"]
