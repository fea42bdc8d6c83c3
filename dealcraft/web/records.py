"""Record views generated from metadata: the list, the record page and the forms.

Nothing here knows a particular object; every page reads the current schema view, so a field
added in the builder shows up on the next page load. All reads and writes go through the
record service with the page's principal.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from nicegui import ui

from dealcraft.errors import (
    DealcraftError,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from dealcraft.flows.service import FlowService
from dealcraft.schema.layout import layout_of
from dealcraft.schema.model import FieldDef, ObjectDef, pick_label
from dealcraft.schema.types import handler_for
from dealcraft.web.fields import (
    REFERENCE_TYPES,
    FieldInput,
    InputContext,
    ReferenceTitles,
    display,
    editable,
    field_input,
    record_title,
    reference_target,
    title_field,
)
from dealcraft.web.flows import flow_label
from dealcraft.web.i18n import STRINGS, add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import (
    error_banner,
    frame,
    not_found,
    page_policy,
    require_context,
    to_login,
)
from dealcraft.web.tables import RecordTable
from dealcraft.web.timeline import timeline_card
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

add_strings(
    {
        "record.flows": {"en": "Run a flow on this record:", "zh-CN": "对此记录运行流程："},
        "record.flow_started": {
            "en": "Flow started (run {run}); it continues in the background.",
            "zh-CN": "流程已启动（运行 {run}），将在后台继续。",
        },
    }
)

# Lists show this many fields until the user chooses columns (the table scrolls sideways).
LIST_COLUMNS = 12
RELATED_LIMIT = 10
# A new record starts owned by its creator and in their region (the usual row scope of a
# rep), unless they choose otherwise.
OWNER_FIELDS = frozenset({"owner", "assignee", "assigned_to"})
# Types that make poor list columns.
NOT_IN_LISTS = frozenset({"long_text", "file"})


def list_fields(obj: ObjectDef) -> list[FieldDef]:
    """The columns of a list: the title field first, then fields in layout order."""
    fields = sorted(
        (f for f in obj.active_fields if f.type not in NOT_IN_LISTS), key=lambda f: f.position
    )
    title = title_field(obj)
    fields.sort(key=lambda f: f.name != title)
    return fields[:LIST_COLUMNS]


def object_or_none(ctx: PageContext, name: str) -> ObjectDef | None:
    obj = ctx.workspace.registry.view().objects.get(name)
    if obj is None:
        return None
    try:
        ctx.workspace.policy.check_operation(ctx.principal, obj, "read")
    except DealcraftError:
        return None
    return obj


def expression_error(error: DealcraftError, language: str) -> None:
    """A bad expression with a caret under the offending token."""
    details = error.details or {}
    with (
        ui.card()
        .classes("w-full bg-red-1")
        .props("flat bordered data-testid=filter-error")
        .mark("filter-error")
    ):
        ui.label(STRINGS["filter.error"].get(language, STRINGS["filter.error"]["en"]))
        ui.label(error.message).classes("text-negative")
        expression, position = details.get("expression"), details.get("position")
        if isinstance(expression, str) and isinstance(position, int):
            token = details.get("token") or ""
            marker = " " * position + "^" * max(1, len(str(token)))
            ui.label(f"{expression}\n{marker}").classes("font-mono whitespace-pre text-sm")


# Tables --------------------------------------------------------------------------------------
def render_rows(
    ctx: PageContext,
    obj: ObjectDef,
    rows: list[dict[str, Any]],
    fields: list[FieldDef],
) -> None:
    """A plain table of records whose first column links to the record page."""
    refs = ReferenceTitles(ctx.workspace.records, ctx.principal).load(obj, rows)
    RecordTable(obj, rows, fields, language=ctx.language, refs=refs)


# Record page ---------------------------------------------------------------------------------
def related_fields(ctx: PageContext, obj: ObjectDef) -> list[tuple[ObjectDef, FieldDef]]:
    """Reference fields of readable objects that point at ``obj`` (an account's contacts...)."""
    found = []
    for other in ctx.workspace.registry.view().objects.values():
        for f in other.active_fields:
            if f.type in REFERENCE_TYPES and reference_target(f) == obj.name:
                found.append((other, f))
    return found


def _flow_buttons(ctx: PageContext, obj: ObjectDef, record_id: int) -> None:
    """A button per enabled flow with a manual trigger on this object ("run on this record").

    The run acts as the flow's own service account; starting it needs only that the person
    can see the record, which ``FlowService.start`` checks again.
    """
    service = FlowService(ctx.workspace)
    manual = service.manual_flows(obj.name)
    if not manual:
        return

    def start(name: str) -> None:
        try:
            run_id = service.start(name, ctx.principal, record_id=record_id)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        ui.notify(ctx.t("record.flow_started", run=run_id), type="positive")

    with ui.row().classes("items-center gap-2").props("data-testid=record-flows"):
        ui.label(ctx.t("record.flows")).classes("text-xs text-grey-7")
        for flow in manual:
            ui.button(
                flow_label(flow, ctx.language),
                icon="bolt",
                on_click=lambda n=flow["name"]: start(n),
            ).props(f"outline dense data-testid=run-flow-{flow['name']}").mark(
                f"run-flow-{flow['name']}"
            )


def record_page(ctx: PageContext, obj: ObjectDef, record_id: int) -> None:
    records = ctx.workspace.records
    record = records.get(ctx.principal, obj.name, record_id)
    refs = ReferenceTitles(records, ctx.principal).load(obj, [record])

    with ui.row().classes("w-full items-center"):
        ui.link(obj.label(ctx.language), f"/o/{obj.name}").classes("text-grey-7")
        ui.label("/").classes("text-grey-7")
        ui.label(record_title(obj, record)).classes("text-h5").props(
            "data-testid=record-title"
        ).mark("record-title")
        ui.space()
        ui.button(
            ctx.t("record.edit"),
            icon="edit",
            on_click=lambda: ui.navigate.to(f"/o/{obj.name}/{record_id}/edit"),
        ).props("data-testid=edit-record").mark("edit-record")
        ui.button(ctx.t("record.delete"), icon="delete", on_click=lambda: confirm.open()).props(
            "flat color=negative"
        )
    _flow_buttons(ctx, obj, record_id)

    with ui.dialog() as confirm, ui.card():
        ui.label(ctx.t("record.delete") + " " + record_title(obj, record) + "?")

        def delete() -> None:
            try:
                records.delete(
                    ctx.principal, obj.name, record_id, expected_version=record["version"]
                )
            except DealcraftError as e:
                ui.notify(e.message, type="negative")
                return
            ui.navigate.to(f"/o/{obj.name}")

        with ui.row():
            ui.button(ctx.t("form.cancel"), on_click=confirm.close).props("flat")
            ui.button(ctx.t("record.delete"), on_click=delete).props("color=negative")

    # Fields, grouped by the object's layout; a field the principal may not read is left
    # out whatever the layout says.
    policy = page_policy(ctx)
    view = ctx.workspace.registry.view()
    layout = layout_of(view.objects, obj)
    for i, section in enumerate(layout.sections):
        shown = [
            f
            for f in (obj.field(name) for name in section.fields)
            if f is not None and policy.readable(ctx.principal, f)
        ]
        if not shown:
            continue
        with (
            ui.card()
            .classes("w-full")
            .props(f"data-section={section.key}")
            .mark(f"section-{section.key}")
        ):
            ui.label(section.label(ctx.language)).classes("text-subtitle1")
            with ui.grid(columns="repeat(auto-fill, minmax(260px, 1fr))").classes("w-full gap-3"):
                for f in shown:
                    with ui.column().classes("gap-0").props(f"data-field={f.name}"):
                        ui.label(f.label(ctx.language)).classes("text-xs text-grey-7")
                        text = display(f, record, ctx.language, refs)
                        if f.type in REFERENCE_TYPES and record.get(f.name):
                            ui.link(text, f"/o/{reference_target(f)}/{record[f.name]}")
                        else:
                            ui.label(text or "—").classes("whitespace-pre-wrap")
            if i == len(layout.sections) - 1:
                ui.label(ctx.t("record.version", version=record["version"])).classes(
                    "text-xs text-grey-6"
                )

    # Related lists the layout shows
    hidden_lists = {r.key for r in layout.related_lists if not r.shown}
    related = related_fields(ctx, obj)
    for other, f in related:
        if f"{other.name}.{f.name}" in hidden_lists:
            continue
        try:
            page = records.list(
                ctx.principal,
                other.name,
                where=f"{f.name} = {int(record_id)}",
                limit=RELATED_LIMIT,
                sort="-updated_at",
            )
        except DealcraftError:
            continue  # an object the principal may not read has no related list
        if not page.data and other.name == obj.name:
            continue
        with ui.card().classes("w-full").props(f"data-related={other.name}"):
            with ui.row().classes("w-full items-center"):
                title = other.label(ctx.language)
                if sum(1 for o, _ in related if o.name == other.name) > 1:
                    title += f" ({f.label(ctx.language)})"
                ui.label(title).classes("text-subtitle1")
                ui.space()
                ui.button(
                    icon="add",
                    on_click=lambda o=other, f=f: ui.navigate.to(
                        f"/o/{o.name}/new?{f.name}={record_id}"
                    ),
                ).props("flat dense")
            if page.data:
                columns = [c for c in list_fields(other) if c.name != f.name][:4]
                render_rows(ctx, other, page.data, columns)
            else:
                ui.label(ctx.t("list.empty")).classes("text-grey-6 text-sm")

    timeline_card(ctx, obj, record_id)


# Forms ---------------------------------------------------------------------------------------
def message_for(ctx: PageContext, f: FieldDef | None, code: str, fallback: str) -> str:
    """A validation message in the page's language, from the error code."""
    key = f"code.{code}"
    if f is not None and key in STRINGS:
        return ctx.t(key, field=f.label(ctx.language))
    return fallback


def form_page(
    ctx: PageContext, obj: ObjectDef, record_id: int | None, prefill: dict[str, str]
) -> None:
    records = ctx.workspace.records
    record = records.get(ctx.principal, obj.name, record_id) if record_id is not None else {}
    heading = "form.edit" if record_id is not None else "form.new"
    ui.label(ctx.t(heading, object=obj.label(ctx.language))).classes("text-h5")
    banner = ui.column().classes("w-full")
    inputs: dict[str, FieldInput] = {}
    input_ctx = InputContext(records, ctx.principal, ctx.language)

    # The inputs, in the sections of the record page's layout (titled once one is saved); a
    # field the principal may not read has no input.
    policy = page_policy(ctx)
    layout = layout_of(ctx.workspace.registry.view().objects, obj)
    for section in layout.sections:
        shown = [
            f
            for f in (obj.field(name) for name in section.fields)
            if f is not None and editable(f) and policy.readable(ctx.principal, f)
        ]
        if not shown:
            continue
        card = ui.card().classes("w-full").props(f"data-form-section={section.key}")
        with card.mark(f"form-section-{section.key}"):
            if layout.saved:
                ui.label(section.label(ctx.language)).classes("text-subtitle1")
            with ui.grid(columns="repeat(auto-fill, minmax(280px, 1fr))").classes("w-full gap-3"):
                for f in shown:
                    inputs[f.name] = _input_for(ctx, f, record, record_id, prefill, input_ctx)

    def collect() -> dict[str, Any]:
        data = {}
        for name, item in inputs.items():
            value = item.value()
            if record_id is None:
                if value not in (None, "", []):
                    data[name] = value
            elif value != item.initial:
                data[name] = value
        return data

    def owner_of(key: str) -> FieldInput | None:
        name = key.split(".")[0]
        if name in inputs:
            return inputs[name]
        f = ctx.workspace.registry.view().field_for_key(obj.name, name)
        return inputs.get(f.name) if f is not None else None

    def save() -> None:
        for item in inputs.values():
            item.show_error(None)
        banner.clear()
        data = collect()
        try:
            if record_id is None:
                saved = records.create(ctx.principal, obj.name, data)
            else:
                saved = records.update(
                    ctx.principal, obj.name, record_id, data, expected_version=record["version"]
                )
        except ValidationFailed as e:
            unplaced = []
            for item in e.details.get("errors", []):
                target = owner_of(item["field"])
                text = message_for(
                    ctx, target.field if target else None, item["code"], item["message"]
                )
                if target is not None:
                    target.show_error(text)
                else:
                    unplaced.append(text)
            with banner:
                with (
                    ui.card()
                    .classes("w-full bg-red-1")
                    .props("flat data-testid=form-invalid")
                    .mark("form-invalid")
                ):
                    ui.label(ctx.t("form.invalid")).classes("text-negative")
                    for text in unplaced:
                        ui.label(text).classes("text-negative")
            return
        except VersionConflict as e:
            with banner:
                with (
                    ui.card()
                    .classes("w-full bg-orange-1")
                    .props("flat data-testid=conflict")
                    .mark("conflict")
                ):
                    ui.label(
                        ctx.t(
                            "form.conflict",
                            expected=e.details.get("expected"),
                            current=e.details.get("current"),
                        )
                    )
                    ui.button(ctx.t("form.reload"), on_click=ui.navigate.reload).props("flat")
            return
        except DealcraftError as e:
            with banner:
                error_banner(e, ctx.language)
            return
        ui.notify(ctx.t("form.saved"), type="positive")
        ui.navigate.to(f"/o/{obj.name}/{saved['id']}")

    with ui.row():
        ui.button(ctx.t("form.save"), icon="save", on_click=save).props("data-testid=save").mark(
            "save"
        )
        back = f"/o/{obj.name}/{record_id}" if record_id is not None else f"/o/{obj.name}"
        ui.button(ctx.t("form.cancel"), on_click=lambda: ui.navigate.to(back)).props("flat")


def _input_for(
    ctx: PageContext,
    f: FieldDef,
    record: dict[str, Any],
    record_id: int | None,
    prefill: dict[str, str],
    input_ctx: InputContext,
) -> FieldInput:
    """A field's input with its current value, or a new record's starting value."""
    value = record.get(f.name)
    if record_id is None and f.name in prefill:
        value = _prefill_value(f, prefill[f.name])
    elif record_id is None and f.type == "user" and f.name in OWNER_FIELDS:
        value = ctx.principal.user_id
    elif record_id is None and f.type == "choice" and f.name == "region":
        value = ctx.principal.region
    elif record_id is None:
        value = handler_for(f.type).default(f).get(f.name)
    item = field_input(f, value, input_ctx)
    help_text = f.options.get("help")
    if isinstance(help_text, dict) and help_text:
        item.element.props["hint"] = pick_label(help_text, ctx.language, "")
    return item


def _prefill_value(f: FieldDef, text: str) -> Any:
    if f.type in REFERENCE_TYPES or f.type in ("number",):
        return int(text) if text.isdigit() else None
    return text


# Routes --------------------------------------------------------------------------------------
def register(workspace: Workspace) -> None:
    @ui.page("/o/{object_name}/new")
    def object_new(request: Request, object_name: str):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        obj = object_or_none(ctx, object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            if obj is None:
                not_found(ctx)
                return
            form_page(ctx, obj, None, dict(request.query_params))

    @ui.page("/o/{object_name}/{record_id:int}")
    def object_record(request: Request, object_name: str, record_id: int):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        obj = object_or_none(ctx, object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            try:
                if obj is None:
                    raise NotFound("no such object")
                record_page(ctx, obj, record_id)
            except NotFound:
                not_found(ctx)

    @ui.page("/o/{object_name}/{record_id:int}/edit")
    def object_edit(request: Request, object_name: str, record_id: int):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        obj = object_or_none(ctx, object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            try:
                if obj is None:
                    raise NotFound("no such object")
                form_page(ctx, obj, record_id, {})
            except NotFound:
                not_found(ctx)
