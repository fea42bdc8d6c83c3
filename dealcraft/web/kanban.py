"""A kanban for any object with a choice field: one column per choice, a card per record.

Dropping a card on a column (or choosing the column from the card's menu, which works on a
phone) updates the field through the record service with the card's version, so history,
audit and events follow and a stale card is refused rather than silently overwritten.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from nicegui import ui

from dealcraft.errors import DealcraftError, VersionConflict
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.web.fields import ReferenceTitles, choice_options, display, record_title
from dealcraft.web.session import PageContext
from dealcraft.web.shell import frame, not_found, require_context, to_login
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

CARDS_PER_COLUMN = 50
# Fields shown on a card besides its title, when the object has them.
CARD_FIELDS = ("account", "amount", "owner", "close_date")
DEFAULT_GROUPING = {"opportunity": "stage", "lead": "status", "task": "status"}


def choice_fields(obj: ObjectDef) -> list[FieldDef]:
    return [f for f in obj.active_fields if f.type == "choice"]


def kanban_page(ctx: PageContext, obj: ObjectDef, group: FieldDef) -> None:
    records = ctx.workspace.records
    options = choice_options(group, ctx.language)
    dragged: dict[str, Any] = {}

    with ui.row().classes("w-full items-center"):
        ui.label(
            ctx.t("kanban.title", object=obj.label(ctx.language), field=group.label(ctx.language))
        ).classes("text-h5")
        ui.space()
        fields = choice_fields(obj)
        if len(fields) > 1:
            ui.select(
                {f.name: f.label(ctx.language) for f in fields},
                label=ctx.t("kanban.field"),
                value=group.name,
                on_change=lambda e: ui.navigate.to(f"/kanban/{obj.name}?field={e.value}"),
            ).classes("w-48")

    def move(record: dict[str, Any], value: str) -> None:
        if record.get(group.name) == value:
            return
        try:
            records.update(
                ctx.principal,
                obj.name,
                record["id"],
                {group.name: value},
                expected_version=record["version"],
            )
        except VersionConflict as e:
            ui.notify(
                ctx.t(
                    "form.conflict",
                    expected=e.details.get("expected"),
                    current=e.details.get("current"),
                ),
                type="warning",
            )
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
        else:
            ui.notify(ctx.t("kanban.moved", value=options.get(value, value)), type="positive")
        board.refresh()

    def drop(value: str) -> None:
        record = dragged.pop("record", None)
        if record is not None:
            move(record, value)

    @ui.refreshable
    def board() -> None:
        columns: dict[str, list[dict[str, Any]]] = {}
        for value in options:
            page = records.list(
                ctx.principal,
                obj.name,
                where=f"{group.name} = :value",
                params={"value": value},
                sort="-updated_at",
                limit=CARDS_PER_COLUMN,
            )
            columns[value] = page.data
        refs = ReferenceTitles(records, ctx.principal).load(
            obj, [r for rows in columns.values() for r in rows]
        )
        shown = [obj.field(name) for name in CARD_FIELDS if obj.field(name) is not None]
        with ui.row().classes("w-full flex-nowrap overflow-x-auto items-start gap-2"):
            for value, label in options.items():
                column = ui.column().classes("bg-grey-2 rounded p-2 gap-2 min-w-[220px] w-[220px]")
                column.props(f"data-column={value}")
                column.on("dragover.prevent", lambda: None)
                column.on("drop", lambda v=value: drop(v))
                with column:
                    ui.label(f"{label} ({len(columns[value])})").classes("text-subtitle2")
                    for record in columns[value]:
                        _card(ctx, obj, record, shown, refs, options, dragged, move)

    board()


def _card(ctx, obj, record, shown, refs, options, dragged, move) -> None:
    card = ui.card().classes("w-full p-2 cursor-move").props(f"draggable data-card={record['id']}")
    card.on("dragstart", lambda r=record: dragged.update(record=r))
    with card:
        with ui.row().classes("w-full items-center no-wrap"):
            ui.link(record_title(obj, record), f"/o/{obj.name}/{record['id']}").classes(
                "font-medium"
            )
            ui.space()
            menu_button = ui.button(icon="more_vert").props(
                f"flat dense size=sm data-move={record['id']}"
            )
            with menu_button, ui.menu():
                ui.label(ctx.t("kanban.move_to")).classes("px-4 py-1 text-xs text-grey-7")
                for value, label in options.items():
                    ui.menu_item(label, on_click=lambda v=value, r=record: move(r, v)).mark(
                        f"move-{record['id']}-{value}"
                    )
        for f in shown:
            text = display(f, record, ctx.language, refs)
            if text:
                ui.label(text).classes("text-xs text-grey-8")


def register(workspace: Workspace) -> None:
    @ui.page("/kanban/{object_name}")
    def kanban(request: Request, object_name: str, field: str = ""):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        obj = workspace.registry.view().objects.get(object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            try:
                if obj is not None:
                    workspace.policy.check_operation(ctx.principal, obj, "read")
            except DealcraftError:
                obj = None
            if obj is None:
                not_found(ctx)
                return
            fields = choice_fields(obj)
            wanted = field or DEFAULT_GROUPING.get(obj.name, "")
            group = next((f for f in fields if f.name == wanted), fields[0] if fields else None)
            if group is None:
                ui.label(ctx.t("kanban.no_choice", object=obj.label(ctx.language)))
                return
            kanban_page(ctx, obj, group)
