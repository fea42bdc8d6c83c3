"""Tables of records drawn as one element: the rows are escaped HTML, not an element per cell.

A list page of 50 rows and 10 columns used to create some 1,300 NiceGUI elements (a cell, a
link or a label each); building, sending and mounting them took seconds. ``RecordTable`` is a
single ``ui.html`` element whose content is built from escaped strings, so the element count
no longer grows with the rows. Clicks inside it (a row's selection box, a sortable column
header) reach the server through one event listener on the table.

Every value goes through ``fields.display`` (masked values arrive masked from the record
service) and every string from the data is escaped, so a record named ``<img src=x>`` shows
as that text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any
from urllib.parse import quote

from nicegui import ui
from nicegui.events import GenericEventArguments

from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.types import handler_for
from dealcraft.web.fields import (
    REFERENCE_TYPES,
    ReferenceTitles,
    display,
    record_title,
    reference_target,
)

TABLE_CLASSES = "dc-table w-full text-left text-sm"
CELL_CLASSES = "p-2 border-b"
ROW_CLASSES = "hover:bg-grey-2"
LINK_CLASSES = "nicegui-link"
SORT_CLASSES = "dc-sort font-medium cursor-pointer hover:underline"

# Runs in the browser on every click inside the table; only selection boxes and sort headers
# send anything to the server (a click on a link just follows it).
CLICK_HANDLER = """(e) => {
  const box = e.target.closest('[data-select]');
  if (box) { emit({select: Number(box.dataset.select), checked: box.checked}); return; }
  const header = e.target.closest('[data-sort]');
  if (header) emit({sort: header.dataset.sort});
}"""


def record_url(object_name: str, record_id: Any) -> str:
    return f"/o/{quote(str(object_name))}/{quote(str(record_id))}"


def sort_arrow(f: FieldDef, sort: str | None) -> str:
    return {f.name: " ▲", f"-{f.name}": " ▼"}.get(sort or "", "")


class RecordTable(ui.html):
    """Records as one HTML table; the first column links to the record page.

    ``on_select(record_id, checked)`` adds a selection box to each row (ticked for the ids in
    ``selected``, read aloud as ``select_label`` and the record's title); ``on_sort(field)``
    turns the headers of sortable fields into buttons, with an arrow on the one ``sort``
    names.
    """

    def __init__(
        self,
        obj: ObjectDef,
        rows: list[dict[str, Any]],
        fields: list[FieldDef],
        *,
        language: str,
        refs: ReferenceTitles | None = None,
        sort: str | None = None,
        selected: Iterable[int] = (),
        on_select: Callable[[int, bool], None] | None = None,
        on_sort: Callable[[FieldDef], None] | None = None,
        select_label: str = "",
    ) -> None:
        self.obj = obj
        self.fields = {f.name: f for f in fields}
        self.on_select = on_select
        self.on_sort = on_sort
        self.select_label = select_label
        # What the table shows as text, for the simulated user's ``should_see`` in tests.
        self.texts: list[str] = []
        content = self.build(rows, fields, language, refs, sort, set(selected))
        super().__init__(content, sanitize=False)
        self.classes("w-full overflow-x-auto").props("data-testid=record-table")
        if on_select is not None or on_sort is not None:
            self.on("click", self.handle_click, js_handler=CLICK_HANDLER)

    # Building the HTML ---------------------------------------------------------------------
    def build(
        self,
        rows: list[dict[str, Any]],
        fields: list[FieldDef],
        language: str,
        refs: ReferenceTitles | None,
        sort: str | None,
        selected: set[int],
    ) -> str:
        parts = [f'<table class="{TABLE_CLASSES}"><thead><tr>']
        if self.on_select is not None:
            parts.append(f'<th class="{CELL_CLASSES} w-8"></th>')
        for f in fields:
            parts.append(f'<th class="{CELL_CLASSES}">{self.header(f, language, sort)}</th>')
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append(self.row(row, fields, language, refs, selected))
        parts.append("</tbody></table>")
        return "".join(parts)

    def header(self, f: FieldDef, language: str, sort: str | None) -> str:
        label = f.label(language)
        if self.on_sort is None or not handler_for(f.type).sortable:
            self.texts.append(label)
            return escape(label)
        text = label + sort_arrow(f, sort)
        self.texts.append(text)
        return (
            f'<button type="button" class="{SORT_CLASSES}" data-sort="{escape(f.name)}"'
            f' data-testid="sort-{escape(f.name)}">{escape(text)}</button>'
        )

    def row(
        self,
        row: dict[str, Any],
        fields: list[FieldDef],
        language: str,
        refs: ReferenceTitles | None,
        selected: set[int],
    ) -> str:
        record_id = int(row["id"])
        cells = [f'<tr class="{ROW_CLASSES}" data-record="{record_id}">']
        if self.on_select is not None:
            checked = " checked" if record_id in selected else ""
            label = escape(f"{self.select_label} {record_title(self.obj, row)}".strip())
            cells.append(
                f'<td class="{CELL_CLASSES}"><input type="checkbox" data-select="{record_id}"'
                f' data-testid="select-{record_id}" aria-label="{label}"{checked}></td>'
            )
        for i, f in enumerate(fields):
            text = display(f, row, language, refs)
            self.texts.append(text)
            value = row.get(f.name)
            if i == 0:
                cell = self.link(text or f"#{record_id}", record_url(self.obj.name, record_id))
            elif f.type in REFERENCE_TYPES and isinstance(value, int):
                cell = self.link(text, record_url(reference_target(f), value))
            else:
                cell = escape(text)
            cells.append(f'<td class="{CELL_CLASSES}">{cell}</td>')
        cells.append("</tr>")
        return "".join(cells)

    @staticmethod
    def link(text: str, url: str) -> str:
        return f'<a class="{LINK_CLASSES}" href="{escape(url)}">{escape(text)}</a>'

    # Events --------------------------------------------------------------------------------
    def handle_click(self, e: GenericEventArguments) -> None:
        args = e.args if isinstance(e.args, dict) else {}
        if "select" in args and self.on_select is not None:
            self.on_select(int(args["select"]), bool(args.get("checked")))
        elif (f := self.fields.get(str(args.get("sort")))) is not None and self.on_sort:
            self.on_sort(f)

    def _displayed_contents(self, *, only_visible: bool) -> list:
        # The content is escaped HTML; what a person reads are the labels and the values.
        return list(self.texts)
