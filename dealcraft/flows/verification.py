"""The human verification gate: a proposal above an amount (default ¥500,000) may not go to
"sent" until its owner has attached a strategy annotation of their own, and an annotation
too close to the assistant's text is refused with the similarity shown.

The gate holds in two places: ``gate_rule`` is a record-service write rule (registered by
the workspace), so no write through the record service (API, import, web, a flow) moves a
proposal to "sent" without the annotation; the ``verification_gate`` step lets a flow wait
for it instead of failing. The system principal (installers, the demo's historical data)
is not held by the rule.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dealcraft.access.principal import Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import DealcraftError, FieldError, Forbidden, ValidationFailed
from dealcraft.events.outbox import publish
from dealcraft.flows.settings import get_flow_settings
from dealcraft.flows.tables import annotations
from dealcraft.schema.model import ObjectDef
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

ANNOTATION_EVENT = "annotation.added"
STRATEGY = "strategy"
GATED_OBJECT = "proposal"
SENT = "sent"


class VerificationRequired(DealcraftError):
    status = 409
    code = "verification_required"


def similarity(a: str, b: str) -> float:
    """0..1: how much of two texts is the same, ignoring case, spaces and punctuation."""
    clean = [re.sub(r"[\W_]+", "", t.lower()) for t in (a, b)]
    if not clean[0] or not clean[1]:
        return 0.0
    return round(difflib.SequenceMatcher(None, clean[0], clean[1], autojunk=False).ratio(), 3)


def add_annotation(
    workspace: Workspace,
    principal: Principal,
    object_name: str,
    record_id: int,
    text: str,
    *,
    assistant_text: str | None = None,
    limit: float | None = None,
) -> dict[str, Any]:
    """The owner's strategy annotation; refused when not the owner or too like the assistant."""
    limit = limit if limit is not None else get_flow_settings().similarity_limit
    record = workspace.records.get(principal, object_name, record_id)
    if record.get("owner") != principal.user_id:
        raise Forbidden(
            f"only the owner of {object_name} {record_id} may add its strategy annotation",
            code="not_owner",
            details={"field": "owner", "object": object_name, "id": record_id},
        )
    if not text or len(text.strip()) < 20:
        raise ValidationFailed(
            [FieldError("text", "annotation_too_short", "an annotation has 20 or more characters")]
        )
    score = similarity(text, assistant_text) if assistant_text else 0.0
    if assistant_text and score >= limit:
        error = FieldError(
            "text",
            "annotation_too_similar",
            f"the annotation is {score:.0%} the same as the assistant's text (the limit is "
            f"{limit:.0%}); write the strategy in your own words",
            score,
        )
        failed = ValidationFailed([error])
        failed.details["similarity"] = score
        failed.details["limit"] = limit
        raise failed
    with write_transaction(workspace.engine) as conn:
        annotation_id = conn.execute(
            annotations.insert().values(
                object_name=object_name,
                record_id=record_id,
                author_id=principal.user_id,
                kind=STRATEGY,
                text=text,
                similarity=score,
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
        publish(
            conn,
            ANNOTATION_EVENT,
            {"key": str(record_id), "annotation_id": annotation_id},
            object_name=object_name,
            record_id=record_id,
            actor_id=principal.user_id,
        )
    return {"id": annotation_id, "similarity": score}


def _owner_annotation(
    conn: Connection, object_name: str | None, record_id: Any, owner: Any
) -> int | None:
    """The id of a strategy annotation the owner wrote on the record, if there is one."""
    if record_id is None or owner is None:
        return None
    a = annotations
    found = conn.execute(
        sa.select(a.c.id)
        .where(
            a.c.object_name == object_name,
            a.c.record_id == record_id,
            a.c.author_id == owner,
            a.c.kind == STRATEGY,
        )
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None


def gate_status(
    workspace: Workspace | None,
    object_name: str | None,
    record: Mapping[str, Any],
    *,
    limit: float,
    amount_field: str = "amount",
    owner_field: str = "owner",
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Whether the gate is open for ``record``, and why; read on ``conn`` when given (inside a
    write's transaction), else on a connection of the workspace."""
    amount = record.get(amount_field) or 0
    if float(amount) <= float(limit):
        return {"open": True, "reason": "below_limit", "amount": amount, "limit": limit}
    owner = record.get(owner_field)
    if conn is not None:
        found = _owner_annotation(conn, object_name, record.get("id"), owner)
    else:
        assert workspace is not None, "gate_status needs a workspace or a connection"
        with workspace.engine.connect() as own:
            found = _owner_annotation(own, object_name, record.get("id"), owner)
    if found:
        return {"open": True, "reason": "annotated", "annotation_id": found, "amount": amount}
    return {"open": False, "reason": "owner_annotation_missing", "amount": amount, "limit": limit}


def _refusal(object_name: str, record_id: Any, status: dict[str, Any]) -> VerificationRequired:
    which = f"{object_name} {record_id}" if record_id is not None else f"a new {object_name}"
    return VerificationRequired(
        f"{which} is above ¥{status['limit']:,.0f} (amount ¥{float(status['amount']):,.0f}): "
        "its owner must attach their own strategy annotation before it is sent",
        details={"field": "status", "object": object_name, "id": record_id, **status},
    )


def gate_rule(
    conn: Connection,
    principal: Principal,
    obj: ObjectDef,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    """The record-service write rule: a proposal moving to "sent" above the limit needs the
    owner's own annotation. Runs inside the write's transaction; raising refuses the write."""
    if obj.name != GATED_OBJECT or principal.is_system:
        return
    if after.get("status") != SENT or (before is not None and before.get("status") == SENT):
        return
    status = gate_status(
        None,
        obj.name,
        after,
        limit=get_flow_settings().verification_amount,
        conn=conn,
    )
    if not status["open"]:
        raise _refusal(obj.name, after.get("id"), status)


def check_send_allowed(workspace: Workspace, object_name: str, record: Mapping[str, Any]) -> None:
    status = gate_status(
        workspace, object_name, record, limit=get_flow_settings().verification_amount
    )
    if not status["open"]:
        raise _refusal(object_name, record.get("id"), status)
