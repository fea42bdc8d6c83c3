"""Schema endpoints: objects and fields (create, add, change, reorder, archive), and the
record page layout of each object."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response

from dealcraft.access.principal import Principal
from dealcraft.api.deps import get_principal, get_workspace
from dealcraft.errors import FieldError, NotFound, ValidationFailed
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/schema", tags=["schema"])

OBJECT_EXAMPLE = {
    "name": "tender",
    "label": {"en": "Tender", "zh-CN": "招标"},
    "fields": [{"name": "title", "type": "text", "label": "Title", "required": True}],
}
ORDER_EXAMPLE = {"fields": ["name", "stage", "amount"]}
LAYOUT_EXAMPLE = {
    "sections": [
        {"key": "deal", "labels": {"en": "Deal", "zh-CN": "交易"}, "fields": ["name", "stage"]},
        {"key": "dates", "labels": {"en": "Dates", "zh-CN": "日期"}, "fields": ["close_date"]},
    ],
    "related_lists": ["contract.opportunity", "activity.opportunity"],
}
FIELD_EXAMPLE = {
    "name": "credit_limit",
    "type": "money",
    "label": "Credit limit",
    "currency": "CNY",
}


def field_json(f: FieldDef, language: str | None) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "label": f.label(language),
        "labels": f.labels,
        "required": f.required,
        "position": f.position,
        "archived": f.archived,
        **f.options,
    }


def object_json(obj: ObjectDef, language: str | None, include_archived: bool = False) -> dict:
    fields = obj.fields if include_archived else obj.active_fields
    return {
        "name": obj.name,
        "label": obj.label(language),
        "labels": obj.labels,
        "description": obj.description,
        "app": obj.app,
        "title_field": obj.title_field,
        "fields": [field_json(f, language) for f in sorted(fields, key=lambda f: f.position)],
    }


@router.get("/objects")
def list_objects(
    principal: Principal = Depends(get_principal), workspace: Workspace = Depends(get_workspace)
):
    """Every object with its fields."""
    view = workspace.registry.view()
    return {"data": [object_json(o, principal.language) for o in view.objects.values()]}


@router.get("/objects/{object_name}")
def get_object(
    object_name: str,
    include_archived: bool = Query(False, description="also list archived fields"),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    obj = workspace.registry.view().objects.get(object_name)
    if obj is None:
        raise NotFound(
            f"no object named {object_name!r}",
            code="object_not_found",
            details={"object": object_name},
        )
    return object_json(obj, principal.language, include_archived)


@router.post("/objects", status_code=201)
def create_object(
    response: Response,
    spec: dict[str, Any] = Body(..., examples=[OBJECT_EXAMPLE]),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Create an object (a real table) with optional initial fields."""
    workspace.policy.check_schema_change(principal)
    obj = workspace.schema.create_object(spec)
    response.headers["Location"] = f"/api/v1/schema/objects/{obj.name}"
    return object_json(obj, principal.language)


@router.post("/objects/{object_name}/fields", status_code=201)
def add_field(
    object_name: str,
    spec: dict[str, Any] = Body(..., examples=[FIELD_EXAMPLE]),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Add a field (a real column, usable at once): ``{"name", "type", "label", ...options}``."""
    workspace.policy.check_schema_change(principal)
    return field_json(workspace.schema.add_field(object_name, spec), principal.language)


@router.patch("/objects/{object_name}/fields/{field_name}")
def update_field(
    object_name: str,
    field_name: str,
    changes: dict[str, Any] = Body(...),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Change a field's label, required flag, position or type options (e.g. choices)."""
    workspace.policy.check_schema_change(principal)
    f = workspace.schema.update_field(object_name, field_name, changes)
    return field_json(f, principal.language)


@router.delete("/objects/{object_name}/fields/{field_name}")
def archive_field(
    object_name: str,
    field_name: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Archive a field: hidden everywhere, data kept, restorable."""
    workspace.policy.check_schema_change(principal)
    return field_json(workspace.schema.archive_field(object_name, field_name), principal.language)


@router.post("/objects/{object_name}/fields/{field_name}/restore")
def restore_field(
    object_name: str,
    field_name: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    workspace.policy.check_schema_change(principal)
    return field_json(workspace.schema.restore_field(object_name, field_name), principal.language)


@router.put("/objects/{object_name}/field-order")
def reorder_fields(
    object_name: str,
    order: dict[str, Any] = Body(..., examples=[ORDER_EXAMPLE]),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Put the named fields first, in that order (``{"fields": [...]}``); others follow."""
    workspace.policy.check_schema_change(principal)
    names = order.get("fields")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationFailed(
            [FieldError("fields", "invalid_order", "fields is a list of field names")]
        )
    workspace.schema.reorder_fields(object_name, names)
    return object_json(workspace.registry.view().objects[object_name], principal.language)


@router.get("/objects/{object_name}/layout")
def get_layout(
    object_name: str,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """The record page layout: ordered sections of fields, and which related lists show."""
    return workspace.schema.layout(object_name).as_dict(principal.language)


@router.put("/objects/{object_name}/layout")
def save_layout(
    object_name: str,
    layout: dict[str, Any] = Body(..., examples=[LAYOUT_EXAMPLE]),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Save the layout; fields it leaves out follow in its last section."""
    workspace.policy.check_schema_change(principal)
    return workspace.schema.save_layout(object_name, layout).as_dict(principal.language)
