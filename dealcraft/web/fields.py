"""Showing and editing field values: one display function and one input per field type.

Both tables are keyed by field type name (as the schema's handlers are), so a type added by a
plugin gets a sensible text display and input until it registers its own here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from dealcraft.access.principal import Principal
from dealcraft.errors import DealcraftError
from dealcraft.records.service import RecordService
from dealcraft.schema.model import FieldDef, ObjectDef, pick_label
from dealcraft.schema.types import handler_for

REFERENCE_TYPES = ("reference", "user")
# How many records a reference picker offers; typing in it filters these.
PICKER_LIMIT = 200


def title_field(obj: ObjectDef) -> str | None:
    """The field that names a record: the object's title field, else its first text field."""
    if obj.title_field and obj.field(obj.title_field) is not None:
        return obj.title_field
    for f in obj.active_fields:
        if f.type == "text":
            return f.name
    return None


def record_title(obj: ObjectDef, record: dict[str, Any]) -> str:
    name = title_field(obj)
    value = record.get(name) if name else None
    return str(value) if value not in (None, "") else f"#{record['id']}"


def reference_target(f: FieldDef) -> str:
    return handler_for(f.type).target(f)  # type: ignore[attr-defined]


def choice_label(f: FieldDef, value: str, language: str) -> str:
    for choice in f.options.get("choices", []):
        if choice["value"] == value:
            return pick_label(choice.get("labels", {}), language, value)
    return value


def choice_options(f: FieldDef, language: str) -> dict[str, str]:
    return {
        c["value"]: pick_label(c.get("labels", {}), language, c["value"])
        for c in f.options.get("choices", [])
    }


# Titles of referenced records ---------------------------------------------------------------
class ReferenceTitles:
    """Titles of the records a page refers to, fetched in one query per referenced object."""

    def __init__(self, records: RecordService, principal: Principal) -> None:
        self.records = records
        self.principal = principal
        self.titles: dict[tuple[str, int], str] = {}

    def load(self, obj: ObjectDef, rows: Iterable[dict[str, Any]]) -> ReferenceTitles:
        rows = list(rows)
        wanted: dict[str, set[int]] = {}
        for f in obj.active_fields:
            if f.type in REFERENCE_TYPES:
                ids = {r[f.name] for r in rows if isinstance(r.get(f.name), int)}
                wanted.setdefault(reference_target(f), set()).update(ids)
        for target, ids in wanted.items():
            self.load_ids(target, ids)
        return self

    def load_ids(self, target: str, ids: Iterable[int]) -> ReferenceTitles:
        """Fetch the titles of records ``ids`` of ``target`` not fetched yet."""
        view = self.records.registry.view()
        missing = {i for i in ids if isinstance(i, int)} - {
            i for (o, i) in self.titles if o == target
        }
        if not missing or target not in view.objects:
            return self
        target_obj = view.objects[target]
        chunk = sorted(missing)[:500]
        # Only the title field is read: a whole account would compute its roll-ups (contact
        # count, open pipeline), once the largest share of a list page's server time.
        name = title_field(target_obj)
        try:
            page = self.records.list(
                self.principal,
                target,
                where="id in (" + ", ".join(str(i) for i in chunk) + ")",
                limit=len(chunk),
                fields=[name] if name is not None and target_obj.field(name) else None,
            )
        except DealcraftError:
            return self  # a target the principal may not read shows ids only
        for r in page.data:
            self.titles[(target, r["id"])] = record_title(target_obj, r)
        return self

    def title(self, target: str, record_id: int) -> str:
        return self.titles.get((target, record_id), f"#{record_id}")


# Display -------------------------------------------------------------------------------------
def _money(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    currency = record.get(f"{f.name}_currency") or f.options.get("currency", "CNY")
    return f"{currency} {value:,.2f}"


def _number(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}" if isinstance(value, int | float) else str(value)


def _percent(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    return f"{value:g} %"


def _boolean(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    return ("是" if value else "否") if language == "zh-CN" else ("Yes" if value else "No")


def _choice(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    return choice_label(f, value, language)


def _multi(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    return ", ".join(choice_label(f, v, language) for v in value)


def _datetime(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    return str(value).replace("T", " ").removesuffix("Z")[:16]


def _formula(f: FieldDef, record: dict[str, Any], value: Any, language: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return _number(f, record, value, language)


DISPLAY: dict[str, Callable[[FieldDef, dict[str, Any], Any, str], str]] = {
    "money": _money,
    "number": _number,
    "percent": _percent,
    "boolean": _boolean,
    "choice": _choice,
    "multi_choice": _multi,
    "datetime": _datetime,
    "formula": _formula,
    "rollup": _formula,
}


def display(
    f: FieldDef, record: dict[str, Any], language: str, refs: ReferenceTitles | None = None
) -> str:
    value = record.get(f.name)
    if value is None or value == "" or value == []:
        return ""
    if f.type in REFERENCE_TYPES:
        return refs.title(reference_target(f), value) if refs else f"#{value}"
    show = DISPLAY.get(f.type)
    return show(f, record, value, language) if show else str(value)


# Inputs --------------------------------------------------------------------------------------
@dataclass
class FieldInput:
    """One field's input on a form, with the label that shows its validation message."""

    field: FieldDef
    element: Any
    error: ui.label
    initial: Any
    read: Callable[[Any], Any]

    def value(self) -> Any:
        return self.read(self.element.value)

    def show_error(self, message: str | None) -> None:
        self.error.text = message or ""
        self.error.set_visibility(bool(message))


def _text_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    return ui.input(label, value=value or "")


def _long_text_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    return ui.textarea(label, value=value or "").props("autogrow")


def _number_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    return ui.number(label, value=value, format="%.2f" if f.type == "money" else None)


def _date_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    return ui.input(label, value=value or "", placeholder="YYYY-MM-DD").props("type=date")


def _datetime_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    shown = str(value).removesuffix("Z")[:16] if value else ""
    return ui.input(label, value=shown, placeholder="YYYY-MM-DD HH:MM").props("type=datetime-local")


def _boolean_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    return ui.checkbox(label, value=bool(value))


def _choice_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    options = choice_options(f, ctx.language)
    return ui.select(options, label=label, value=value if value in options else None).props(
        "clearable"
    )


def _multi_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    options = choice_options(f, ctx.language)
    chosen = [v for v in (value or []) if v in options]
    return ui.select(options, label=label, value=chosen, multiple=True).props("use-chips")


def _reference_input(f: FieldDef, label: str, value: Any, ctx: InputContext) -> Any:
    options = ctx.reference_options(reference_target(f))
    if value is not None and value not in options:
        options = {**options, value: f"#{value}"}
    return ui.select(options, label=label, value=value, with_input=True).props("clearable")


@dataclass
class InputContext:
    records: RecordService
    principal: Principal
    language: str

    def __post_init__(self) -> None:
        self._options: dict[str, dict[int, str]] = {}

    def reference_options(self, target: str) -> dict[int, str]:
        """Records of ``target`` to choose from (those the principal may read)."""
        if target not in self._options:
            view = self.records.registry.view()
            obj = view.objects.get(target)
            options: dict[int, str] = {}
            if obj is not None:
                name = title_field(obj)
                try:
                    page = self.records.list(self.principal, target, sort=name, limit=PICKER_LIMIT)
                    options = {r["id"]: record_title(obj, r) for r in page.data}
                except DealcraftError:
                    options = {}
            self._options[target] = options
        return self._options[target]


def _text_value(value: Any) -> Any:
    return value if value not in ("",) else None


def _datetime_value(value: Any) -> Any:
    return value.replace(" ", "T") if value else None


def _identity(value: Any) -> Any:
    return value


INPUTS: dict[str, tuple[Callable[..., Any], Callable[[Any], Any]]] = {
    "text": (_text_input, _text_value),
    "email": (_text_input, _text_value),
    "phone": (_text_input, _text_value),
    "url": (_text_input, _text_value),
    "long_text": (_long_text_input, _text_value),
    "number": (_number_input, _identity),
    "percent": (_number_input, _identity),
    "money": (_number_input, _identity),
    "date": (_date_input, _text_value),
    "datetime": (_datetime_input, _datetime_value),
    "boolean": (_boolean_input, bool),
    "choice": (_choice_input, _identity),
    "multi_choice": (_multi_input, _identity),
    "reference": (_reference_input, _identity),
    "user": (_reference_input, _identity),
}


def editable(f: FieldDef) -> bool:
    """Stored fields the web form can edit (files are attached through the API for now)."""
    return handler_for(f.type).stored and f.type != "file"


def field_input(f: FieldDef, value: Any, ctx: InputContext) -> FieldInput:
    make, read = INPUTS.get(f.type, (_text_input, _text_value))
    label = f.label(ctx.language) + (" *" if f.required else "")
    with ui.column().classes("w-full gap-0"):
        element = make(f, label, value, ctx).classes("w-full").props(f"data-field={f.name}")
        element.mark(f"field-{f.name}")
        error = ui.label("").classes("text-negative text-xs").props(f"data-error={f.name}")
        error.mark(f"error-{f.name}")
        error.set_visibility(False)
    initial = read(element.value)
    return FieldInput(f, element, error, initial, read)
