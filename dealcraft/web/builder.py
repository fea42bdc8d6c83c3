"""The object builder, for admins: create objects, add fields of every type, edit, reorder,
archive and restore them, and arrange the record page (``builder_fields`` holds the field
editor, ``builder_layout`` the layout editor). Changes go through the schema service, so a
new field is a real column at once and the next page load shows it in lists and forms."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from nicegui import ui

from dealcraft import expr
from dealcraft.errors import DealcraftError, ValidationFailed
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.types import FIELD_TYPES, ROLLUP_AGGREGATES
from dealcraft.web.builder_fields import field_editor, rollup_verdict
from dealcraft.web.builder_layout import layout_editor
from dealcraft.web.session import PageContext
from dealcraft.web.shell import allowed_or_notice, error_banner, not_found, signed_in_page
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

CHOICE_TYPES = ("choice", "multi_choice")


def _admin_only(ctx: PageContext) -> bool:
    """True when the principal may change the schema; otherwise shows why not."""
    try:
        ctx.workspace.policy.check_schema_change(ctx.principal)
    except DealcraftError:
        return allowed_or_notice(ctx, False, "builder.admin_only")
    return True


def _error_text(error: DealcraftError) -> str:
    if isinstance(error, ValidationFailed):
        return "; ".join(item["message"] for item in error.details.get("errors", []))
    return error.message


def check_formula(ctx: PageContext, object_name: str, expression: str) -> tuple[bool, str]:
    """Live validation of a formula: (valid, what to show)."""
    if not expression.strip():
        return False, ""
    view = ctx.workspace.registry.view()
    try:
        checked = expr.check(expression, view, object_name)
    except expr.ExprError as e:
        return False, e.message
    return True, ctx.t("builder.expression_ok", type=checked.type.name.lower())


# Objects -------------------------------------------------------------------------------------
def objects_page(ctx: PageContext) -> None:
    ui.label(ctx.t("builder.title")).classes("text-h5")
    view = ctx.workspace.registry.view()
    with ui.card().classes("w-full"):
        for obj in sorted(view.objects.values(), key=lambda o: o.name):
            with ui.row().classes("items-center gap-2"):
                ui.link(obj.label(ctx.language), f"/admin/objects/{obj.name}")
                ui.label(f"{obj.name} · {len(obj.active_fields)}").classes("text-grey-6 text-sm")

    with ui.card().classes("w-full"):
        ui.label(ctx.t("builder.new_object")).classes("text-subtitle1")
        with ui.row().classes("items-start gap-2"):
            name = (
                ui.input(ctx.t("builder.name")).props("data-testid=object-name").mark("object-name")
            )
            label_en = (
                ui.input(ctx.t("builder.label_en"))
                .props("data-testid=object-label-en")
                .mark("object-label-en")
            )
            label_zh = (
                ui.input(ctx.t("builder.label_zh"))
                .props("data-testid=object-label-zh")
                .mark("object-label-zh")
            )
        problem = ui.label("").classes("text-negative")

        def create() -> None:
            spec = {
                "name": (name.value or "").strip(),
                "labels": _labels(label_en.value, label_zh.value),
                "fields": [
                    {
                        "name": "name",
                        "type": "text",
                        "labels": {"en": "Name", "zh-CN": "名称"},
                        "required": True,
                    }
                ],
            }
            try:
                ctx.workspace.policy.check_schema_change(ctx.principal)
                obj = ctx.workspace.schema.create_object(spec)
            except DealcraftError as e:
                problem.text = _error_text(e)
                return
            ui.notify(ctx.t("builder.object_created", object=obj.name), type="positive")
            ui.navigate.to(f"/admin/objects/{obj.name}")

        ui.button(ctx.t("builder.create"), on_click=create).props("data-testid=create-object").mark(
            "create-object"
        )


def _labels(en: str | None, zh: str | None) -> dict[str, str] | None:
    labels = {k: v.strip() for k, v in (("en", en), ("zh-CN", zh)) if v and v.strip()}
    return labels or None


# Fields --------------------------------------------------------------------------------------
def fields_page(ctx: PageContext, obj: ObjectDef) -> None:
    schema = ctx.workspace.schema
    ui.link(ctx.t("builder.title"), "/admin/objects").classes("text-grey-7")
    ui.label(ctx.t("builder.fields", object=obj.label(ctx.language))).classes("text-h5")

    with ui.row().classes("gap-2"):
        ui.link(ctx.t("builder_layout.open"), f"/admin/objects/{obj.name}/layout").props(
            "data-testid=open-layout"
        ).mark("open-layout")

    @ui.refreshable
    def field_table() -> None:
        current = ctx.workspace.registry.view().objects[obj.name]
        ordered = sorted(current.fields, key=lambda f: (f.archived, f.position))
        active = [f.name for f in ordered if not f.archived]
        with ui.element("table").classes("w-full text-left text-sm"):
            for f in ordered:
                with ui.element("tr").props(f"data-builder-field={f.name}"):
                    for text in (f.name, f.label(ctx.language), f.type, "*" if f.required else ""):
                        with ui.element("td").classes("p-1 border-b"):
                            ui.label(text)
                    with ui.element("td").classes("p-1 border-b"):
                        if f.archived:
                            ui.label(ctx.t("builder.archived")).classes("text-grey-6")
                            ui.button(
                                ctx.t("builder.restore"), on_click=lambda f=f: change(f.name, False)
                            ).props(f"flat dense size=sm data-restore={f.name}").mark(
                                f"restore-{f.name}"
                            )
                            continue
                        ui.button(
                            icon="arrow_upward", on_click=lambda f=f: move(active, f.name, -1)
                        ).props(f"flat dense size=sm data-testid=up-{f.name}").mark(f"up-{f.name}")
                        ui.button(
                            icon="arrow_downward", on_click=lambda f=f: move(active, f.name, 1)
                        ).props(f"flat dense size=sm data-testid=down-{f.name}").mark(
                            f"down-{f.name}"
                        )
                        ui.button(
                            ctx.t("builder_edit.edit"),
                            on_click=lambda f=f: ui.navigate.to(
                                f"/admin/objects/{obj.name}/fields/{f.name}"
                            ),
                        ).props(f"flat dense size=sm data-testid=edit-{f.name}").mark(
                            f"edit-{f.name}"
                        )
                        ui.button(
                            ctx.t("builder.archive"), on_click=lambda f=f: change(f.name, True)
                        ).props(f"flat dense size=sm color=negative data-archive={f.name}").mark(
                            f"archive-{f.name}"
                        )

    def move(active: list[str], field_name: str, step: int) -> None:
        """Swap a field with its neighbour; the new order is saved at once."""
        i = active.index(field_name)
        j = i + step
        if not 0 <= j < len(active):
            return
        order = list(active)
        order[i], order[j] = order[j], order[i]
        try:
            ctx.workspace.policy.check_schema_change(ctx.principal)
            schema.reorder_fields(obj.name, order)
        except DealcraftError as e:
            ui.notify(_error_text(e), type="negative")
        field_table.refresh()

    def change(field_name: str, archive: bool) -> None:
        try:
            ctx.workspace.policy.check_schema_change(ctx.principal)
            if archive:
                schema.archive_field(obj.name, field_name)
            else:
                schema.restore_field(obj.name, field_name)
        except DealcraftError as e:
            ui.notify(_error_text(e), type="negative")
        field_table.refresh()

    with ui.card().classes("w-full"):
        field_table()

    with ui.card().classes("w-full"):
        ui.label(ctx.t("builder.add_field")).classes("text-subtitle1")
        add_field_form(ctx, obj, on_added=field_table.refresh)


def add_field_form(ctx: PageContext, obj: ObjectDef, on_added) -> None:
    view = ctx.workspace.registry.view()
    state: dict[str, Any] = {"choices": [{"value": "", "en": "", "zh": ""}]}
    with ui.row().classes("items-start gap-2 w-full"):
        name = ui.input(ctx.t("builder.name")).props("data-testid=field-name").mark("field-name")
        label_en = (
            ui.input(ctx.t("builder.label_en"))
            .props("data-testid=field-label-en")
            .mark("field-label-en")
        )
        label_zh = (
            ui.input(ctx.t("builder.label_zh"))
            .props("data-testid=field-label-zh")
            .mark("field-label-zh")
        )
        kind = (
            ui.select(sorted(FIELD_TYPES), label=ctx.t("builder.type"), value="text")
            .props("data-testid=field-type")
            .mark("field-type")
            .classes("w-40")
        )
        required = ui.checkbox(ctx.t("builder.required"))
    extra: dict[str, Any] = {}

    @ui.refreshable
    def type_options() -> None:
        extra.clear()
        if kind.value in CHOICE_TYPES:
            ui.label(ctx.t("builder.choices")).classes("text-sm")
            for i, choice in enumerate(state["choices"]):
                with ui.row().classes("gap-2"):
                    ui.input(ctx.t("builder.choice_value")).bind_value(choice, "value").props(
                        f"data-testid=choice-value-{i}"
                    ).mark(f"choice-value-{i}")
                    ui.input(ctx.t("builder.label_en")).bind_value(choice, "en")
                    ui.input(ctx.t("builder.label_zh")).bind_value(choice, "zh")
            ui.button(ctx.t("builder.add_choice"), icon="add", on_click=add_choice).props(
                "flat dense data-testid=add-choice"
            ).mark("add-choice")
        elif kind.value == "reference":
            extra["object"] = (
                ui.select(sorted(view.objects), label=ctx.t("builder.target"))
                .classes("w-48")
                .props("data-testid=field-target")
                .mark("field-target")
            )
        elif kind.value == "money":
            extra["currency"] = ui.input(ctx.t("builder.currency"), value="CNY").classes("w-24")
        elif kind.value == "formula":
            expression = ui.input(ctx.t("builder.expression")).classes("w-full font-mono")
            expression.props("data-testid=field-expression").mark("field-expression")
            verdict = ui.label("").props("data-testid=expression-check").mark("expression-check")
            extra["expression"] = expression

            def validate() -> None:
                ok, text = check_formula(ctx, obj.name, expression.value or "")
                verdict.text = text
                verdict.classes(replace="text-positive" if ok else "text-negative")

            expression.on_value_change(validate)
        elif kind.value == "rollup":
            extra["object"] = ui.select(sorted(view.objects), label=ctx.t("builder.rollup_object"))
            extra["via"] = ui.input(ctx.t("builder.rollup_via"))
            extra["aggregate"] = ui.select(
                list(ROLLUP_AGGREGATES), label=ctx.t("builder.rollup_aggregate"), value="count"
            )
            extra["field"] = ui.input(ctx.t("builder.rollup_field"))
            extra["where"] = ui.input(ctx.t("builder_edit.where")).classes("w-72 font-mono")
            for key, element in extra.items():
                element.props(f"data-testid=rollup-{key}").mark(f"rollup-{key}")
            draft = FieldDef(obj.name, (name.value or "").strip() or "draft", "rollup", {})
            rollup_verdict(ctx, obj, draft, extra, _error_text)

    def add_choice() -> None:
        state["choices"].append({"value": "", "en": "", "zh": ""})
        type_options.refresh()

    kind.on_value_change(lambda: type_options.refresh())
    with ui.column().classes("w-full"):
        type_options()
    problem = ui.column().classes("w-full")

    def save() -> None:
        problem.clear()
        spec: dict[str, Any] = {
            "name": (name.value or "").strip(),
            "type": kind.value,
            "required": bool(required.value),
        }
        labels = _labels(label_en.value, label_zh.value)
        if labels:
            spec["labels"] = labels
        if kind.value in CHOICE_TYPES:
            spec["choices"] = [
                {"value": c["value"].strip(), "labels": _labels(c["en"], c["zh"]) or c["value"]}
                for c in state["choices"]
                if c["value"].strip()
            ]
        for key, element in extra.items():
            if element.value not in (None, ""):
                spec[key] = element.value
        try:
            ctx.workspace.policy.check_schema_change(ctx.principal)
            added = ctx.workspace.schema.add_field(obj.name, spec)
        except DealcraftError as e:
            with problem:
                error_banner(DealcraftError(_error_text(e)), ctx.language)
            return
        ui.notify(ctx.t("builder.field_added", field=added.name), type="positive")
        name.value = label_en.value = label_zh.value = ""
        state["choices"] = [{"value": "", "en": "", "zh": ""}]
        type_options.refresh()
        on_added()

    ui.button(ctx.t("builder.save_field"), icon="add", on_click=save).props(
        "data-testid=add-field"
    ).mark("add-field")


def register(workspace: Workspace) -> None:
    page = partial(signed_in_page, workspace, title="builder.title")

    @page("/admin/objects")
    def builder_objects(ctx: PageContext) -> None:
        if _admin_only(ctx):
            objects_page(ctx)

    @page("/admin/objects/{object_name}")
    def builder_fields(ctx: PageContext, object_name: str) -> None:
        obj = workspace.registry.view().objects.get(object_name)
        if not _admin_only(ctx):
            return
        if obj is None:
            not_found(ctx)
            return
        fields_page(ctx, obj)

    @page("/admin/objects/{object_name}/fields/{field_name}")
    def builder_field(ctx: PageContext, object_name: str, field_name: str) -> None:
        obj = workspace.registry.view().objects.get(object_name)
        f = obj.field(field_name) if obj is not None else None
        if not _admin_only(ctx):
            return
        if obj is None or f is None:
            not_found(ctx)
            return
        field_editor(ctx, obj, f, check_formula, _error_text)

    @page("/admin/objects/{object_name}/layout")
    def builder_layout(ctx: PageContext, object_name: str) -> None:
        obj = workspace.registry.view().objects.get(object_name)
        if not _admin_only(ctx):
            return
        if obj is None:
            not_found(ctx)
            return
        layout_editor(ctx, obj, _error_text)
