"""Saved list views: mine and my teams' shared ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response

from dealcraft.access.principal import Principal
from dealcraft.api.deps import RecordId, get_principal, get_workspace
from dealcraft.saved_views.service import SavedViews
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/views", tags=["views"])

EXAMPLE = {
    "object_name": "opportunity",
    "name": "Won this quarter",
    "columns": ["name", "amount", "owner"],
    "where": "stage = 'won'",
    "sort": "-amount",
    "team_id": None,
}


@router.get("")
def list_views(
    object_name: str | None = Query(None, alias="object", description="only this object's"),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """My views and the views shared with my team(s), mine first."""
    return {"data": SavedViews(workspace).list(principal, object_name)}


@router.post("", status_code=201)
def create_view(
    body: dict[str, Any] = Body(..., examples=[EXAMPLE]),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Save a view; ``team_id`` (one of my teams) shares it with that team."""
    return SavedViews(workspace).create(principal, body)


@router.get("/{view_id}")
def get_view(
    view_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    return SavedViews(workspace).get(principal, view_id)


@router.patch("/{view_id}")
def update_view(
    view_id: RecordId,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Change my view (an admin may change anyone's); a teammate's answers 403."""
    return SavedViews(workspace).update(principal, view_id, body)


@router.delete("/{view_id}", status_code=204)
def delete_view(
    view_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    SavedViews(workspace).delete(principal, view_id)
    return Response(status_code=204)
