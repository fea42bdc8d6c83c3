"""Approval: a person (or anyone with a role) approves or rejects; escalation on timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dealcraft.db.tx import write_transaction
from dealcraft.flows import templates
from dealcraft.flows.effects import Attempt
from dealcraft.flows.errors import PermanentStepError
from dealcraft.flows.registry import (
    END,
    CheckContext,
    Spec,
    StepResult,
    StepType,
    Wait,
    parse_duration,
    register_step,
)
from dealcraft.flows.steps.notify import send_once
from dealcraft.flows.tables import approvals
from dealcraft.schema.service import utcnow

APPROVAL_EVENT = "approval.decided"


def approval_key(run_id: int, seq: int) -> str:
    return f"{run_id}.{seq}"


@register_step
class Approval(StepType):
    """Wait for ``approver`` (a username, or ``role:<role>``) to decide. After ``timeout``
    the request moves to ``escalate_to``; a rejection (or a second timeout) goes to
    ``on_reject`` (default: end)."""

    type = "approval"
    label = "Require an approval"
    pauses = True
    fields = {
        "approver": Spec("template", required=True),
        "title": Spec("template"),
        "timeout": Spec("duration"),
        "escalate_to": Spec("user"),
        "on_reject": Spec("step"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        approver = step.get("approver")
        if isinstance(approver, str) and not approver.startswith("role:"):
            if not templates.is_template(approver) and not ctx.user_exists(approver):
                ctx.error(f"{location}.approver", "unknown_user", f"no user named {approver!r}")
        templates.check(approver, f"{location}.approver", ctx)
        if step.get("escalate_to") and not step.get("timeout"):
            ctx.error(f"{location}.timeout", "required", "escalate_to needs a timeout")

    def branches(self, step: Mapping[str, Any]) -> list[str]:
        return [step["on_reject"]] if step.get("on_reject") else []

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        timeout = parse_duration(config["timeout"]) if config.get("timeout") else None
        key = approval_key(ctx.run_id, ctx.seq)
        title = str(ctx.render(config.get("title") or f"Approval for {ctx.definition['name']}"))

        # Woken by a decision: follow it.
        if ctx.wake and ctx.wake.get("reason") == "event":
            decision = ctx.wake["event"]["payload"]
            if decision.get("approved"):
                return StepResult({"approved": True, "by": decision.get("by")})
            return StepResult(
                {"approved": False, "by": decision.get("by")}, next=config.get("on_reject", END)
            )

        # Woken by the timeout: escalate once, then give up as a rejection.
        if ctx.wake and ctx.wake.get("reason") == "time":
            row = self._row(ctx)
            if config.get("escalate_to") and row is not None and not row["escalated"]:
                user = ctx.workspace.identity.find_user(config["escalate_to"])
                if user is None:
                    raise PermanentStepError(
                        f"no user named {config['escalate_to']!r}", code="unknown_user"
                    )

                def escalate(attempt: Attempt) -> dict[str, Any]:
                    with write_transaction(ctx.workspace.engine) as conn:
                        conn.execute(
                            approvals.update()
                            .where(approvals.c.id == row["id"])
                            .values(approver_user_id=user["id"], approver_role=None, escalated=True)
                        )
                    return {"escalated_to": user["id"]}

                ctx.effect("escalate", "approval.escalate", {"to": user["id"]}, escalate)
                send_once(ctx, "notify_escalated", "inbox", {"user": user["id"], "title": title})
                ctx.log("approval escalated", to=config["escalate_to"])
                return StepResult(
                    wait=Wait(
                        until=ctx.now + timeout if timeout else None, event=APPROVAL_EVENT, key=key
                    )
                )
            self._close(ctx, "expired")
            return StepResult(
                {"approved": False, "expired": True}, next=config.get("on_reject", END)
            )

        # First visit: open the request and tell the approver.
        approver = str(ctx.render(config["approver"]))
        role = approver[5:] if approver.startswith("role:") else None
        user_id = None
        if role is None:
            user = (
                {"id": int(approver)}
                if approver.isdigit()
                else ctx.workspace.identity.find_user(approver)
            )
            if user is None:
                raise PermanentStepError(f"no user named {approver!r}", code="unknown_user")
            user_id = int(user["id"])

        def request(attempt: Attempt) -> dict[str, Any]:
            with write_transaction(ctx.workspace.engine) as conn:
                existing = conn.execute(
                    sa.select(approvals.c.id).where(
                        approvals.c.run_id == ctx.run_id, approvals.c.seq == ctx.seq
                    )
                ).scalar()
                if existing is None:
                    existing = conn.execute(
                        approvals.insert().values(
                            run_id=ctx.run_id,
                            seq=ctx.seq,
                            step_id=ctx.step_id,
                            approver_user_id=user_id,
                            approver_role=role,
                            status="pending",
                            escalated=False,
                            created_at=utcnow(),
                        )
                    ).inserted_primary_key[0]
            return {"approval_id": existing}

        opened = ctx.effect("request", "approval.request", {"approver": approver}, request)
        if user_id is not None:
            send_once(ctx, "notify", "inbox", {"user": user_id, "title": title})
        return StepResult(
            opened,
            wait=Wait(until=ctx.now + timeout if timeout else None, event=APPROVAL_EVENT, key=key),
        )

    @staticmethod
    def _row(ctx: Any) -> dict[str, Any] | None:
        with ctx.workspace.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(approvals).where(
                        approvals.c.run_id == ctx.run_id, approvals.c.seq == ctx.seq
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    @staticmethod
    def _close(ctx: Any, status: str) -> None:
        with write_transaction(ctx.workspace.engine) as conn:
            conn.execute(
                approvals.update()
                .where(
                    approvals.c.run_id == ctx.run_id,
                    approvals.c.seq == ctx.seq,
                    approvals.c.status == "pending",
                )
                .values(status=status, decided_at=utcnow())
            )
