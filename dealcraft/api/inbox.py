"""The signed-in user's in-app inbox."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from dealcraft.access.principal import Principal
from dealcraft.api.deps import RecordId, get_principal, get_workspace
from dealcraft.inbox import MAX_MESSAGES, Inbox
from dealcraft.workspace import Workspace

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


@router.get("")
def list_messages(
    unread: bool = Query(False, description="only unread messages"),
    unread_first: bool = Query(False, description="unread messages before read ones"),
    limit: int = Query(50, description=f"1..{MAX_MESSAGES}"),
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """My messages, newest first, with the number still unread."""
    box = Inbox(workspace.engine)
    return {
        "data": box.messages(principal, unread_only=unread, unread_first=unread_first, limit=limit),
        "unread": box.unread_count(principal),
    }


@router.post("/read-all")
def read_all(
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    return {"marked": Inbox(workspace.engine).mark_all_read(principal)}


@router.post("/{message_id}/read")
def read_message(
    message_id: RecordId,
    principal: Principal = Depends(get_principal),
    workspace: Workspace = Depends(get_workspace),
):
    """Mark one of my messages read; someone else's answers 404 inbox_message_not_found."""
    return Inbox(workspace.engine).mark_read(principal, message_id)
