"""The list page of any object: filter, sort, pages, columns, saved views, bulk edit, export.

Saved views live in the database (``dealcraft.saved_views``): a user's own, and those their
teammates shared with the team. A view holds only a filter, a sort and column names; the
filter runs through the viewer's own scope, and a column the viewer may not read (archived,
or hidden by a policy) is dropped when the view is applied.

Bulk edit applies one field's value to the selected rows, one ``RecordService.update`` per
record with the version the page showed, and reports each refusal with its reason.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from nicegui import run, ui

from dealcraft.access.policies import PolicyEngine
from dealcraft.errors import DealcraftError, InvalidInput
from dealcraft.records.bulk_update import BulkUpdateResult, Target, update_each
from dealcraft.records.transfer import export_file
from dealcraft.saved_views.service import SavedViews
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.web.fields import (
    FieldInput,
    InputContext,
    ReferenceTitles,
    editable,
    field_input,
    record_title,
)
from dealcraft.web.i18n import add_strings
from dealcraft.web.records import NOT_IN_LISTS, expression_error, list_fields
from dealcraft.web.session import PageContext
from dealcraft.web.shell import (
    error_banner,
    frame,
    not_found,
    page_policy,
    readable_objects,
    require_context,
    to_login,
)
from dealcraft.web.tables import RecordTable
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
DEFAULT_SORT = "-updated_at"
EXPORT_FORMATS = ("csv", "xlsx")
# A bulk edit of more rows than this shows a progress bar; records are sent in chunks.
PROGRESS_OVER = 20
BULK_CHUNK = 10

add_strings(
    {
        "list.views.mine": {"en": "Mine", "zh-CN": "我的"},
        "list.views.team": {"en": "Team", "zh-CN": "团队"},
        "list.share_team": {"en": "Share with my team", "zh-CN": "与我的团队共享"},
        "list.view_deleted": {"en": "View “{name}” deleted", "zh-CN": "视图“{name}”已删除"},
        "list.select_page": {"en": "Select this page", "zh-CN": "选择本页"},
        "list.select_row": {"en": "Select", "zh-CN": "选择"},
        "list.bulk_edit": {"en": "Edit selected ({count})", "zh-CN": "编辑所选（{count}）"},
        "list.bulk.title": {
            "en": "Change {count} records",
            "zh-CN": "修改 {count} 条记录",
        },
        "list.bulk.field": {"en": "Field", "zh-CN": "字段"},
        "list.bulk.apply": {"en": "Apply to selected", "zh-CN": "应用到所选"},
        "list.bulk.no_field": {"en": "Choose a field first", "zh-CN": "请先选择字段"},
        "list.bulk.no_fields": {
            "en": "You may not change any field of these records.",
            "zh-CN": "你无权修改这些记录的任何字段。",
        },
        "list.bulk.result": {
            "en": "{changed} changed, {unchanged} unchanged, {refused} refused",
            "zh-CN": "已修改 {changed} 条，未变 {unchanged} 条，被拒绝 {refused} 条",
        },
        "list.bulk.close": {"en": "Close", "zh-CN": "关闭"},
    }
)


@dataclass
class ListState:
    where: str = ""
    sort: str = ""
    columns: list[str] = field(default_factory=list)
    limit: int = PAGE_SIZE
    cursors: list[str | None] = field(default_factory=lambda: [None])
    # Rows chosen for a bulk edit: id -> the version the page showed.
    selected: dict[int, int] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)

    @property
    def cursor(self) -> str | None:
        return self.cursors[-1]


def column_options(ctx: PageContext, obj: ObjectDef, policy: PolicyEngine) -> dict[str, str]:
    """Field name -> label of every field the principal may read as a list column."""
    fields = sorted(
        (
            f
            for f in obj.active_fields
            if f.type not in NOT_IN_LISTS and policy.readable(ctx.principal, f)
        ),
        key=lambda f: f.position,
    )
    return {f.name: f.label(ctx.language) for f in fields}


def chosen_fields(obj: ObjectDef, names: list[str]) -> list[FieldDef]:
    """The fields named (unknown and archived names dropped), or the default columns."""
    fields = [f for n in names if (f := obj.field(n)) is not None and not f.archived]
    return fields or list_fields(obj)


def bulk_fields(ctx: PageContext, obj: ObjectDef) -> list[FieldDef]:
    """Fields a bulk edit may set: stored, editable on the form, writable by the principal."""
    policy = page_policy(ctx)
    return [
        f
        for f in sorted(obj.active_fields, key=lambda f: f.position)
        if editable(f) and policy.writable(ctx.principal, f)
    ]


def view_options(ctx: PageContext, views: list[dict[str, Any]]) -> dict[int, str]:
    """View id -> label: my views first, then those shared with my team."""
    mine, team = ctx.t("list.views.mine"), ctx.t("list.views.team")
    return {v["id"]: f"{mine if v['mine'] else team} · {v['name']}" for v in views}


# Export --------------------------------------------------------------------------------------
def export_records(ctx: PageContext, obj: ObjectDef, where: str, kind: str) -> None:
    """Export the filtered records (watermarked and audited) and send the file to the browser."""
    filename = f"{obj.name}-{date.today().isoformat()}.{kind}"
    with tempfile.TemporaryDirectory(prefix="dealcraft-export-") as folder:
        path = Path(folder) / filename
        try:
            count = export_file(
                ctx.workspace.records,
                ctx.principal,
                obj.name,
                path,
                where=where or None,
                format=kind,
                exports=ctx.workspace.exports,
            )
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        content = path.read_bytes()
    ui.download.content(content, filename)
    ui.notify(ctx.t("list.exported", count=count), type="positive")


# Table ---------------------------------------------------------------------------------------
def render_table(
    ctx: PageContext,
    obj: ObjectDef,
    rows: list[dict[str, Any]],
    fields: list[FieldDef],
    state: ListState,
    on_select,
    on_sort,
) -> None:
    """Rows with a selection box each, under a box that selects the whole page.

    The table is one element (see ``RecordTable``); titles of referenced records come in one
    query per referenced object, whatever the number of rows.
    """
    refs = ReferenceTitles(ctx.workspace.records, ctx.principal).load(obj, rows)
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        state.titles[row["id"]] = record_title(obj, row)

    def whole_page() -> bool:
        return all(i in state.selected for i in by_id)

    def select_page(chosen: bool) -> None:
        if chosen != whole_page():
            on_select(rows, chosen)

    def select_one(record_id: int, chosen: bool) -> None:
        row = by_id.get(record_id)
        if row is None:
            return
        on_select([row], chosen)
        # The page's box follows the rows' boxes (its change handler sees nothing to do).
        page_box.value = whole_page()

    page_box = (
        ui.checkbox(
            ctx.t("list.select_page"),
            value=whole_page(),
            on_change=lambda e: select_page(e.value),
        )
        .props("dense data-testid=select-page")
        .mark("select-page")
    )
    RecordTable(
        obj,
        rows,
        fields,
        language=ctx.language,
        refs=refs,
        sort=state.sort,
        selected=state.selected,
        on_select=select_one,
        on_sort=on_sort,
        select_label=ctx.t("list.select_row"),
    )


# Page ----------------------------------------------------------------------------------------
def list_page(
    ctx: PageContext, obj: ObjectDef, state: ListState, policy: PolicyEngine | None = None
) -> None:
    """The list; ``policy`` is the page's policy snapshot when the caller took one."""
    policy = policy or page_policy(ctx)
    records = ctx.workspace.records
    views = SavedViews(ctx.workspace)
    state.sort = state.sort or DEFAULT_SORT

    with ui.row().classes("w-full items-center"):
        ui.label(obj.label(ctx.language)).classes("text-h5")
        ui.space()
        if any(f.type == "choice" for f in obj.active_fields):
            ui.button(
                ctx.t("list.kanban"),
                icon="view_kanban",
                on_click=lambda: ui.navigate.to(f"/kanban/{obj.name}"),
            ).props("flat")
        with (
            ui.button(ctx.t("list.export"), icon="download")
            .props("flat data-testid=export")
            .mark("export")
        ):
            with ui.menu():
                for kind in EXPORT_FORMATS:
                    ui.menu_item(
                        kind.upper(),
                        on_click=lambda k=kind: export_records(ctx, obj, state.where, k),
                    ).props(f"data-testid=export-{kind}").mark(f"export-{kind}")
        ui.button(
            ctx.t("list.import"),
            icon="upload",
            on_click=lambda: ui.navigate.to(f"/o/{obj.name}/import"),
        ).props("flat data-testid=import").mark("import")
        ui.button(
            ctx.t("list.new", object=obj.label(ctx.language)),
            icon="add",
            on_click=lambda: ui.navigate.to(f"/o/{obj.name}/new"),
        ).props("data-testid=new-record").mark("new-record")

    # Filter bar
    with ui.row().classes("w-full items-start gap-2"):
        filter_input = (
            ui.input(ctx.t("list.filter"), value=state.where, placeholder=ctx.t("list.filter.hint"))
            .classes("flex-grow font-mono")
            .props("clearable data-testid=filter")
            .mark("filter")
        )
        ui.button(ctx.t("list.apply"), on_click=lambda: apply()).props(
            "data-testid=apply-filter"
        ).mark("apply-filter")

    def apply() -> None:
        state.where = (filter_input.value or "").strip()
        state.cursors = [None]
        table.refresh()

    filter_input.on("keydown.enter", apply)

    # Columns and saved views
    known: list[dict[str, Any]] = views.list(ctx.principal, obj.name)
    with ui.row().classes("w-full items-center gap-2"):
        options = column_options(ctx, obj, policy)
        column_select = (
            ui.select(
                options,
                multiple=True,
                value=[f.name for f in chosen_fields(obj, state.columns) if f.name in options],
                label=ctx.t("list.columns"),
                on_change=lambda e: choose_columns(e.value),
            )
            .classes("min-w-64")
            .props("dense use-chips data-testid=columns")
            .mark("columns")
        )
        ui.space()
        view_select = (
            ui.select(
                view_options(ctx, known),
                label=ctx.t("list.views"),
                on_change=lambda e: apply_view(e.value),
            )
            .classes("min-w-48")
            .props("dense clearable data-testid=views")
            .mark("views")
        )
        view_name = (
            ui.input(ctx.t("list.view_name"))
            .props("dense data-testid=view-name")
            .mark("view-name")
            .classes("w-40")
        )
        share = ui.switch(ctx.t("list.share_team")).props("dense data-testid=share-view")
        share.mark("share-view").set_enabled(bool(ctx.principal.team_ids))
        ui.button(ctx.t("list.save_view"), icon="bookmark_add", on_click=lambda: keep_view()).props(
            "flat dense data-testid=save-view"
        ).mark("save-view")
        ui.button(icon="delete", on_click=lambda: drop_view()).props(
            "flat dense data-testid=delete-view"
        ).mark("delete-view")

    def choose_columns(names: list[str] | None) -> None:
        state.columns = list(names or [])
        table.refresh()

    def reload_views(value: int | None) -> None:
        known[:] = views.list(ctx.principal, obj.name)
        view_select.set_options(view_options(ctx, known), value=value)

    def apply_view(view_id: int | None) -> None:
        view = next((v for v in known if v["id"] == view_id), None)
        if view is None:
            return
        state.where, state.sort = view["where"] or "", view["sort"] or DEFAULT_SORT
        # A teammate's view may name columns this user may not read: they are dropped.
        state.columns = [n for n in view["columns"] if n in options]
        state.cursors = [None]
        filter_input.value = state.where
        column_select.value = [f.name for f in chosen_fields(obj, state.columns)]
        table.refresh()

    def keep_view() -> None:
        name = (view_name.value or "").strip()
        if not name:
            ui.notify(ctx.t("list.view_name_required"), type="warning")
            return
        spec = {
            "object_name": obj.name,
            "name": name,
            "columns": list(state.columns),
            "where": state.where or None,
            "sort": state.sort if state.sort != DEFAULT_SORT else None,
            "team_id": min(ctx.principal.team_ids) if share.value else None,
        }
        existing = next((v for v in known if v["mine"] and v["name"] == name), None)
        try:
            if existing is not None:
                saved = views.update(ctx.principal, existing["id"], spec)
            else:
                saved = views.create(ctx.principal, spec)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        reload_views(saved["id"])
        ui.notify(ctx.t("list.view_saved", name=name), type="positive")

    def drop_view() -> None:
        view = next((v for v in known if v["id"] == view_select.value), None)
        if view is None:
            return
        try:
            views.delete(ctx.principal, view["id"])
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        reload_views(None)
        ui.notify(ctx.t("list.view_deleted", name=view["name"]), type="positive")

    # Bulk edit
    with ui.row().classes("w-full items-center gap-2"):
        bulk_button = (
            ui.button(
                ctx.t("list.bulk_edit", count=0), icon="edit_note", on_click=lambda: open_bulk()
            )
            .props("flat dense data-testid=bulk-edit")
            .mark("bulk-edit")
        )
        bulk_button.set_enabled(False)

    def on_select(rows: list[dict[str, Any]], chosen: bool) -> None:
        for row in rows:
            if chosen:
                state.selected[row["id"]] = row["version"]
            else:
                state.selected.pop(row["id"], None)
        bulk_button.text = ctx.t("list.bulk_edit", count=len(state.selected))
        bulk_button.set_enabled(bool(state.selected))
        if len(rows) > 1:
            table.refresh()

    bulk = BulkEditor(ctx, obj, state, on_done=lambda: after_bulk())

    def open_bulk() -> None:
        bulk.open()

    def after_bulk() -> None:
        bulk_button.text = ctx.t("list.bulk_edit", count=len(state.selected))
        bulk_button.set_enabled(bool(state.selected))
        table.refresh()

    # Table
    def toggle_sort(f: FieldDef) -> None:
        state.sort = f.name if state.sort != f.name else f"-{f.name}"
        state.cursors = [None]
        table.refresh()

    @ui.refreshable
    def table() -> None:
        try:
            page = records.list(
                ctx.principal,
                obj.name,
                where=state.where or None,
                sort=state.sort or None,
                limit=state.limit,
                cursor=state.cursor,
            )
            # A first page that is also the last holds the whole count already.
            if state.cursor is None and page.next_cursor is None:
                total = len(page.data)
            else:
                total = records.count(ctx.principal, obj.name, where=state.where or None)
        except InvalidInput as e:
            expression_error(e, ctx.language)
            return
        except DealcraftError as e:
            error_banner(e, ctx.language)
            return
        ui.label(ctx.t("list.count", count=total)).classes("text-grey-7 text-sm")
        if not page.data:
            ui.label(ctx.t("list.empty"))
        else:
            fields = chosen_fields(obj, state.columns)
            render_table(ctx, obj, page.data, fields, state, on_select, toggle_sort)
        with ui.row().classes("gap-2"):

            def previous() -> None:
                state.cursors.pop()
                table.refresh()

            def following() -> None:
                state.cursors.append(page.next_cursor)
                table.refresh()

            ui.button(ctx.t("list.previous"), on_click=previous).props(
                "flat data-testid=previous-page"
            ).mark("previous-page").set_enabled(len(state.cursors) > 1)
            ui.button(ctx.t("list.next"), on_click=following).props(
                "flat data-testid=next-page"
            ).mark("next-page").set_enabled(page.next_cursor is not None)

    table()


class BulkEditor:
    """The "edit selected" dialog: a field, a value, a progress bar and the result."""

    def __init__(self, ctx: PageContext, obj: ObjectDef, state: ListState, on_done) -> None:
        self.ctx = ctx
        self.obj = obj
        self.state = state
        self.on_done = on_done
        self.item: FieldInput | None = None
        self.fields: dict[str, FieldDef] = {}
        self.input_ctx = InputContext(ctx.workspace.records, ctx.principal, ctx.language)
        with ui.dialog() as self.dialog, ui.card().classes("w-[32rem]"):
            self.heading = ui.label("").classes("text-h6")
            self.field_select = (
                ui.select(
                    {}, label=ctx.t("list.bulk.field"), on_change=lambda e: self.choose(e.value)
                )
                .classes("w-full")
                .props("data-testid=bulk-field")
                .mark("bulk-field")
            )
            self.value_box = ui.column().classes("w-full")
            self.progress = (
                ui.linear_progress(value=0, show_value=False)
                .props("data-testid=bulk-progress")
                .mark("bulk-progress")
            )
            self.progress.set_visibility(False)
            self.result_box = ui.column().classes("w-full gap-1")
            with ui.row().classes("w-full justify-end"):
                ui.button(ctx.t("list.bulk.close"), on_click=self.dialog.close).props("flat")
                self.apply_button = (
                    ui.button(ctx.t("list.bulk.apply"), on_click=self.apply)
                    .props("data-testid=bulk-apply")
                    .mark("bulk-apply")
                )

    def open(self) -> None:
        # The writable fields are worked out when the dialog opens, not on every page load.
        self.fields = {f.name: f for f in bulk_fields(self.ctx, self.obj)}
        self.heading.text = self.ctx.t("list.bulk.title", count=len(self.state.selected))
        self.field_select.set_options(
            {name: f.label(self.ctx.language) for name, f in self.fields.items()}, value=None
        )
        self.value_box.clear()
        self.result_box.clear()
        self.progress.set_visibility(False)
        if not self.fields:
            with self.result_box:
                ui.label(self.ctx.t("list.bulk.no_fields")).classes("text-negative")
        self.apply_button.set_enabled(bool(self.fields))
        self.dialog.open()

    def choose(self, name: str | None) -> None:
        self.value_box.clear()
        self.item = None
        f = self.fields.get(name or "")
        if f is not None:
            with self.value_box:
                self.item = field_input(f, None, self.input_ctx)

    async def apply(self) -> None:
        if self.item is None:
            ui.notify(self.ctx.t("list.bulk.no_field"), type="warning")
            return
        values = {self.item.field.name: self.item.value()}
        targets = [Target(i, v) for i, v in self.state.selected.items()]
        self.result_box.clear()
        self.progress.value = 0
        self.progress.set_visibility(len(targets) > PROGRESS_OVER)

        # Records go in chunks, off the event loop, so the progress bar moves meanwhile.
        result = BulkUpdateResult()
        records = self.ctx.workspace.records
        for start in range(0, len(targets), BULK_CHUNK):
            chunk = targets[start : start + BULK_CHUNK]
            try:
                part = await run.io_bound(
                    update_each, records, self.ctx.principal, self.obj.name, chunk, values
                )
            except DealcraftError as e:
                ui.notify(e.message, type="negative")
                return
            result.changed += part.changed
            result.unchanged += part.unchanged
            result.refused += part.refused
            self.progress.value = (start + len(chunk)) / len(targets)

        # Changed records leave the selection; refused ones stay, to look at and retry.
        for record_id in result.changed + result.unchanged:
            self.state.selected.pop(record_id, None)
        self.show(result)
        self.on_done()

    def show(self, result: BulkUpdateResult) -> None:
        with self.result_box:
            ui.label(
                self.ctx.t(
                    "list.bulk.result",
                    changed=len(result.changed),
                    unchanged=len(result.unchanged),
                    refused=len(result.refused),
                )
            ).props("data-testid=bulk-result").mark("bulk-result")
            for refusal in result.refused:
                title = self.state.titles.get(refusal["id"], f"#{refusal['id']}")
                ui.label(f"{title}: {refusal['code']} — {refusal['message']}").classes(
                    "text-negative text-sm"
                ).props(f"data-testid=bulk-refused-{refusal['id']}").mark("bulk-refused")


def register(workspace: Workspace) -> None:
    @ui.page("/o/{object_name}")
    def object_list(
        request: Request,
        object_name: str,
        where: str = "",
        sort: str = "",
        columns: str = "",
        limit: int = PAGE_SIZE,
    ):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        # One policy snapshot and one pass over the readable objects serve both this page
        # and the navigation rail.
        policy = page_policy(ctx)
        objects = readable_objects(ctx, policy)
        obj = next((o for o in objects if o.name == object_name), None)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found"), objects):
            if obj is None:
                not_found(ctx)
                return
            state = ListState(
                where=where,
                sort=sort,
                columns=[c for c in columns.split(",") if c],
                limit=min(max(limit, 1), MAX_PAGE_SIZE),
            )
            list_page(ctx, obj, state, policy)
