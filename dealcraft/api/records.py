"""Record endpoints, one set for every object in the schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from dealcraft.access.principal import Principal
from dealcraft.api.deps import RecordId, get_principal, get_workspace
from dealcraft.api.responses import JSONResponse
from dealcraft.errors import DealcraftError, InvalidInput, VersionConflict
from dealcraft.records.service import MAX_LIMIT
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/records", tags=["records"])


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or ``W/"3"``, or ``3``) carries the version the client last saw."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise InvalidInput(
            f'If-Match must carry a record version such as "3", got {value!r}',
            code="invalid_if_match",
            details={"field": "If-Match", "value": value},
        )
    return int(text)


def etag(record: dict[str, Any]) -> str:
    return f'"{record["version"]}"'


@router.get("/{object_name}")
def list_records(
    object_name: str,
    where: str | None = Query(
        None, description="a filter in the expression language", max_length=4000
    ),
    sort: str | None = Query(None, description="comma-separated fields, '-' for descending"),
    limit: int = Query(50, description=f"1..{MAX_LIMIT}"),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    fields: str | None = Query(
        None, description="comma-separated field names: only these (and the system fields)"
    ),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    wanted = [name.strip() for name in fields.split(",") if name.strip()] if fields else None
    page = workspace.records.list(
        principal, object_name, where=where, sort=sort, limit=limit, cursor=cursor, fields=wanted
    )
    return JSONResponse({"data": page.data, "next_cursor": page.next_cursor})


@router.post("/{object_name}", status_code=201)
def create_record(
    object_name: str,
    response: Response,
    data: dict[str, Any] = Body(...),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    record = workspace.records.create(principal, object_name, data)
    return JSONResponse(
        record,
        status_code=201,
        headers={"ETag": etag(record), "Location": f"/api/v1/records/{object_name}/{record['id']}"},
    )


@router.post("/{object_name}/bulk")
def bulk_create(
    object_name: str,
    body: dict[str, Any] = Body(
        ..., examples=[{"records": [{"name": "..."}], "key": None, "keep_created_at": False}]
    ),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Create (or, with ``key``, upsert) many records in one transaction."""
    rows = body.get("records")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(
            "records must be a list of objects", code="invalid_body", details={"field": "records"}
        )
    result = workspace.records.bulk_create(
        principal,
        object_name,
        rows,
        key=body.get("key"),
        skip_bad_rows=bool(body.get("skip_bad_rows", False)),
        keep_created_at=body.get("keep_created_at") is True,
    )
    return {**result.as_dict(), "ids": result.ids}


@router.get("/{object_name}/{record_id}")
def get_record(
    object_name: str,
    record_id: RecordId,
    unmask: str | None = Query(
        None, description="comma-separated masked fields to show in full (needs a purpose)"
    ),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """One record. Unmasking needs ``X-Dealcraft-Purpose`` and is audited."""
    names = [n.strip() for n in (unmask or "").split(",") if n.strip()]
    record = workspace.records.get(principal, object_name, record_id, unmask=names)
    return JSONResponse(record, headers={"ETag": etag(record)})


@router.patch("/{object_name}/{record_id}")
def update_record(
    object_name: str,
    record_id: RecordId,
    data: dict[str, Any] = Body(...),
    if_match: str | None = Header(None),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Change some fields. A stale ``If-Match`` answers 412, a stale body ``version`` 409."""
    expected = parse_if_match(if_match)
    try:
        record = workspace.records.update(
            principal, object_name, record_id, data, expected_version=expected
        )
    except VersionConflict as e:
        if expected is not None:
            e.status = 412
        raise
    return JSONResponse(record, headers={"ETag": etag(record)})


@router.delete("/{object_name}/{record_id}", status_code=204)
def delete_record(
    object_name: str,
    record_id: RecordId,
    if_match: str | None = Header(None),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Soft-delete a record; ``POST .../restore`` brings it back."""
    expected = parse_if_match(if_match)
    try:
        workspace.records.delete(principal, object_name, record_id, expected_version=expected)
    except VersionConflict as e:
        e.status = 412
        raise
    return Response(status_code=204)


@router.post("/{object_name}/{record_id}/restore")
def restore_record(
    object_name: str,
    record_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    record = workspace.records.restore(principal, object_name, record_id)
    return JSONResponse(record, headers={"ETag": etag(record)})


@router.get("/{object_name}/{record_id}/history")
def record_history(
    object_name: str,
    record_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Who changed what, when, from what value, oldest first."""
    return {"data": workspace.records.history(principal, object_name, record_id)}


__all__ = ["router", "DealcraftError"]
