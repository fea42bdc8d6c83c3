"""The flow builder: the step graph (Mermaid), a form per step built from its type's field
specs, saving through ``FlowService.save`` with the errors shown where they belong, the YAML
tab, and the dry run of the draft on one record."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from nicegui import ui

from dealcraft import expr
from dealcraft.errors import DealcraftError
from dealcraft.flows import definition as defs
from dealcraft.flows.dryrun import dry_run
from dealcraft.flows.registry import END, STEP_TYPES, TRIGGER_TYPES, Spec
from dealcraft.flows.service import FlowService
from dealcraft.schema.model import pick_label
from dealcraft.web.fields import record_title
from dealcraft.web.flows import flow_label, preview
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner

DRY_RUN_CHOICES = 50


# The graph -----------------------------------------------------------------------------------
def _condition_edges(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    edges = [(step["then"], "then")] if step.get("then") else []
    return [*edges, (step.get("else") or END, "else")]


def _branch_edges(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    cases = step.get("cases") if isinstance(step.get("cases"), list) else []
    edges = [
        (case["next"], f"case {i + 1}")
        for i, case in enumerate(cases)
        if isinstance(case, Mapping) and isinstance(case.get("next"), str)
    ]
    if step.get("default"):
        edges.append((step["default"], "default"))
    return edges


def _named_edge(key: str, label: str) -> Callable[[Mapping[str, Any]], list[tuple[str, str]]]:
    def edges(step: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(step[key], label)] if isinstance(step.get(key), str) else []

    return edges


# How each step type's jumps are labelled in the graph; another type's are "branch".
BRANCH_EDGES: dict[str, Callable[[Mapping[str, Any]], list[tuple[str, str]]]] = {
    "condition": _condition_edges,
    "branch": _branch_edges,
    "wait": _named_edge("on_timeout", "timeout"),
    "approval": _named_edge("on_reject", "rejected"),
}


# The default successor's label where it is one of several ways out.
FALL_THROUGH_LABELS = {"condition": "then", "branch": "default"}


def _node(step_id: str) -> str:
    # Prefixed, so a step id never collides with a Mermaid keyword (style, class, click…).
    return "END_" if step_id == END else f"s_{step_id}"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def graph_source(
    definition: Mapping[str, Any], broken: set[str], selected: str | None, language: str
) -> str:
    """The definition as a Mermaid flowchart: every step, its default successor and its
    labelled branches; steps with errors in red, the selected one outlined."""
    steps = [s for s in definition.get("steps") or [] if isinstance(s, Mapping) and s.get("id")]
    lines = ["flowchart TD", "  START_((start))", "  END_(((end)))"]
    for step in steps:
        handler = STEP_TYPES.get(step.get("type"))
        kind = handler.label if handler and handler.label else str(step.get("type"))
        title = step.get("label")
        if isinstance(title, dict):
            title = pick_label(title, language, step["id"])
        text = _mermaid_text(str(title or step["id"])) + "<br/><small>" + _mermaid_text(kind)
        lines.append(f'  {_node(step["id"])}["{text}</small>"]')
    if steps:
        lines.append(f"  START_ --> {_node(steps[0]['id'])}")
    for i, step in enumerate(steps):
        handler = STEP_TYPES.get(step.get("type"))
        source = _node(step["id"])
        if handler is None or handler.falls_through(step):
            target = step.get("next") or (steps[i + 1]["id"] if i + 1 < len(steps) else END)
            label = FALL_THROUGH_LABELS.get(str(step.get("type")))
            arrow = f"-->|{label}|" if label else "-->"
            lines.append(f"  {source} {arrow} {_node(str(target))}")
        edges = BRANCH_EDGES.get(str(step.get("type")))
        if edges is not None:
            jumps = edges(step)
        else:
            jumps = [(t, "branch") for t in (handler.branches(step) if handler else [])]
        for target, label in jumps:
            lines.append(f"  {source} -->|{_mermaid_text(label)}| {_node(str(target))}")
    lines.append("  classDef broken fill:#fde2e2,stroke:#c10015")
    lines.append("  classDef selected stroke-width:3px,stroke:#1976d2")
    for step in steps:
        if step["id"] in broken:
            lines.append(f"  class {_node(step['id'])} broken")
    if selected and any(s["id"] == selected for s in steps):
        lines.append(f"  class {_node(selected)} selected")
    return "\n".join(lines)


# Field inputs, one per kind of field spec ----------------------------------------------------
class FieldForm:
    """Inputs that edit one mapping of the draft (a step, the trigger, the flow's top level).

    Each input writes its value back into ``target`` as it changes; an emptied input removes
    the key. ``errors_at(location)`` gives the save errors to show under the input.
    """

    def __init__(
        self,
        ctx: PageContext,
        target: dict[str, Any],
        location: str,
        marker: str,
        object_name: str | None,
        step_ids: list[str],
        errors_at: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        self.ctx = ctx
        self.target = target
        self.location = location
        self.marker = marker
        self.object_name = object_name
        self.step_ids = step_ids
        self.errors_at = errors_at

    def set(self, key: str, value: Any) -> None:
        if value in (None, ""):
            self.target.pop(key, None)
        else:
            self.target[key] = value

    def field(self, key: str, spec: Spec) -> None:
        with ui.column().classes("w-full gap-0"):
            widget = WIDGETS.get(spec.kind, _text_input)
            if spec.choices:
                widget = _choice_input
            element = widget(self, key, spec)
            element.classes("w-full").props(f"data-testid={self.marker}-{key}").mark(
                f"{self.marker}-{key}"
            )
            for error in self.errors_at(f"{self.location}.{key}"):
                ui.label(error["message"]).classes("text-negative text-sm").props(
                    f"data-testid=error-{self.marker}-{key}"
                ).mark(f"error-{self.marker}-{key}")

    def label(self, key: str, spec: Spec) -> str:
        return f"{key} *" if spec.required else key


def _text_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    value = form.target.get(key)
    return ui.input(
        form.label(key, spec),
        value="" if value is None else str(value),
        on_change=lambda e: form.set(key, e.value),
    )


def _template_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    value = form.target.get(key)
    return ui.textarea(
        form.label(key, spec),
        value="" if value is None else str(value),
        on_change=lambda e: form.set(key, e.value),
    ).props("autogrow rows=1")


def _number_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    def changed(value: Any) -> None:
        if value is not None and spec.kind == "int":
            value = int(value)
        form.set(key, value)

    return ui.number(
        form.label(key, spec), value=form.target.get(key), on_change=lambda e: changed(e.value)
    )


def _bool_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    return ui.checkbox(
        form.label(key, spec),
        value=bool(form.target.get(key)),
        on_change=lambda e: form.set(key, True if e.value else None),
    )


def _select(form: FieldForm, key: str, spec: Spec, options: list[str]) -> ui.element:
    current = form.target.get(key)
    if current is not None and current not in options:
        options = [*options, current]  # a wrong value stays visible, with its save error
    return ui.select(
        options,
        label=form.label(key, spec),
        value=current,
        clearable=True,
        on_change=lambda e: form.set(key, e.value),
    )


def _choice_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    return _select(form, key, spec, list(spec.choices or ()))


def _object_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    return _select(form, key, spec, sorted(form.ctx.workspace.registry.view().objects))


def _field_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    view = form.ctx.workspace.registry.view()
    obj = view.objects.get(form.object_name) if form.object_name else None
    names = [f.name for f in obj.active_fields] if obj else []
    return _select(form, key, spec, names)


def _step_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    own = form.target.get("id")
    return _select(form, key, spec, [*(s for s in form.step_ids if s != own), END])


def _yaml_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    value = form.target.get(key)
    text = "" if value is None else yaml.safe_dump(value, allow_unicode=True, sort_keys=False)
    problem = ui.label("").classes("text-negative text-sm order-last")

    def changed(source: str) -> None:
        try:
            parsed = yaml.safe_load(source) if source.strip() else None
        except yaml.YAMLError as e:
            problem.text = form.ctx.t("flows.bad_yaml", problem=getattr(e, "problem", e))
            return
        problem.text = ""
        form.set(key, parsed)

    return ui.textarea(form.label(key, spec), value=text, on_change=lambda e: changed(e.value))


def _expression_input(form: FieldForm, key: str, spec: Spec) -> ui.element:
    value = form.target.get(key)
    verdict = ui.column().classes("gap-0 order-last")

    def changed(source: str) -> None:
        form.set(key, source)
        verdict.clear()
        with verdict:
            expression_verdict(form.ctx, form.object_name, source, f"{form.marker}-{key}")

    return ui.input(
        form.label(key, spec),
        value="" if value is None else str(value),
        on_change=lambda e: changed(e.value or ""),
    ).classes("font-mono")


def expression_verdict(ctx: PageContext, object_name: str | None, source: str, marker: str) -> None:
    """A condition checked as a save would: valid, or the problem with a caret under it."""
    if not source.strip() or object_name is None:
        return
    view = ctx.workspace.registry.view()
    # The parameters a run provides (the service account's, and :today), as a save assumes.
    params = {
        "user": {"id": 0, "username": "", "region": "", "teams": [], "reports": []},
        "today": dt.date.today(),
    }
    try:
        checked = expr.check(source, view, object_name, params)
    except expr.ExprError as e:
        details = e.to_details()
        with (
            ui.column()
            .classes("gap-0")
            .props(f"data-testid=expr-error-{marker}")
            .mark(f"expr-error-{marker}")
        ):
            ui.label(e.message).classes("text-negative text-sm")
            position, token = details.get("position"), details.get("token") or ""
            if isinstance(position, int):
                caret = " " * position + "^" * max(1, len(str(token)))
                ui.label(f"{source}\n{caret}").classes("font-mono whitespace-pre text-xs")
        return
    if checked.type not in (expr.ExprType.BOOLEAN, expr.ExprType.NULL):
        ui.label(ctx.t("flows.expression_type", type=checked.type.name.lower())).classes(
            "text-negative text-sm"
        ).mark(f"expr-error-{marker}")
        return
    ui.label(ctx.t("flows.expression_ok")).classes("text-positive text-sm").mark(
        f"expr-ok-{marker}"
    )


WIDGETS: dict[str, Callable[[FieldForm, str, Spec], ui.element]] = {
    "text": _text_input,
    "template": _template_input,
    "expression": _expression_input,
    "object": _object_input,
    "field": _field_input,
    "step": _step_input,
    "event": _text_input,
    "user": _text_input,
    "duration": _text_input,
    "int": _number_input,
    "number": _number_input,
    "bool": _bool_input,
    "mapping": _yaml_input,
    "list": _yaml_input,
    "any": _yaml_input,
}
COMMON_FIELDS = {"next": Spec("step"), "label": Spec("text")}
FLOW_FIELDS = {"run_as": Spec("user", required=True), "condition": Spec("expression")}


# The builder ---------------------------------------------------------------------------------
class Builder:
    """The builder's state: the draft, the selected step, the last save's errors."""

    def __init__(self, ctx: PageContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.service = FlowService(ctx.workspace)
        self.draft: dict[str, Any] = copy.deepcopy(self.service.definition(name))
        steps = self.steps
        self.selected: str | None = steps[0]["id"] if steps else None
        self.errors: list[dict[str, Any]] = []

    @property
    def steps(self) -> list[dict[str, Any]]:
        steps = self.draft.get("steps")
        return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []

    @property
    def object_name(self) -> str | None:
        trigger = self.draft.get("trigger")
        return trigger.get("object") if isinstance(trigger, dict) else None

    def step(self, step_id: str | None) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("id") == step_id), None)

    def errors_at(self, location: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.errors
            if e["field"] == location or e["field"].startswith((location + ".", location + "["))
        ]

    def broken_steps(self) -> set[str]:
        return {
            e["field"].split(".")[1]
            for e in self.errors
            if e["field"].startswith("steps.") and "." in e["field"]
        }

    def save(self, definition: dict[str, Any]) -> dict[str, Any] | None:
        try:
            saved = self.service.save(definition, self.ctx.principal)
        except DealcraftError as e:
            self.errors = list(e.details.get("errors") or []) or [
                {"field": "definition", "code": e.code, "message": e.message}
            ]
            return None
        self.errors = []
        return saved


def builder_page(ctx: PageContext, name: str) -> None:
    b = Builder(ctx, name)
    ui.link(ctx.t("flows.title"), "/flows").classes("text-grey-7")
    with ui.row().classes("items-center w-full"):
        ui.label(flow_label(b.draft, ctx.language)).classes("text-h5")
        ui.label(name).classes("text-grey-6")
        ui.space()
        ui.link(ctx.t("flows.history"), f"/flows/runs?flow={name}")

    @ui.refreshable
    def graph() -> None:
        ui.mermaid(graph_source(b.draft, b.broken_steps(), b.selected, ctx.language)).classes(
            "w-full"
        ).props("data-testid=flow-graph").mark("flow-graph")

    @ui.refreshable
    def summary() -> None:
        if not b.errors:
            return
        with (
            ui.card()
            .classes("w-full bg-red-1")
            .props("flat bordered data-testid=definition-errors")
            .mark("definition-errors")
        ):
            ui.label(ctx.t("flows.errors", count=len(b.errors))).classes("text-negative")
            for error in b.errors:
                ui.label(f"{error['field']}: {error['message']}").classes("text-sm")

    @ui.refreshable
    def step_form() -> None:
        ids = [s["id"] for s in b.steps if isinstance(s.get("id"), str)]
        ui.select(
            ids, label=ctx.t("flows.step"), value=b.selected, on_change=lambda e: select(e.value)
        ).classes("w-full").props("data-testid=step-select").mark("step-select")
        step = b.step(b.selected)
        if step is None:
            return
        handler = STEP_TYPES.get(step.get("type"))
        ui.label(f"{ctx.t('flows.step_type')}: {step.get('type')}").classes("text-grey-7")
        where = f"steps.{step['id']}"
        for error in b.errors:
            if error["field"] in (where, f"{where}.id", f"{where}.type"):
                ui.label(error["message"]).classes("text-negative text-sm").mark("step-error")
        form = FieldForm(ctx, step, where, "step-field", b.object_name, ids, b.errors_at)
        for key, spec in (handler.fields if handler else {}).items():
            form.field(key, spec)
        ui.label(ctx.t("flows.common")).classes("text-xs text-grey-7 pt-2")
        for key, spec in COMMON_FIELDS.items():
            form.field(key, spec)
        ui.button(ctx.t("flows.delete_step"), icon="delete", on_click=delete_step).props(
            "flat color=negative data-testid=delete-step"
        ).mark("delete-step")

    @ui.refreshable
    def settings_form() -> None:
        flow_form = FieldForm(ctx, b.draft, "flow", "flow-field", b.object_name, [], b.errors_at)
        for key, spec in FLOW_FIELDS.items():
            flow_form.field(key, spec)
        trigger = b.draft.setdefault("trigger", {})
        if not isinstance(trigger, dict):
            return  # YAML that is not a mapping; its save error says so
        handler = TRIGGER_TYPES.get(trigger.get("type"))
        ui.select(
            sorted(TRIGGER_TYPES),
            label=ctx.t("flows.trigger"),
            value=trigger.get("type") if handler else None,
            on_change=lambda e: change_trigger(e.value),
        ).classes("w-full").props("data-testid=trigger-type").mark("trigger-type")
        trigger_form = FieldForm(
            ctx, trigger, "trigger", "trigger-field", b.object_name, [], b.errors_at
        )
        for key, spec in (handler.fields if handler else {}).items():
            trigger_form.field(key, spec)

    def change_trigger(kind: str | None) -> None:
        trigger = b.draft.get("trigger")
        trigger = trigger if isinstance(trigger, dict) else {}
        if kind and kind != trigger.get("type"):
            keep = TRIGGER_TYPES[kind].fields
            b.draft["trigger"] = {"type": kind, **{k: v for k, v in trigger.items() if k in keep}}
            settings_form.refresh()

    def select(step_id: str | None) -> None:
        if step_id == b.selected:
            return
        b.selected = step_id
        step_form.refresh()
        graph.refresh()

    def delete_step() -> None:
        b.draft["steps"] = [s for s in b.steps if s.get("id") != b.selected]
        b.selected = b.steps[0]["id"] if b.steps else None
        redraw()

    def add_step() -> None:
        step_id = (new_id.value or "").strip()
        taken = {s.get("id") for s in b.steps}
        if not defs.NAME.match(step_id) or step_id == END or step_id in taken:
            ui.notify(ctx.t("flows.bad_step_id"), type="negative")
            return
        steps = b.steps
        at = next((i + 1 for i, s in enumerate(steps) if s.get("id") == b.selected), len(steps))
        steps.insert(at, {"id": step_id, "type": new_type.value})
        b.draft["steps"] = steps
        b.selected = step_id
        new_id.value = ""
        redraw()

    def redraw() -> None:
        graph.refresh()
        step_form.refresh()
        summary.refresh()
        settings_form.refresh()

    def save_draft() -> None:
        saved = b.save(copy.deepcopy(b.draft))
        redraw()
        if saved is None:
            return
        key = "flows.saved" if saved["changed"] else "flows.unchanged"
        outcome.text = ctx.t(key, version=saved["version"])
        ui.notify(outcome.text, type="positive")

    def save_yaml() -> None:
        try:
            parsed = defs.load_yaml(yaml_text.value or "")
        except DealcraftError as e:
            b.errors = [{"field": "definition", "code": e.code, "message": e.message}]
            summary.refresh()
            return
        b.draft = parsed
        save_draft()

    def apply_yaml() -> None:
        try:
            b.draft = defs.load_yaml(yaml_text.value or "")
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        ids = [s.get("id") for s in b.steps]
        b.selected = b.selected if b.selected in ids else (ids[0] if ids else None)
        redraw()

    summary()
    with ui.tabs().classes("w-full") as tabs:
        visual = ui.tab(ctx.t("flows.builder")).mark("tab-builder")
        raw = ui.tab(ctx.t("flows.yaml")).mark("tab-yaml")

    def show_yaml() -> None:
        yaml_text.value = defs.dump_yaml(b.draft)

    tabs.on_value_change(lambda e: show_yaml() if e.value == raw else None)
    with ui.tab_panels(tabs, value=visual).classes("w-full"):
        with ui.tab_panel(visual):
            with ui.row().classes("w-full items-start no-wrap gap-4"):
                with ui.column().classes("w-1/2"):
                    ui.label(ctx.t("flows.graph")).classes("text-subtitle1")
                    graph()
                    with ui.row().classes("items-end gap-2"):
                        new_type = ui.select(
                            sorted(STEP_TYPES), value="notify", label=ctx.t("flows.step_type")
                        ).classes("w-48")
                        new_type.props("data-testid=new-step-type").mark("new-step-type")
                        new_id = ui.input(ctx.t("flows.new_step_id")).classes("w-40")
                        new_id.props("data-testid=new-step-id").mark("new-step-id")
                        ui.button(ctx.t("flows.add_step"), icon="add", on_click=add_step).props(
                            "data-testid=add-step"
                        ).mark("add-step")
                    with ui.expansion(ctx.t("flows.settings")).classes("w-full"):
                        settings_form()
                with ui.card().classes("w-1/2"):
                    step_form()
        with ui.tab_panel(raw):
            yaml_text = (
                ui.textarea(value=defs.dump_yaml(b.draft))
                .classes("w-full font-mono")
                .props("rows=24 data-testid=flow-yaml")
                .mark("flow-yaml")
            )
            with ui.row():
                ui.button(ctx.t("flows.apply_yaml"), on_click=apply_yaml).props(
                    "flat data-testid=apply-yaml"
                ).mark("apply-yaml")
                ui.button(ctx.t("flows.save_yaml"), on_click=save_yaml).props(
                    "data-testid=save-yaml"
                ).mark("save-yaml")
    with ui.row().classes("items-center gap-2"):
        ui.button(ctx.t("flows.save"), icon="save", on_click=save_draft).props(
            "data-testid=save-flow"
        ).mark("save-flow")
        outcome = ui.label("").props("data-testid=save-outcome").mark("save-outcome")
    dry_run_panel(ctx, b)


# The dry run ---------------------------------------------------------------------------------
def dry_run_panel(ctx: PageContext, b: Builder) -> None:
    view = ctx.workspace.registry.view()
    object_name = b.object_name
    obj = view.objects.get(object_name) if object_name else None
    with ui.card().classes("w-full"):
        ui.label(ctx.t("flows.dry_run")).classes("text-subtitle1")
        ui.label(ctx.t("flows.dry_run.help")).classes("text-grey-7 text-sm")
        choice = record_id = None
        with ui.row().classes("items-end gap-2"):
            if obj is not None:
                try:
                    recent = ctx.workspace.records.list(
                        ctx.principal, obj.name, sort="-updated_at", limit=DRY_RUN_CHOICES
                    ).data
                except DealcraftError:
                    recent = []
                options = {r["id"]: f"{record_title(obj, r)} (#{r['id']})" for r in recent}
                choice = ui.select(
                    options, label=f"{ctx.t('flows.dry_run.record')}: {obj.label(ctx.language)}"
                ).classes("w-72")
                choice.props("data-testid=dry-run-record").mark("dry-run-record")
                record_id = ui.number(ctx.t("flows.dry_run.record_id"), format="%d").classes("w-32")
                record_id.props("data-testid=dry-run-id").mark("dry-run-id")
            ui.button(ctx.t("flows.dry_run.go"), icon="play_arrow", on_click=lambda: go()).props(
                "data-testid=dry-run"
            ).mark("dry-run")
        results = ui.column().classes("w-full")

    def go() -> None:
        chosen = None
        if record_id is not None and record_id.value not in (None, ""):
            chosen = int(record_id.value)
        elif choice is not None and choice.value is not None:
            chosen = int(choice.value)
        results.clear()
        with results:
            try:
                outcome = dry_run(
                    ctx.workspace, copy.deepcopy(b.draft), object_name, chosen, ctx.principal
                )
            except DealcraftError as e:
                error_banner(e, ctx.language)
                return
            dry_run_table(ctx, outcome)


def dry_run_table(ctx: PageContext, outcome: Mapping[str, Any]) -> None:
    for note in outcome["notes"]:
        ui.label(ctx.t(f"flows.note.{note}")).classes("text-warning").mark(f"dry-run-note-{note}")
    if not outcome["starts"]:
        ui.label(ctx.t("flows.dry_run.no_start")).mark("dry-run-no-start")
        return
    headings = ("flows.step", "flows.status", "flows.dry_run.would", "flows.output")
    with (
        ui.element("table")
        .classes("w-full text-left text-sm")
        .props("data-testid=dry-run-steps")
        .mark("dry-run-steps")
    ):
        with ui.element("tr"):
            for key in headings:
                with ui.element("th").classes("p-1 border-b"):
                    ui.label(ctx.t(key))
        for step in outcome["steps"]:
            with ui.element("tr").props(f"data-dry-step={step['step']}"):
                with ui.element("td").classes("p-1 border-b align-top"):
                    ui.label(step["step"]).classes("font-medium")
                    ui.label(step["type"]).classes("text-grey-6 text-xs")
                with ui.element("td").classes("p-1 border-b align-top"):
                    ui.label(step["status"]).mark(f"dry-status-{step['step']}")
                    if step["next"]:
                        ui.label(f"→ {step['next']}").classes("text-grey-7 text-xs")
                with ui.element("td").classes("p-1 border-b align-top"):
                    _would(ctx, step)
                with ui.element("td").classes("p-1 border-b align-top"):
                    ui.label(preview(step["output"])).classes("font-mono text-xs")


def _would(ctx: PageContext, step: Mapping[str, Any]) -> None:
    if not step["effects"] and not step["wait"] and not step["error"]:
        ui.label(ctx.t("flows.dry_run.nothing")).classes("text-grey-6")
    for effect in step["effects"]:
        ui.label(f"{effect['kind']}: {preview(effect['request'])}").classes(
            "font-mono text-xs"
        ).mark(f"dry-effect-{step['step']}")
    if step["wait"]:
        wait = step["wait"]
        ui.label(f"wait: {preview({k: v for k, v in wait.items() if v})}").classes(
            "font-mono text-xs"
        )
    for note in step["notes"]:
        ui.label(ctx.t(f"flows.note.{note}")).classes("text-grey-7 text-xs")
    if step["error"]:
        ui.label(f"{step['error']['code']}: {step['error']['message']}").classes(
            "text-negative text-sm"
        ).mark(f"dry-error-{step['step']}")
    for line in step["logs"]:
        ui.label(f"{line['level']}: {line['message']}").classes("text-grey-7 text-xs")
