"""Generate a proposal deck from the run's record and attach it to a file field."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.documents.decks import build_deck
from dealcraft.flows import templates
from dealcraft.flows.effects import Attempt
from dealcraft.flows.registry import CheckContext, Spec, StepResult, StepType, register_step
from dealcraft.schema.service import utcnow

PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


@register_step
class GenerateDeck(StepType):
    """``slides`` is a list of ``{title, bullets}`` with placeholders; ``attach_to`` names a
    file field of the run's record that will hold the deck."""

    type = "generate_deck"
    label = "Generate a proposal deck"
    fields = {
        "title": Spec("template", required=True),
        "subtitle": Spec("template"),
        "slides": Spec("list"),
        "template": Spec("text"),
        "file_name": Spec("template"),
        "attach_to": Spec("field"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        for name in ("title", "subtitle", "slides", "file_name"):
            templates.check(step.get(name), f"{location}.{name}", ctx)
        attach = step.get("attach_to")
        if attach is not None:
            obj = ctx.view.objects.get(ctx.object_name) if ctx.object_name else None
            f = obj.field(attach) if obj else None
            if f is None or f.type != "file":
                ctx.error(
                    f"{location}.attach_to",
                    "wrong_field_type",
                    f"attach_to must name a file field of {ctx.object_name}, got {attach!r}",
                    attach,
                )

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        title = str(ctx.render(config["title"]))
        name = str(ctx.render(config.get("file_name") or f"{title}.pptx"))

        def perform(attempt: Attempt) -> dict[str, Any]:
            # The file id comes from the effect key, so a repeat writes the same file.
            file_id = str(uuid.uuid5(uuid.NAMESPACE_URL, attempt.key))
            data = build_deck(
                title,
                str(ctx.render(config.get("subtitle") or "")),
                ctx.render(config.get("slides") or []),
                Path(config["template"]) if config.get("template") else None,
            )
            target = ctx.workspace.files_dir / file_id
            target.write_bytes(data)
            with write_transaction(ctx.workspace.engine) as conn:
                exists = conn.execute(
                    sa.select(system.files.c.id).where(system.files.c.id == file_id)
                ).scalar()
                if exists is None:
                    conn.execute(
                        system.files.insert().values(
                            id=file_id,
                            name=name[:255],
                            content_type=PPTX,
                            size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(),
                            created_by=ctx.principal.user_id,
                            created_at=utcnow(),
                        )
                    )
            return {"file_id": file_id, "name": name, "size": len(data)}

        output = ctx.effect("deck", "document.deck", {"title": title}, perform)
        if config.get("attach_to") and ctx.record_id is not None:

            def attach(attempt: Attempt) -> dict[str, Any]:
                record = ctx.workspace.records.update(
                    ctx.principal,
                    ctx.object_name,
                    ctx.record_id,
                    {config["attach_to"]: output["file_id"]},
                )
                return {"version": record["version"]}

            ctx.effect("attach", "record.update", {"field": config["attach_to"]}, attach)
        return StepResult(output)
