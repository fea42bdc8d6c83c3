"""The import wizard: upload a CSV/XLSX file, map its columns, check and run the import.

The wizard is a face on ``transfer.import_file``: the mapping starts from
``transfer.suggest_mapping``, and the import is all-or-nothing first. When rows are bad,
nothing is written and the validation report is shown (with the rejected rows to download);
the user may then import the good rows and skip the rest. Until ``bulk_create`` has a dry
run, a file without errors is imported by the same click that checks it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import Request
from nicegui import run, ui
from nicegui.events import UploadEventArguments

from dealcraft.errors import DealcraftError
from dealcraft.records import BulkResult, ImportRejected, RowError
from dealcraft.records.transfer import (
    CREATED_AT_HEADERS,
    import_file,
    normalise_header,
    read_table,
    suggest_mapping,
    writable_keys,
    write_report,
)
from dealcraft.schema.model import ObjectDef
from dealcraft.web.i18n import add_strings
from dealcraft.web.records import object_or_none
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner, frame, not_found, require_context, to_login
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PREVIEW_ROWS = 5
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
IGNORE = ""
# An admin may map a column to the records' creation date (an import of history).
CREATED_AT = "created_at"

add_strings(
    {
        "import.created_at": {
            "en": "Created at (keep the original date)",
            "zh-CN": "创建时间（保留原始日期）",
        },
    }
)


def _report_table(ctx: PageContext, rejected: list[RowError]) -> None:
    with ui.element("table").classes("dc-table text-left text-sm").mark("import-report"):
        with ui.element("thead"), ui.element("tr"):
            for key in ("row", "column", "field", "code", "message"):
                with ui.element("th").classes("p-2 border-b"):
                    ui.label(ctx.t(f"import.{key}"))
        with ui.element("tbody"):
            for e in rejected[:200]:
                with ui.element("tr"):
                    for value in (e.row, getattr(e, "column", None), e.field, e.code, e.message):
                        with ui.element("td").classes("p-2 border-b"):
                            ui.label("" if value is None else str(value))


def import_page(ctx: PageContext, obj: ObjectDef) -> None:
    folder = Path(tempfile.mkdtemp(prefix="dealcraft-import-"))
    ui.context.client.on_delete(lambda: shutil.rmtree(folder, ignore_errors=True))
    upload: dict[str, Any] = {"path": None, "headers": []}
    targets = {
        key: (f.label(ctx.language) + (f" ({key})" if key != f.name else ""))
        for key, f in writable_keys(obj).items()
    }
    if ctx.is_admin:
        targets[CREATED_AT] = ctx.t("import.created_at")
    options = {IGNORE: ctx.t("import.ignore"), **targets}
    selects: dict[str, ui.select] = {}
    progress_state = {"done": 0, "total": 0}

    ui.label(ctx.t("import.title", object=obj.label(ctx.language))).classes("text-h5")

    # Step 1: the file
    async def received(e: UploadEventArguments) -> None:
        path = folder / Path(e.file.name).name
        await e.file.save(path)
        try:
            headers, rows = read_table(path)
        except DealcraftError as err:
            mapping_area.clear()
            with mapping_area:
                error_banner(err, ctx.language)
            return
        upload.update(path=path, headers=headers, rows=rows)
        show_mapping(headers, rows)

    ui.upload(
        label=ctx.t("import.upload"),
        auto_upload=True,
        max_file_size=MAX_UPLOAD_BYTES,
        on_upload=received,
    ).props('accept=".csv,.xlsx" data-testid=import-upload').mark("import-upload")

    mapping_area = ui.column().classes("w-full")
    result_area = ui.column().classes("w-full")

    # Step 2: the mapping and a preview of the first rows
    def show_mapping(headers: list[str], rows: list[list[Any]]) -> None:
        suggested = suggest_mapping(obj, headers)
        if CREATED_AT in targets:
            dated = {normalise_header(h) for h in CREATED_AT_HEADERS}
            for column in headers:
                if normalise_header(column) in dated and not suggested.get(column):
                    suggested[column] = CREATED_AT
        mapping_area.clear()
        result_area.clear()
        selects.clear()
        with mapping_area:
            ui.label(ctx.t("import.mapping")).classes("text-subtitle1")
            with ui.grid(columns="repeat(auto-fill, minmax(240px, 1fr))").classes("w-full gap-2"):
                for column in headers:
                    selects[column] = (
                        ui.select(options, value=suggested.get(column), label=column)
                        .props(f'dense data-column="{column}"')
                        .mark(f"map-{column}")
                    )
            ui.label(ctx.t("import.preview", count=len(rows))).classes("text-subtitle1")
            with ui.element("table").classes("dc-table text-left text-sm").mark("import-preview"):
                with ui.element("thead"), ui.element("tr"):
                    for column in headers:
                        with ui.element("th").classes("p-2 border-b"):
                            ui.label(column)
                with ui.element("tbody"):
                    for cells in rows[:PREVIEW_ROWS]:
                        with ui.element("tr"):
                            for value in cells:
                                with ui.element("td").classes("p-2 border-b"):
                                    ui.label("" if value is None else str(value))
            ui.button(
                ctx.t("import.run"), icon="playlist_add_check", on_click=lambda: start(False)
            ).props("data-testid=run-import").mark("run-import")

    # Step 3: check and run, with a progress bar fed from the worker thread
    bar = ui.linear_progress(value=0, show_value=False).classes("w-full")
    bar.set_visibility(False)

    def tick() -> None:
        if progress_state["total"]:
            bar.value = progress_state["done"] / progress_state["total"]

    ui.timer(0.25, tick)

    def progress(done: int, total: int) -> None:
        progress_state.update(done=done, total=total)

    async def start(skip_bad_rows: bool) -> None:
        missing = [c for c, s in selects.items() if s.value is None]
        result_area.clear()
        if missing:
            with result_area:
                ui.label(ctx.t("import.unmapped", columns=", ".join(missing))).classes(
                    "text-negative"
                ).mark("import-unmapped")
            return
        mapping = {c: s.value for c, s in selects.items()}
        bar.value = 0
        bar.set_visibility(True)
        try:
            result = await run.io_bound(
                import_file,
                ctx.workspace.records,
                ctx.principal,
                obj.name,
                upload["path"],
                mapping=mapping,
                skip_bad_rows=skip_bad_rows,
                progress=progress,
                keep_created_at=CREATED_AT in mapping.values(),
            )
        except ImportRejected as e:
            bar.set_visibility(False)
            show_rejected(e.rejected, imported=None)
            return
        except DealcraftError as e:
            bar.set_visibility(False)
            with result_area:
                error_banner(e, ctx.language)
            return
        bar.value = 1
        show_done(result)

    def download_rejected(rejected: list[RowError]) -> None:
        path = folder / "rejected-rows.csv"
        write_report(path, rejected)
        ui.download.content(path.read_bytes(), f"{obj.name}-rejected-rows.csv")

    def show_rejected(rejected: list[RowError], imported: BulkResult | None) -> None:
        with result_area:
            with ui.card().classes("w-full bg-red-1").props("flat").mark("import-rejected"):
                if imported is None:
                    ui.label(ctx.t("import.rejected", count=len(rejected)))
                _report_table(ctx, rejected)
                with ui.row():
                    ui.button(
                        ctx.t("import.download_rejected"),
                        icon="download",
                        on_click=lambda: download_rejected(rejected),
                    ).props("flat").mark("download-rejected")
                    if imported is None:
                        ui.button(ctx.t("import.skip_bad"), on_click=lambda: start(True)).props(
                            "data-testid=import-skip-bad"
                        ).mark("import-skip-bad")

    def show_done(result: BulkResult) -> None:
        result_area.clear()
        with result_area:
            ui.label(
                ctx.t(
                    "import.done",
                    created=result.created,
                    updated=result.updated,
                    rejected=len(result.rejected),
                )
            ).classes("text-positive").mark("import-done")
            ui.link(ctx.t("import.to_list"), f"/o/{obj.name}")
        if result.rejected:
            show_rejected(result.rejected, imported=result)


def register(workspace: Workspace) -> None:
    @ui.page("/o/{object_name}/import")
    def object_import(request: Request, object_name: str):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        obj = object_or_none(ctx, object_name)
        with frame(ctx, obj.label(ctx.language) if obj else ctx.t("error.not_found")):
            if obj is None:
                not_found(ctx)
                return
            try:
                workspace.policy.check_operation(ctx.principal, obj, "import")
            except DealcraftError as e:
                error_banner(e, ctx.language)
                return
            import_page(ctx, obj)
