"""Workbenches by role: a rep's day, a manager's team pipeline, the admin's user list.

Every number comes from records the principal may read, through the record service.
Until the metrics capability offers aggregates through the same gate, pipelines are summed
here from at most ``PIPELINE_LIMIT`` opportunities, and the page says so when it stops.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.web.fields import ReferenceTitles, choice_options, record_title
from dealcraft.web.records import render_rows
from dealcraft.web.session import PageContext
from dealcraft.web.shell import frame, require_context, to_login
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PIPELINE_LIMIT = 5000
OPEN = "stage not in ('won', 'lost')"


def _fmt(amount: float) -> str:
    return f"{amount:,.0f}"


def pipeline(ctx: PageContext, where: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """Count and amount per stage and per owner of the opportunities matching ``where``."""
    records = ctx.workspace.records
    by_stage: dict[str, dict[str, float]] = defaultdict(lambda: {"count": 0, "amount": 0.0})
    by_owner: dict[int | None, dict[str, float]] = defaultdict(lambda: {"count": 0, "amount": 0.0})
    cursor, seen = None, 0
    while True:
        page = records.list(ctx.principal, "opportunity", where=where, limit=500, cursor=cursor)
        for r in page.data:
            for bucket in (by_stage[r.get("stage")], by_owner[r.get("owner")]):
                bucket["count"] += 1
                bucket["amount"] += r.get("amount") or 0.0
        seen += len(page.data)
        cursor = page.next_cursor
        if cursor is None or seen >= PIPELINE_LIMIT:
            break
    return {"stage": dict(by_stage), "owner": dict(by_owner)}, cursor is not None


def _chart_and_table(
    title: str, option: dict[str, Any], header: list[str], rows: list[list[str]], testid: str
) -> None:
    """A chart with the same numbers as a table beside it (readable without the chart)."""
    with ui.card().classes("w-full").props(f"data-testid={testid}").mark(testid):
        ui.label(title).classes("text-subtitle1")
        with ui.row().classes("w-full items-start no-wrap gap-4 flex-wrap md:flex-nowrap"):
            ui.echart(option).classes("min-w-[280px] flex-grow h-72")
            with ui.element("table").classes("text-sm min-w-[240px]"):
                with ui.element("tr"):
                    for text in header:
                        with ui.element("th").classes("p-1 border-b text-left"):
                            ui.label(text)
                for row in rows:
                    with ui.element("tr"):
                        for text in row:
                            with ui.element("td").classes("p-1 border-b"):
                                ui.label(text)


def _stage_rows(ctx: PageContext, stats: dict[str, dict[str, Any]]) -> list[tuple[str, dict]]:
    view = ctx.workspace.registry.view()
    stage = view.objects["opportunity"].field("stage")
    labels = choice_options(stage, ctx.language) if stage else {}
    return [(labels.get(v, v), stats[v]) for v in labels if v in stats]


def stage_chart(ctx: PageContext, title: str, stats, funnel: bool, testid: str) -> None:
    rows = _stage_rows(ctx, stats)
    if funnel:
        option = {
            "tooltip": {"trigger": "item"},
            "series": [
                {
                    "type": "funnel",
                    "sort": "none",
                    "data": [{"name": label, "value": s["amount"]} for label, s in rows],
                }
            ],
        }
    else:
        option = {
            "tooltip": {},
            "xAxis": {"type": "category", "data": [label for label, _ in rows]},
            "yAxis": {"type": "value"},
            "series": [{"type": "bar", "data": [s["amount"] for _, s in rows]}],
        }
    _chart_and_table(
        title,
        option,
        [ctx.t("col.stage"), ctx.t("col.count"), ctx.t("col.amount")],
        [[label, str(int(s["count"])), _fmt(s["amount"])] for label, s in rows],
        testid,
    )


# My day --------------------------------------------------------------------------------------
def my_day(ctx: PageContext) -> None:
    records = ctx.workspace.records
    view = ctx.workspace.registry.view()
    ui.label(ctx.t("day.title")).classes("text-h5")

    with ui.row().classes("w-full items-start gap-3 flex-wrap md:flex-nowrap"):
        with (
            ui.card()
            .classes("flex-1 min-w-[280px]")
            .props("data-testid=tasks-due")
            .mark("tasks-due")
        ):
            ui.label(ctx.t("day.tasks")).classes("text-subtitle1")
            try:
                tasks = records.list(
                    ctx.principal,
                    "task",
                    sort="due",
                    limit=20,
                    where="assignee = :user.id and status in ('open', 'in_progress') "
                    "and due <= today()",
                ).data
            except DealcraftError:
                tasks = []
            if not tasks:
                ui.label(ctx.t("day.tasks.none")).classes("text-grey-6")
            for task in tasks:
                with ui.row().classes("gap-2"):
                    ui.label(task.get("due") or "").classes("text-grey-7 text-sm")
                    ui.link(record_title(view.objects["task"], task), f"/o/task/{task['id']}")

        with (
            ui.card()
            .classes("flex-1 min-w-[280px]")
            .props("data-testid=leads-waiting")
            .mark("leads-waiting")
        ):
            ui.label(ctx.t("day.leads")).classes("text-subtitle1")
            try:
                leads = records.list(
                    ctx.principal,
                    "lead",
                    sort="assigned_at",
                    limit=20,
                    where="assigned_to = :user.id and first_contacted_at is null "
                    "and status in ('new', 'assigned')",
                ).data
            except DealcraftError:
                leads = []
            if not leads:
                ui.label(ctx.t("day.leads.none")).classes("text-grey-6")
            now = datetime.now(UTC).replace(tzinfo=None)
            for lead in leads:
                with ui.row().classes("gap-2 items-center"):
                    ui.link(record_title(view.objects["lead"], lead), f"/o/lead/{lead['id']}")
                    if lead.get("assigned_at"):
                        assigned = datetime.fromisoformat(lead["assigned_at"].removesuffix("Z"))
                        hours = int((now - assigned).total_seconds() // 3600)
                        ui.badge(ctx.t("day.hours", hours=hours)).props(
                            f"color={'negative' if hours >= 24 else 'primary'}"
                        )

    stats, truncated = pipeline(ctx, f"owner = :user.id and {OPEN}")
    stage_chart(ctx, ctx.t("day.pipeline"), stats["stage"], False, "my-pipeline")
    if truncated:
        ui.label(ctx.t("truncated", count=PIPELINE_LIMIT)).classes("text-grey-6 text-sm")


# Team ----------------------------------------------------------------------------------------
def team_scope(ctx: PageContext) -> str | None:
    """The opportunities of the manager's team (or region); a director sees all they may read."""
    p = ctx.principal
    if "regional_manager" in p.roles and p.team_ids:
        return "owner.team in (" + ", ".join(str(int(i)) for i in sorted(p.team_ids)) + ")"
    if "regional_manager" in p.roles and p.region:
        return "owner.region = :user.region"
    return None


def team_page(ctx: PageContext) -> None:
    ui.label(ctx.t("team.title")).classes("text-h5")
    scope = team_scope(ctx)
    stats, truncated = pipeline(ctx, f"({scope}) and {OPEN}" if scope else OPEN)
    stage_chart(ctx, ctx.t("team.funnel"), stats["stage"], True, "team-funnel")

    owners = ReferenceTitles(ctx.workspace.records, ctx.principal).load_ids(
        "user", [o for o in stats["owner"] if o is not None]
    )
    ranked = sorted(stats["owner"].items(), key=lambda item: -item[1]["amount"])
    names = [owners.title("user", o) if o is not None else "—" for o, _ in ranked]
    _chart_and_table(
        ctx.t("team.by_rep"),
        {
            "tooltip": {},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "data": names[::-1]},
            "series": [{"type": "bar", "data": [s["amount"] for _, s in ranked][::-1]}],
        },
        [ctx.t("col.rep"), ctx.t("col.count"), ctx.t("col.amount")],
        [
            [n, str(int(s["count"])), _fmt(s["amount"])]
            for n, (_, s) in zip(names, ranked, strict=True)
        ],
        "team-by-rep",
    )
    if truncated:
        ui.label(ctx.t("truncated", count=PIPELINE_LIMIT)).classes("text-grey-6 text-sm")


# Admin ---------------------------------------------------------------------------------------
def users_page(ctx: PageContext) -> None:
    ui.label(ctx.t("users.title")).classes("text-h5")
    user_obj = ctx.workspace.registry.view().objects["user"]
    page = ctx.workspace.records.list(ctx.principal, "user", sort="username", limit=500)
    fields = [
        f
        for name in ("username", "name", "role", "region", "team", "email", "active")
        if (f := user_obj.field(name)) is not None
    ]
    render_rows(ctx, user_obj, page.data, fields)


def register(workspace: Workspace) -> None:
    @ui.page("/")
    def home(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("day.title")):
            my_day(ctx)

    @ui.page("/team")
    def team(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("team.title")):
            team_page(ctx)

    @ui.page("/admin/users")
    def users(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("users.title")):
            if not ctx.is_admin:
                ui.label(ctx.t("builder.admin_only")).props("data-testid=admin-only").mark(
                    "admin-only"
                )
                return
            users_page(ctx)
