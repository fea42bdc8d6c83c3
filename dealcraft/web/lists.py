"""The list page of any object: filter, sort, pages, columns, saved views and export.

Saved views are kept per user in NiceGUI's server-side general storage
(``app.storage.general["saved_views"][user id][object]``), so a user finds them in any browser
they sign in from. They hold only a filter, a sort and column names; a column that no longer
exists (archived, or hidden by a policy) is dropped when the view is applied. Views shared per
team need a record object (readable through the access policy) and are not built yet.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from nicegui import app, ui

from dealcraft.errors import DealcraftError, InvalidInput
from dealcraft.records.transfer import export_file
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.types import handler_for
from dealcraft.web.records import (
    NOT_IN_LISTS,
    expression_error,
    list_fields,
    object_or_none,
    render_rows,
)
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner, frame, not_found, require_context, to_login
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
DEFAULT_SORT = "-updated_at"
EXPORT_FORMATS = ("csv", "xlsx")


@dataclass
class ListState:
    where: str = ""
    sort: str = ""
    columns: list[str] = field(default_factory=list)
    limit: int = PAGE_SIZE
    cursors: list[str | None] = field(default_factory=lambda: [None])

    @property
    def cursor(self) -> str | None:
        return self.cursors[-1]


def column_options(ctx: PageContext, obj: ObjectDef) -> dict[str, str]:
    """Field name -> label of every field that can be a list column, in layout order."""
    fields = sorted(
        (f for f in obj.active_fields if f.type not in NOT_IN_LISTS), key=lambda f: f.position
    )
    return {f.name: f.label(ctx.language) for f in fields}


def chosen_fields(obj: ObjectDef, names: list[str]) -> list[FieldDef]:
    """The fields named (unknown and archived names dropped), or the default columns."""
    fields = [f for n in names if (f := obj.field(n)) is not None and not f.archived]
    return fields or list_fields(obj)


# Saved views ---------------------------------------------------------------------------------
def saved_views(ctx: PageContext, object_name: str) -> dict[str, dict[str, Any]]:
    """The signed-in user's saved views of an object, by name."""
    by_user = app.storage.general.get("saved_views", {})
    return dict(by_user.get(str(ctx.principal.user_id), {}).get(object_name, {}))


def save_view(ctx: PageContext, object_name: str, name: str, state: ListState) -> None:
    by_user = app.storage.general.setdefault("saved_views", {})
    mine = by_user.setdefault(str(ctx.principal.user_id), {})
    mine.setdefault(object_name, {})[name] = {
        "where": state.where,
        "sort": state.sort,
        "columns": list(state.columns),
    }
    # The nested dicts are plain values; assigning the top key marks the storage changed.
    app.storage.general["saved_views"] = by_user


def delete_view(ctx: PageContext, object_name: str, name: str) -> None:
    by_user = app.storage.general.get("saved_views", {})
    by_user.get(str(ctx.principal.user_id), {}).get(object_name, {}).pop(name, None)
    app.storage.general["saved_views"] = by_user


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


# Page ----------------------------------------------------------------------------------------
def list_page(ctx: PageContext, obj: ObjectDef, state: ListState) -> None:
    records = ctx.workspace.records
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
    with ui.row().classes("w-full items-center gap-2"):
        options = column_options(ctx, obj)
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
                sorted(saved_views(ctx, obj.name)),
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
        ui.button(ctx.t("list.save_view"), icon="bookmark_add", on_click=lambda: keep_view()).props(
            "flat dense data-testid=save-view"
        ).mark("save-view")
        ui.button(icon="delete", on_click=lambda: drop_view()).props(
            "flat dense data-testid=delete-view"
        ).mark("delete-view")

    def choose_columns(names: list[str] | None) -> None:
        state.columns = list(names or [])
        table.refresh()

    def apply_view(name: str | None) -> None:
        view = saved_views(ctx, obj.name).get(name or "")
        if view is None:
            return
        state.where, state.sort = view["where"], view["sort"] or DEFAULT_SORT
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
        save_view(ctx, obj.name, name, state)
        view_select.set_options(sorted(saved_views(ctx, obj.name)), value=name)
        ui.notify(ctx.t("list.view_saved", name=name), type="positive")

    def drop_view() -> None:
        if not view_select.value:
            return
        delete_view(ctx, obj.name, view_select.value)
        view_select.set_options(sorted(saved_views(ctx, obj.name)), value=None)

    # Table
    def toggle_sort(f: FieldDef) -> None:
        state.sort = f.name if state.sort != f.name else f"-{f.name}"
        state.cursors = [None]
        table.refresh()

    def header(f: FieldDef) -> None:
        label = f.label(ctx.language)
        if not handler_for(f.type).sortable:
            ui.label(label)
            return
        arrow = {f.name: " ▲", f"-{f.name}": " ▼"}.get(state.sort, "")
        ui.button(label + arrow, on_click=lambda f=f: toggle_sort(f)).props(
            f"flat dense no-caps size=sm data-sort={f.name}"
        )

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
            render_rows(ctx, obj, page.data, chosen_fields(obj, state.columns), header)
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
        obj = object_or_none(ctx, object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            if obj is None:
                not_found(ctx)
                return
            state = ListState(
                where=where,
                sort=sort,
                columns=[c for c in columns.split(",") if c],
                limit=min(max(limit, 1), MAX_PAGE_SIZE),
            )
            list_page(ctx, obj, state)
