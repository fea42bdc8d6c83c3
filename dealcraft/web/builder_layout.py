"""The builder's layout editor: the sections of an object's record page, the fields in each
(moved within and between sections), and which related lists the page shows.

The editor keeps a draft in the page and saves it with ``SchemaService.save_layout``, which
checks it (a section needs a field; a field is in one section) and writes every field's
section and position in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.schema.model import ObjectDef
from dealcraft.web.builder_fields import labels_from
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner

logger = logging.getLogger(__name__)

add_strings(
    {
        "builder_layout.title": {"en": "Record page of {object}", "zh-CN": "{object}的记录页布局"},
        "builder_layout.open": {"en": "Record page layout", "zh-CN": "记录页布局"},
        "builder_layout.section_key": {"en": "Section key", "zh-CN": "分组标识"},
        "builder_layout.add_section": {"en": "Add a section", "zh-CN": "添加分组"},
        "builder_layout.move_to": {"en": "Move to", "zh-CN": "移至分组"},
        "builder_layout.related": {"en": "Related lists shown", "zh-CN": "显示的相关列表"},
        "builder_layout.save": {"en": "Save layout", "zh-CN": "保存布局"},
        "builder_layout.saved": {"en": "Layout saved", "zh-CN": "布局已保存"},
        "builder_layout.default": {
            "en": "No layout saved yet: the page shows one Details section in field order.",
            "zh-CN": "尚未保存布局：记录页按字段顺序显示一个“详细信息”分组。",
        },
        "builder_layout.empty": {
            "en": "Move a field here, or remove the section.",
            "zh-CN": "请移入字段，或删除此分组。",
        },
    }
)


def layout_editor(
    ctx: PageContext, obj: ObjectDef, error_text: Callable[[DealcraftError], str]
) -> None:
    schema = ctx.workspace.schema
    layout = schema.layout(obj.name)
    view = ctx.workspace.registry.view()
    ui.link(ctx.t("builder_edit.back"), f"/admin/objects/{obj.name}").classes("text-grey-7")
    ui.label(ctx.t("builder_layout.title", object=obj.label(ctx.language))).classes("text-h5")
    if not layout.saved:
        ui.label(ctx.t("builder_layout.default")).classes("text-grey-7")

    # The draft: sections with their labels and field names, in order.
    sections: list[dict[str, Any]] = [
        {
            "key": s.key,
            "en": s.labels.get("en", ""),
            "zh": s.labels.get("zh-CN", ""),
            "fields": list(s.fields),
        }
        for s in layout.sections
    ]
    shown = {r.key: r.shown for r in layout.related_lists}

    def label_of(name: str) -> str:
        f = obj.field(name)
        return f"{f.label(ctx.language)} ({name})" if f else name

    @ui.refreshable
    def editor() -> None:
        keys = [s["key"] for s in sections]
        for i, section in enumerate(sections):
            with (
                ui.card()
                .classes("w-full")
                .props(f"data-layout-section={i}")
                .mark(f"layout-section-{i}")
            ):
                with ui.row().classes("items-center gap-2 w-full"):
                    ui.input(ctx.t("builder_layout.section_key")).bind_value(section, "key").props(
                        f"data-testid=section-key-{i}"
                    ).mark(f"section-key-{i}").classes("w-40")
                    ui.input(ctx.t("builder.label_en")).bind_value(section, "en").props(
                        f"data-testid=section-en-{i}"
                    ).mark(f"section-en-{i}")
                    ui.input(ctx.t("builder.label_zh")).bind_value(section, "zh").props(
                        f"data-testid=section-zh-{i}"
                    ).mark(f"section-zh-{i}")
                    ui.space()
                    ui.button(icon="arrow_upward", on_click=lambda i=i: move_section(i, -1)).props(
                        f"flat dense data-testid=section-up-{i}"
                    ).mark(f"section-up-{i}")
                    ui.button(icon="arrow_downward", on_click=lambda i=i: move_section(i, 1)).props(
                        f"flat dense data-testid=section-down-{i}"
                    ).mark(f"section-down-{i}")
                    ui.button(icon="delete", on_click=lambda i=i: remove_section(i)).props(
                        f"flat dense color=negative data-testid=section-remove-{i}"
                    ).mark(f"section-remove-{i}")
                if not section["fields"]:
                    ui.label(ctx.t("builder_layout.empty")).classes("text-grey-6 text-sm")
                for name in section["fields"]:
                    with ui.row().classes("items-center gap-2").props(f"data-layout-field={name}"):
                        ui.label(label_of(name)).classes("w-64")
                        ui.button(
                            icon="arrow_upward", on_click=lambda n=name: move_field(n, -1)
                        ).props(f"flat dense data-testid=layout-up-{name}").mark(
                            f"layout-up-{name}"
                        )
                        ui.button(
                            icon="arrow_downward", on_click=lambda n=name: move_field(n, 1)
                        ).props(f"flat dense data-testid=layout-down-{name}").mark(
                            f"layout-down-{name}"
                        )
                        ui.select(
                            {j: keys[j] for j in range(len(keys))},
                            value=i,
                            label=ctx.t("builder_layout.move_to"),
                            on_change=lambda e, n=name: move_to(n, e.value),
                        ).classes("w-40").props(f"dense data-testid=layout-move-{name}").mark(
                            f"layout-move-{name}"
                        )
        with ui.row().classes("items-center gap-2"):
            new_key = ui.input(ctx.t("builder_layout.section_key")).props(
                "data-testid=new-section-key"
            )
            new_key.mark("new-section-key")
            ui.button(
                ctx.t("builder_layout.add_section"),
                icon="add",
                on_click=lambda: add_section(new_key.value),
            ).props("flat data-testid=add-section").mark("add-section")

    def section_of(name: str) -> int:
        return next(i for i, s in enumerate(sections) if name in s["fields"])

    def move_field(name: str, step: int) -> None:
        """Up or down within the section; past its edge, into the section before or after."""
        i = section_of(name)
        fields = sections[i]["fields"]
        j = fields.index(name) + step
        if 0 <= j < len(fields):
            fields[j], fields[j - step] = fields[j - step], fields[j]
        elif 0 <= i + step < len(sections):
            fields.remove(name)
            target = sections[i + step]["fields"]
            if step < 0:
                target.append(name)
            else:
                target.insert(0, name)
        editor.refresh()

    def move_to(name: str, target: int) -> None:
        i = section_of(name)
        if target == i or not 0 <= target < len(sections):
            return
        sections[i]["fields"].remove(name)
        sections[target]["fields"].append(name)
        editor.refresh()

    def move_section(i: int, step: int) -> None:
        j = i + step
        if 0 <= j < len(sections):
            sections[i], sections[j] = sections[j], sections[i]
            editor.refresh()

    def remove_section(i: int) -> None:
        """A removed section's fields join its neighbour, so no field leaves the page."""
        if len(sections) == 1:
            return
        removed = sections.pop(i)
        neighbour = sections[max(i - 1, 0)]
        neighbour["fields"].extend(removed["fields"])
        editor.refresh()

    def add_section(key: str | None) -> None:
        key = (key or "").strip()
        if key:
            sections.append({"key": key, "en": "", "zh": "", "fields": []})
            editor.refresh()

    with ui.column().classes("w-full"):
        editor()

    # Related lists: which references into the object are listed on its page.
    checks: dict[str, Any] = {}
    if layout.related_lists:
        with ui.card().classes("w-full"):
            ui.label(ctx.t("builder_layout.related")).classes("text-subtitle1")
            for related in layout.related_lists:
                other = view.objects[related.object_name]
                f = other.field(related.field)
                text = other.label(ctx.language)
                if f is not None:
                    text += f" · {f.label(ctx.language)}"
                checks[related.key] = (
                    ui.checkbox(text, value=shown[related.key])
                    .props(f"data-testid=related-{related.key}")
                    .mark(f"related-{related.key}")
                )

    problem = ui.column().classes("w-full")

    def save() -> None:
        problem.clear()
        spec = {
            "sections": [
                {
                    "key": (s["key"] or "").strip(),
                    "labels": labels_from(s["en"], s["zh"]) or (s["key"] or "").strip(),
                    "fields": list(s["fields"]),
                }
                for s in sections
            ],
            "related_lists": [key for key, box in checks.items() if box.value],
        }
        try:
            ctx.workspace.policy.check_schema_change(ctx.principal)
            schema.save_layout(obj.name, spec)
        except DealcraftError as e:
            with problem:
                error_banner(DealcraftError(error_text(e)), ctx.language)
            return
        ui.notify(ctx.t("builder_layout.saved"), type="positive")

    ui.button(ctx.t("builder_layout.save"), icon="save", on_click=save).props(
        "data-testid=save-layout"
    ).mark("save-layout")
