"""Flow endpoints: definitions, runs, manual starts, approvals, annotations, inbound webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse

from dealcraft.access.principal import Principal
from dealcraft.api.deps import get_principal, get_workspace
from dealcraft.errors import Forbidden
from dealcraft.flows import dryrun, verification
from dealcraft.flows.service import FlowService
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may manage flows", code="admin_required")


@router.get("")
def list_flows(
    principal: Principal = Depends(get_principal), ws: Workspace = Depends(get_workspace)
):
    _admin(principal)
    return {"data": FlowService(ws).list()}


@router.post("", status_code=201)
def save_flow(
    definition: dict[str, Any] = Body(...),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """Validate and save a definition (JSON, same shape as the YAML)."""
    return FlowService(ws).save(definition, principal)


@router.post("/check")
def check_flow(
    definition: dict[str, Any] = Body(...),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """Validate without saving: 200 when valid, 422 with every located problem otherwise."""
    _admin(principal)
    FlowService(ws).check(definition)
    return {"valid": True}


@router.get("/runs")
def list_runs(
    flow: str | None = None,
    status: str | None = None,
    limit: int = Query(100, ge=1, le=500),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    _admin(principal)
    return {"data": FlowService(ws).runs(flow, status, limit)}


@router.get("/runs/{run_id}")
def get_run(
    run_id: int,
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    _admin(principal)
    return FlowService(ws).run(run_id)


@router.post("/runs/{run_id}/retry", status_code=204)
def retry_run(
    run_id: int,
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    FlowService(ws).retry(run_id, principal)


@router.post("/runs/{run_id}/cancel", status_code=204)
def cancel_run(
    run_id: int,
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    FlowService(ws).cancel(run_id, principal)


@router.post("/approvals/{approval_id}", status_code=204)
def decide(
    approval_id: int,
    approved: bool = Body(..., embed=True),
    comment: str | None = Body(None, embed=True),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    FlowService(ws).decide(approval_id, principal, approved, comment)


@router.post("/annotations/{object_name}/{record_id}", status_code=201)
def annotate(
    object_name: str,
    record_id: int,
    text: str = Body(..., embed=True),
    assistant_text: str | None = Body(None, embed=True),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """The owner's strategy annotation (refused if too like the assistant's text)."""
    return verification.add_annotation(
        ws, principal, object_name, record_id, text, assistant_text=assistant_text
    )


@router.get("/{name}", response_class=PlainTextResponse)
def export_flow(
    name: str,
    version: int | None = None,
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """The definition as YAML."""
    _admin(principal)
    return FlowService(ws).export_yaml(name, version)


@router.post("/{name}/runs", status_code=201)
def start_run(
    name: str,
    record_id: int | None = Body(None, embed=True),
    key: str | None = Body(None, embed=True),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """The manual button: start a run about a record the caller can see."""
    return {"run_id": FlowService(ws).start(name, principal, record_id=record_id, key=key)}


@router.post("/{name}/dry-run")
def dry_run_flow(
    name: str,
    object_name: str | None = Body(None, embed=True, alias="object"),
    record_id: int | None = Body(None, embed=True),
    principal: Principal = Depends(get_principal),
    ws: Workspace = Depends(get_workspace),
):
    """What the flow's current version would do to the record, step by step; does nothing."""
    _admin(principal)
    return dryrun.dry_run(ws, name, object_name, record_id, principal)


@router.post("/{name}/webhook", status_code=202)
async def inbound_webhook(
    name: str,
    request: Request,
    x_dealcraft_signature: str | None = Header(None),
    x_dealcraft_delivery: str | None = Header(None),
    ws: Workspace = Depends(get_workspace),
):
    """Unauthenticated but signed: ``X-Dealcraft-Signature: t=<unix>,v1=<hmac>`` with the
    flow's secret; ``X-Dealcraft-Delivery`` makes a redelivery start no second run."""
    body = await request.body()
    run_id = FlowService(ws).receive_webhook(
        name, body, x_dealcraft_signature, x_dealcraft_delivery
    )
    return {"run_id": run_id, "accepted": True}
