"""The human verification gate: a proposal above an amount (default ¥500,000) may not go to
"sent" until its owner has attached a strategy annotation of their own, and an annotation
too close to the assistant's text is refused with the similarity shown.

Known shortcoming: the gate is enforced by flows (the ``verification_gate`` step) and by
``check_send_allowed`` for callers that ask; a direct record write of ``status: sent`` is
not refused until the record service offers a before-write hook for rules like this one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dealcraft.access.principal import Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import DealcraftError, FieldError, Forbidden, ValidationFailed
from dealcraft.events.outbox import publish
from dealcraft.flows.settings import get_flow_settings
from dealcraft.flows.tables import annotations
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

ANNOTATION_EVENT = "annotation.added"
STRATEGY = "strategy"


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


def gate_status(
    workspace: Workspace,
    object_name: str | None,
    record: Mapping[str, Any],
    *,
    limit: float,
    amount_field: str = "amount",
    owner_field: str = "owner",
) -> dict[str, Any]:
    """Whether the gate is open for ``record``, and why."""
    amount = record.get(amount_field) or 0
    if float(amount) <= float(limit):
        return {"open": True, "reason": "below_limit", "amount": amount, "limit": limit}
    owner = record.get(owner_field)
    a = annotations
    with workspace.engine.connect() as conn:
        found = conn.execute(
            sa.select(a.c.id).where(
                a.c.object_name == object_name,
                a.c.record_id == record.get("id"),
                a.c.author_id == owner,
                a.c.kind == STRATEGY,
            )
        ).first()
    if found:
        return {"open": True, "reason": "annotated", "annotation_id": found[0], "amount": amount}
    return {"open": False, "reason": "owner_annotation_missing", "amount": amount, "limit": limit}


def check_send_allowed(workspace: Workspace, object_name: str, record: Mapping[str, Any]) -> None:
    status = gate_status(
        workspace, object_name, record, limit=get_flow_settings().verification_amount
    )
    if not status["open"]:
        raise VerificationRequired(
            f"{object_name} {record.get('id')} is above ¥{status['limit']:,.0f}: its owner must "
            "attach a strategy annotation before it is sent",
            details={"field": "status", **status},
        )
