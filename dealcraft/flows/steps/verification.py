"""The human verification gate as a step: a large proposal waits for its owner's own note."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dealcraft.flows.registry import CheckContext, Spec, StepResult, StepType, Wait, register_step
from dealcraft.flows.verification import ANNOTATION_EVENT, gate_status


@register_step
class VerificationGate(StepType):
    """Above ``limit`` (default: DEALCRAFT_FLOW_VERIFICATION_AMOUNT, ¥500,000) the run waits
    until the record's owner has added a strategy annotation of their own."""

    type = "verification_gate"
    label = "Human verification"
    pauses = True
    fields = {"amount_field": Spec("field"), "limit": Spec("number"), "owner_field": Spec("field")}

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        if ctx.object_name is None:
            ctx.error(location, "no_record", "the gate needs a trigger that is about a record")
            return
        obj = ctx.view.objects[ctx.object_name]
        for name, default, types in (
            ("amount_field", "amount", ("money", "number")),
            ("owner_field", "owner", ("user",)),
        ):
            f = obj.field(step.get(name) or default)
            if f is None or f.type not in types:
                ctx.error(
                    f"{location}.{name}",
                    "wrong_field_type",
                    f"{obj.name}.{step.get(name) or default} must be a {' or '.join(types)} field",
                )

    def run(self, ctx: Any) -> StepResult:
        status = gate_status(
            ctx.workspace,
            ctx.object_name,
            ctx.record or {},
            limit=ctx.config.get("limit", ctx.settings.verification_amount),
            amount_field=ctx.config.get("amount_field") or "amount",
            owner_field=ctx.config.get("owner_field") or "owner",
        )
        if status["open"]:
            return StepResult(status)
        ctx.log("waiting for the owner's strategy annotation", **status)
        return StepResult(status, wait=Wait(event=ANNOTATION_EVENT, key=str(ctx.record_id)))
