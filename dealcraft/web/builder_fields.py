"""The builder's field editor: labels, required, help text, and the options of the field's
type — choices (an opportunity's stages) with labels in both languages, colours and order, a
formula with live validation, a roll-up's definition.

Every save goes through ``SchemaService.update_field``, which checks the whole definition
again: a formula that no longer type-checks, or a choice that records still hold, is refused
with the service's message and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.service import check_field
from dealcraft.schema.types import ROLLUP_AGGREGATES
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner

logger = logging.getLogger(__name__)

CHOICE_TYPES = ("choice", "multi_choice")
# Quasar colour names offered for a choice (a kanban column, a badge).
CHOICE_COLOURS = ("", "grey", "blue", "teal", "green", "amber", "orange", "red", "purple")
# Options of text-like and number types an admin may change after the fact.
SIMPLE_OPTIONS = {
    "text": ("max_length",),
    "email": ("max_length",),
    "phone": ("max_length",),
    "url": ("max_length",),
    "number": ("min", "max"),
    "percent": ("min", "max"),
    "money": ("currency",),
}

add_strings(
    {
        "builder_edit.title": {"en": "Edit field {field}", "zh-CN": "编辑字段 {field}"},
        "builder_edit.edit": {"en": "Edit", "zh-CN": "编辑"},
        "builder_edit.help_en": {"en": "Help text (English)", "zh-CN": "帮助说明（英文）"},
        "builder_edit.help_zh": {"en": "Help text (Chinese)", "zh-CN": "帮助说明（中文）"},
        "builder_edit.colour": {"en": "Colour", "zh-CN": "颜色"},
        "builder_edit.probability": {"en": "Win %", "zh-CN": "赢率 %"},
        "builder_edit.save": {"en": "Save field", "zh-CN": "保存字段"},
        "builder_edit.saved": {"en": "Field {field} saved", "zh-CN": "已保存字段 {field}"},
        "builder_edit.back": {"en": "Back to the fields", "zh-CN": "返回字段列表"},
        "builder_edit.choices_rule": {
            "en": "A choice that records use cannot be removed; rename it instead.",
            "zh-CN": "已被记录使用的选项不能删除，可修改其标签。",
        },
        "builder_edit.where": {"en": "Only records where", "zh-CN": "仅统计满足条件的记录"},
        "builder_edit.up": {"en": "Move up", "zh-CN": "上移"},
        "builder_edit.down": {"en": "Move down", "zh-CN": "下移"},
        "builder_edit.remove": {"en": "Remove", "zh-CN": "删除"},
        "builder_edit.option.max_length": {"en": "Maximum length", "zh-CN": "最大长度"},
        "builder_edit.option.min": {"en": "Minimum", "zh-CN": "最小值"},
        "builder_edit.option.max": {"en": "Maximum", "zh-CN": "最大值"},
        "builder_edit.option.currency": {"en": "Currency", "zh-CN": "币种"},
    }
)


def labels_from(en: str | None, zh: str | None) -> dict[str, str] | None:
    labels = {k: v.strip() for k, v in (("en", en), ("zh-CN", zh)) if v and v.strip()}
    return labels or None


def choice_rows(f: FieldDef) -> list[dict[str, Any]]:
    """The editable form of a field's choices; keys the editor does not show are kept."""
    rows = []
    for choice in f.options.get("choices", []):
        labels = choice.get("labels", {})
        rows.append(
            {
                "value": choice["value"],
                "en": labels.get("en", ""),
                "zh": labels.get("zh-CN", ""),
                "color": choice.get("color", ""),
                "probability": choice.get("probability"),
                "stored": True,
                "extra": {
                    k: v
                    for k, v in choice.items()
                    if k not in ("value", "labels", "color", "probability")
                },
            }
        )
    return rows


def choices_from(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    choices = []
    for row in rows:
        value = (row["value"] or "").strip()
        if not value:
            continue
        choice = {**row["extra"], "value": value, "labels": labels_from(row["en"], row["zh"])}
        if not choice["labels"]:
            choice["labels"] = {"en": value}
        if row["color"]:
            choice["color"] = row["color"]
        if row["probability"] not in (None, ""):
            choice["probability"] = row["probability"]
        choices.append(choice)
    return choices


def field_editor(
    ctx: PageContext,
    obj: ObjectDef,
    f: FieldDef,
    check_formula: Callable[[PageContext, str, str], tuple[bool, str]],
    error_text: Callable[[DealcraftError], str],
) -> None:
    """The edit form of one field; ``check_formula`` gives the live verdict on a formula."""
    view = ctx.workspace.registry.view()
    ui.link(ctx.t("builder_edit.back"), f"/admin/objects/{obj.name}").classes("text-grey-7")
    ui.label(ctx.t("builder_edit.title", field=f"{obj.name}.{f.name}")).classes("text-h5")
    ui.label(f.type).classes("text-grey-7")

    # Labels, required, help text: every type has them.
    help_text = f.options.get("help") or {}
    with ui.card().classes("w-full"), ui.row().classes("items-start gap-2 w-full"):
        label_en = (
            ui.input(ctx.t("builder.label_en"), value=f.labels.get("en", ""))
            .props("data-testid=edit-label-en")
            .mark("edit-label-en")
        )
        label_zh = (
            ui.input(ctx.t("builder.label_zh"), value=f.labels.get("zh-CN", ""))
            .props("data-testid=edit-label-zh")
            .mark("edit-label-zh")
        )
        required = (
            ui.checkbox(ctx.t("builder.required"), value=f.required)
            .props("data-testid=edit-required")
            .mark("edit-required")
        )
        help_en = ui.input(ctx.t("builder_edit.help_en"), value=help_text.get("en", "")).classes(
            "w-64"
        )
        help_en.props("data-testid=edit-help-en").mark("edit-help-en")
        help_zh = ui.input(ctx.t("builder_edit.help_zh"), value=help_text.get("zh-CN", "")).classes(
            "w-64"
        )

    # The options of the field's type.
    options: dict[str, Any] = {}
    rows = choice_rows(f)
    if f.type in CHOICE_TYPES:
        with ui.card().classes("w-full"):
            ui.label(ctx.t("builder.choices")).classes("text-subtitle1")
            ui.label(ctx.t("builder_edit.choices_rule")).classes("text-grey-7 text-sm")
            choices_editor(
                ctx, rows, with_probability=any(r["probability"] is not None for r in rows)
            )
    elif f.type == "formula":
        with ui.card().classes("w-full"):
            expression = ui.input(
                ctx.t("builder.expression"), value=f.options.get("expression", "")
            ).classes("w-full font-mono")
            expression.props("data-testid=edit-expression").mark("edit-expression")
            verdict = (
                ui.label("").props("data-testid=edit-expression-check").mark("expression-check")
            )

            def validate() -> None:
                ok, text = check_formula(ctx, obj.name, expression.value or "")
                verdict.text = text
                verdict.classes(replace="text-positive" if ok else "text-negative")

            expression.on_value_change(validate)
            validate()
            options["expression"] = expression
    elif f.type == "rollup":
        with ui.card().classes("w-full"), ui.row().classes("items-start gap-2"):
            options["object"] = ui.select(
                sorted(view.objects),
                label=ctx.t("builder.rollup_object"),
                value=f.options.get("object"),
            ).classes("w-48")
            options["via"] = ui.input(ctx.t("builder.rollup_via"), value=f.options.get("via"))
            options["aggregate"] = ui.select(
                list(ROLLUP_AGGREGATES),
                label=ctx.t("builder.rollup_aggregate"),
                value=f.options.get("aggregate", "count"),
            )
            options["field"] = ui.input(
                ctx.t("builder.rollup_field"), value=f.options.get("field") or ""
            )
            options["where"] = ui.input(
                ctx.t("builder_edit.where"), value=f.options.get("where") or ""
            ).classes("w-72 font-mono")
            for key, element in options.items():
                element.props(f"data-testid=edit-rollup-{key}").mark(f"edit-rollup-{key}")
            rollup_verdict(ctx, obj, f, options, error_text)
    elif f.type in SIMPLE_OPTIONS:
        with ui.card().classes("w-full"), ui.row().classes("items-start gap-2"):
            for key in SIMPLE_OPTIONS[f.type]:
                current = f.options.get(key)
                label = ctx.t(f"builder_edit.option.{key}")
                element = (
                    ui.input(label, value=current)
                    if key == "currency"
                    else ui.number(label, value=current)
                )
                options[key] = element.props(f"data-testid=edit-{key}").mark(f"edit-{key}")

    problem = ui.column().classes("w-full")

    def save() -> None:
        problem.clear()
        changes: dict[str, Any] = {
            "labels": labels_from(label_en.value, label_zh.value) or f.name,
            "required": bool(required.value),
            "help": labels_from(help_en.value, help_zh.value),
        }
        if f.type in CHOICE_TYPES:
            changes["choices"] = choices_from(rows)
        for key, element in options.items():
            value = element.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            changes[key] = None if value in ("", None) else value
        try:
            ctx.workspace.policy.check_schema_change(ctx.principal)
            saved = ctx.workspace.schema.update_field(obj.name, f.name, changes)
        except DealcraftError as e:
            with problem:
                error_banner(DealcraftError(error_text(e)), ctx.language)
            return
        ui.notify(ctx.t("builder_edit.saved", field=saved.name), type="positive")

    ui.button(ctx.t("builder_edit.save"), icon="save", on_click=save).props(
        "data-testid=save-field"
    ).mark("save-field")


def check_rollup(
    ctx: PageContext,
    obj: ObjectDef,
    f: FieldDef,
    options: dict[str, Any],
    error_text: Callable[[DealcraftError], str],
) -> tuple[bool, str]:
    """Live validation of a roll-up definition: (valid, what to show). Nothing is saved."""
    candidate = {k: v for k, v in options.items() if v not in (None, "")}
    view = ctx.workspace.registry.view()
    current = view.objects.get(obj.name, obj).field(f.name, include_archived=True)
    try:
        checked = check_field(view, replace(current or f, options=candidate))
    except DealcraftError as e:
        return False, error_text(e)
    kind = str(checked.options.get("result_type", "NUMBER")).lower()
    return True, ctx.t("builder.expression_ok", type=kind)


def rollup_verdict(
    ctx: PageContext,
    obj: ObjectDef,
    f: FieldDef,
    elements: dict[str, Any],
    error_text: Callable[[DealcraftError], str],
) -> None:
    """A line under a roll-up's inputs saying, as they change, whether it is valid."""
    verdict = ui.label("").props("data-testid=rollup-check").mark("rollup-check")

    def validate() -> None:
        options = {key: element.value for key, element in elements.items()}
        ok, text = check_rollup(ctx, obj, f, options, error_text)
        verdict.text = text
        verdict.classes(replace="text-positive" if ok else "text-negative")

    for element in elements.values():
        element.on_value_change(validate)
    validate()


def choices_editor(ctx: PageContext, rows: list[dict[str, Any]], with_probability: bool) -> None:
    """Rows of value, labels, colour (and win % for stages), each movable and removable.

    A stored choice's value is fixed (records hold it); its labels and colour may change.
    """

    @ui.refreshable
    def table() -> None:
        for i, row in enumerate(rows):
            with ui.row().classes("items-center gap-2").props(f"data-choice={i}"):
                value = ui.input(ctx.t("builder.choice_value")).bind_value(row, "value")
                value.props(f"data-testid=edit-choice-value-{i}").mark(f"edit-choice-value-{i}")
                if row["stored"]:
                    value.props("readonly")
                ui.input(ctx.t("builder.label_en")).bind_value(row, "en").props(
                    f"data-testid=edit-choice-en-{i}"
                ).mark(f"edit-choice-en-{i}")
                ui.input(ctx.t("builder.label_zh")).bind_value(row, "zh").props(
                    f"data-testid=edit-choice-zh-{i}"
                ).mark(f"edit-choice-zh-{i}")
                ui.select(list(CHOICE_COLOURS), label=ctx.t("builder_edit.colour")).bind_value(
                    row, "color"
                ).classes("w-28").mark(f"edit-choice-colour-{i}")
                if with_probability:
                    ui.number(ctx.t("builder_edit.probability"), min=0, max=100).bind_value(
                        row, "probability"
                    ).classes("w-24")
                ui.button(icon="arrow_upward", on_click=lambda i=i: move(i, -1)).props(
                    f"flat dense data-testid=choice-up-{i}"
                ).tooltip(ctx.t("builder_edit.up")).mark(f"choice-up-{i}")
                ui.button(icon="arrow_downward", on_click=lambda i=i: move(i, 1)).props(
                    f"flat dense data-testid=choice-down-{i}"
                ).tooltip(ctx.t("builder_edit.down")).mark(f"choice-down-{i}")
                ui.button(icon="delete", on_click=lambda i=i: remove(i)).props(
                    f"flat dense color=negative data-testid=choice-remove-{i}"
                ).tooltip(ctx.t("builder_edit.remove")).mark(f"choice-remove-{i}")
        ui.button(ctx.t("builder.add_choice"), icon="add", on_click=add).props(
            "flat dense data-testid=edit-add-choice"
        ).mark("edit-add-choice")

    def move(i: int, step: int) -> None:
        j = i + step
        if 0 <= j < len(rows):
            rows[i], rows[j] = rows[j], rows[i]
            table.refresh()

    def remove(i: int) -> None:
        rows.pop(i)
        table.refresh()

    def add() -> None:
        rows.append(
            {
                "value": "",
                "en": "",
                "zh": "",
                "color": "",
                "probability": None,
                "stored": False,
                "extra": {},
            }
        )
        table.refresh()

    table()
