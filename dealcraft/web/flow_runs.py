"""The run history of flows, and one run step by step: input, output, timing, effects and
log lines, with retry and cancel for a parked run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.flows.service import FlowService
from dealcraft.web.flows import json_block, preview
from dealcraft.web.session import PageContext
from dealcraft.web.shell import error_banner

RUN_STATUSES = ("pending", "running", "waiting", "retrying", "parked", "completed", "cancelled")
CANCELLABLE = ("pending", "running", "waiting", "retrying", "parked")


# Runs ----------------------------------------------------------------------------------------
def runs_page(ctx: PageContext, flow: str | None, status: str | None) -> None:
    service = FlowService(ctx.workspace)
    ui.link(ctx.t("flows.title"), "/flows").classes("text-grey-7")
    ui.label(ctx.t("flows.history")).classes("text-h5")
    names = {"": ctx.t("flows.all"), **{f["name"]: f["name"] for f in service.list()}}
    statuses = {"": ctx.t("flows.all"), **{s: s for s in RUN_STATUSES}}

    def filtered(new_flow: str | None, new_status: str | None) -> None:
        query = "&".join(
            f"{key}={value}" for key, value in (("flow", new_flow), ("status", new_status)) if value
        )
        ui.navigate.to("/flows/runs" + (f"?{query}" if query else ""))

    with ui.row().classes("gap-2"):
        pick_flow = ui.select(
            names,
            label=ctx.t("flows.name"),
            value=flow if flow in names else "",
            on_change=lambda e: filtered(e.value, pick_status.value),
        ).classes("w-56")
        pick_flow.props("data-testid=runs-flow").mark("runs-flow")
        pick_status = ui.select(
            statuses,
            label=ctx.t("flows.status"),
            value=status if status in statuses else "",
            on_change=lambda e: filtered(pick_flow.value, e.value),
        ).classes("w-40")
        pick_status.props("data-testid=runs-status").mark("runs-status")
    runs = service.runs(flow or None, status or None, limit=200)
    if not runs:
        ui.label(ctx.t("flows.no_runs")).mark("no-runs")
        return
    headings = ("flows.run", "flows.name", "flows.status", "flows.record", "flows.started")
    with ui.element("table").classes("w-full text-left text-sm").mark("runs-table"):
        with ui.element("tr"):
            for key in (*headings, "flows.finished", "flows.error"):
                with ui.element("th").classes("p-1 border-b"):
                    ui.label(ctx.t(key, id=""))
        for run in runs:
            with ui.element("tr").props(f"data-run={run['id']}"):
                cells = (
                    run["flow"],
                    run["status"],
                    f"{run['object']} {run['record_id']}" if run["record_id"] else "-",
                    _time(run["created_at"]),
                    _time(run["finished_at"]),
                    (run["error"] or {}).get("code", ""),
                )
                with ui.element("td").classes("p-1 border-b"):
                    ui.link(f"#{run['id']}", f"/flows/runs/{run['id']}").mark(f"run-{run['id']}")
                for text in cells:
                    with ui.element("td").classes("p-1 border-b"):
                        ui.label(str(text))


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.rstrip("Z")) if value else None


def _time(value: str | None) -> str:
    """A stored UTC time to the second, as people read it."""
    moment = _parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(step: Mapping[str, Any]) -> str:
    seconds = (step.get("output") or {}).get("seconds")
    if seconds is None:
        started, finished = _parse_time(step["started_at"]), _parse_time(step["finished_at"])
        if started is None or finished is None:
            return "-"
        seconds = (finished - started).total_seconds()
    return f"{float(seconds) * 1000:.0f} ms" if seconds < 10 else f"{float(seconds):.1f} s"


def run_page(ctx: PageContext, run: Mapping[str, Any]) -> None:
    service = FlowService(ctx.workspace)
    run_id = int(run["id"])
    ui.link(ctx.t("flows.history"), f"/flows/runs?flow={run['flow']}").classes("text-grey-7")
    with ui.row().classes("items-center gap-3"):
        ui.label(ctx.t("flows.run", id=run_id)).classes("text-h5")
        ui.link(f"{run['flow']} v{run['version']}", f"/flows/{run['flow']}")
        ui.badge(run["status"]).props("data-testid=run-status").mark("run-status")
        if run["record_id"]:
            ui.link(f"{run['object']} {run['record_id']}", f"/o/{run['object']}/{run['record_id']}")

    def act(action: Callable[..., None], done_key: str) -> None:
        try:
            action(run_id, ctx.principal)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        ui.notify(ctx.t(done_key, id=run_id), type="positive")
        ui.navigate.reload()

    with ui.row().classes("gap-2"):
        if run["status"] == "parked":
            ui.button(
                ctx.t("flows.retry"),
                icon="replay",
                on_click=lambda: act(service.retry, "flows.retried"),
            ).props("data-testid=retry-run").mark("retry-run")
        if run["status"] in CANCELLABLE:
            ui.button(
                ctx.t("flows.cancel"),
                icon="cancel",
                on_click=lambda: act(service.cancel, "flows.cancelled"),
            ).props("flat color=negative data-testid=cancel-run").mark("cancel-run")
    if run["error"]:
        error_banner(
            DealcraftError(f"{run['error'].get('code')}: {run['error'].get('message')}"),
            ctx.language,
        )

    # Each step visit: status, attempts, timing, then its input, output and error.
    headings = ("flows.step", "flows.status", "flows.attempts", "flows.started")
    with ui.element("table").classes("w-full text-left text-sm").mark("run-steps"):
        with ui.element("tr"):
            for key in (*headings, "flows.finished", "flows.duration"):
                with ui.element("th").classes("p-1 border-b"):
                    ui.label(ctx.t(key))
        for step in run["steps"]:
            with ui.element("tr").props(f"data-step={step['step']}"):
                texts = (
                    f"{step['seq']}. {step['step']} ({step['type']})",
                    step["status"],
                    str(step["attempts"]),
                    _time(step["started_at"]),
                    _time(step["finished_at"]),
                    _duration(step),
                )
                for i, text in enumerate(texts):
                    with ui.element("td").classes("p-1 border-b"):
                        label = ui.label(text)
                        if i == 5:
                            label.mark(f"duration-{step['step']}")
            with ui.element("tr"):
                with ui.element("td").props("colspan=6").classes("p-1 border-b"):
                    with ui.expansion(ctx.t("flows.input") + " / " + ctx.t("flows.output")).mark(
                        f"step-detail-{step['step']}"
                    ):
                        with ui.row().classes("w-full no-wrap gap-4"):
                            with ui.column().classes("w-1/2"):
                                ui.label(ctx.t("flows.input")).classes("text-xs text-grey-7")
                                json_block(step["input"])
                            with ui.column().classes("w-1/2"):
                                ui.label(ctx.t("flows.output")).classes("text-xs text-grey-7")
                                json_block(step["output"])
                        if step["error"]:
                            ui.label(ctx.t("flows.error")).classes("text-xs text-grey-7")
                            json_block(step["error"])

    ui.label(ctx.t("flows.effects")).classes("text-subtitle1")
    effects = run["effects"]
    if not effects:
        ui.label(ctx.t("flows.no_effects"))
    for effect in effects:
        ui.label(
            f"{effect['step_id']} · {effect['kind']} · {effect['status']} · "
            f"×{effect['attempts']} · {preview(effect['result'])}"
        ).classes("font-mono text-xs").mark("run-effect")

    ui.label(ctx.t("flows.logs")).classes("text-subtitle1")
    if not run["logs"]:
        ui.label(ctx.t("flows.no_logs"))
    for line in run["logs"]:
        ui.label(
            f"{_time(line['at'])} {line['level']} [{line['step'] or '-'}] {line['message']}"
        ).classes("font-mono text-xs").mark("run-log")
