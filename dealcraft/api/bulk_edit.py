"""Bulk edit through the API: one change applied to many records, a result per record."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from dealcraft.access.principal import Principal
from dealcraft.api.deps import get_principal, get_workspace
from dealcraft.records.bulk_update import parse_targets, update_each
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/records", tags=["records"])


@router.patch("/{object_name}")
def bulk_update(
    object_name: str,
    body: dict[str, Any] = Body(
        ..., examples=[{"ids": [1, {"id": 2, "version": 3}], "values": {"stage": "won"}}]
    ),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Set ``values`` on each of ``ids`` (each an id, or ``{"id", "version"}``).

    Every record is updated on its own through the record service; a refused one (outside
    your scope, a stale version, a read-only field) is reported with its error code and
    does not stop the others.
    """
    targets = parse_targets(body.get("ids"))
    result = update_each(workspace.records, principal, object_name, targets, body.get("values"))
    return result.as_dict()
