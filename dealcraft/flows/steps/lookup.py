"""Find a record: read one record into the run, so later steps can use its fields
(``{{steps.<id>.<field>}}``), e.g. a lead's assignee, then that user's team and its lead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dealcraft.errors import DealcraftError
from dealcraft.flows import templates
from dealcraft.flows.registry import CheckContext, Spec, StepResult, StepType, register_step


@register_step
class FindRecord(StepType):
    """``record_id`` (a template) names the record; when it renders empty, the first record
    matching ``where`` (an expression on ``object``, with ``params`` as ``:name`` values)
    is taken. The output is the record's fields and ``found``; a record the service account
    cannot see is not found. Reading has no side effect, so there is nothing to do once."""

    type = "find_record"
    label = "Find a record"
    fields = {
        "object": Spec("object", required=True),
        "record_id": Spec("template"),
        "where": Spec("text"),
        "params": Spec("mapping"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        if step.get("record_id") is None and not step.get("where"):
            ctx.error(f"{location}.record_id", "required", "give record_id, where, or both")
        templates.check(step.get("record_id"), f"{location}.record_id", ctx)
        templates.check(step.get("params"), f"{location}.params", ctx)

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        object_name = config["object"]
        records = ctx.workspace.records
        record_id = ctx.render(config["record_id"]) if config.get("record_id") else None
        record: dict[str, Any] | None = None
        if record_id not in (None, ""):
            try:
                record = records.get(ctx.principal, object_name, int(record_id))
            except DealcraftError:  # missing, deleted or out of the account's scope
                record = None
        elif config.get("where"):
            params = ctx.render(config.get("params") or {})
            page = records.list(
                ctx.principal, object_name, where=config["where"], params=params, limit=1
            )
            record = page.data[0] if page.data else None
        if record is None:
            ctx.log(f"no {object_name} found", record_id=record_id)
            return StepResult({"found": False})
        return StepResult({**record, "found": True})
