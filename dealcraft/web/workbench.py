"""Workbenches by role: a rep's day and a manager's team (pipeline, funnel, win rate, sales
cycle, forecast by close month, stalled deals).

Every number comes from records the principal may read, through the record service. Until
the record service offers sums and groups through the same gate (it counts, but does not
aggregate), the numbers are summed here from at most ``PIPELINE_LIMIT`` opportunities per
question, and the page says so when it stops.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.schema.model import ObjectDef
from dealcraft.web.fields import ReferenceTitles, choice_options, record_title
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import signed_in_page
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PIPELINE_LIMIT = 5000
OPEN = "stage not in ('won', 'lost')"
# A deal not changed for this many days is stalled.
STALLED_DAYS = 14
STALLED_SHOWN = 50
# The forecast covers this month and the next five; win rates the last twelve months.
FORECAST_MONTHS = 6
WIN_RATE_MONTHS = 12
RECENT_ACCOUNTS = 8

add_strings(
    {
        "workbench.truncated": {
            "en": "Only the first {count} opportunities are counted.",
            "zh-CN": "仅统计了前 {count} 个商机。",
        },
        "day.visits": {"en": "Today's visits", "zh-CN": "今日拜访"},
        "day.visits.none": {"en": "No visits today.", "zh-CN": "今天没有拜访。"},
        "day.accounts": {"en": "Recently changed accounts", "zh-CN": "最近更新的客户"},
        "day.accounts.none": {"en": "No accounts yet.", "zh-CN": "暂无客户。"},
        "team.win_rate": {
            "en": "Win rate by rep (closed in the last {months} months)",
            "zh-CN": "各销售赢率（近 {months} 个月成交或输单）",
        },
        "team.cycle": {
            "en": "Average sales cycle by rep (days from creation to won)",
            "zh-CN": "各销售平均销售周期（创建至赢单天数）",
        },
        "team.forecast": {"en": "Forecast by close month", "zh-CN": "按预计成交月份的预测"},
        "team.overdue": {
            "en": "{count} open opportunities have a close date before this month "
            "and are in no month of the forecast.",
            "zh-CN": "{count} 个未关闭商机的预计成交日期早于本月，未计入预测。",
        },
        "team.stalled": {
            "en": "Stalled: open, not changed for {days} days or more ({count})",
            "zh-CN": "停滞商机：未关闭且 {days} 天以上无更新（{count}）",
        },
        "team.stalled.none": {"en": "No stalled opportunities.", "zh-CN": "没有停滞的商机。"},
        "team.stalled.more": {"en": "… and {count} more.", "zh-CN": "……另有 {count} 个。"},
        "col.won": {"en": "Won", "zh-CN": "赢单"},
        "col.lost": {"en": "Lost", "zh-CN": "输单"},
        "col.win_rate": {"en": "Win rate", "zh-CN": "赢率"},
        "col.measured": {"en": "Won deals measured", "zh-CN": "统计的赢单数"},
        "col.cycle_days": {"en": "Average days", "zh-CN": "平均天数"},
        "col.month": {"en": "Close month", "zh-CN": "成交月份"},
        "col.open": {"en": "Open amount", "zh-CN": "在途金额"},
        "col.weighted": {"en": "Weighted amount", "zh-CN": "加权金额"},
        "col.opportunity": {"en": "Opportunity", "zh-CN": "商机"},
        "col.idle_days": {"en": "Days without change", "zh-CN": "未更新天数"},
        "col.updated": {"en": "Changed", "zh-CN": "更新时间"},
    }
)


def _fmt(amount: float) -> str:
    return f"{amount:,.0f}"


def scan(ctx: PageContext, where: str) -> tuple[list[dict[str, Any]], bool]:
    """The opportunities matching ``where`` (at most ``PIPELINE_LIMIT``), and whether the
    scan stopped before the end."""
    records = ctx.workspace.records
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = records.list(ctx.principal, "opportunity", where=where, limit=500, cursor=cursor)
        found.extend(page.data)
        cursor = page.next_cursor
        if cursor is None or len(found) >= PIPELINE_LIMIT:
            break
    return found, cursor is not None


def summarise(deals: list[dict[str, Any]]) -> dict[str, dict[Any, dict[str, float]]]:
    """Count and amount per stage and per owner."""
    by_stage: dict[str, dict[str, float]] = defaultdict(lambda: {"count": 0, "amount": 0.0})
    by_owner: dict[int | None, dict[str, float]] = defaultdict(lambda: {"count": 0, "amount": 0.0})
    for r in deals:
        for bucket in (by_stage[r.get("stage")], by_owner[r.get("owner")]):
            bucket["count"] += 1
            bucket["amount"] += r.get("amount") or 0.0
    return {"stage": dict(by_stage), "owner": dict(by_owner)}


def pipeline(ctx: PageContext, where: str) -> tuple[dict[str, dict[Any, Any]], bool]:
    """Count and amount per stage and per owner of the opportunities matching ``where``."""
    deals, truncated = scan(ctx, where)
    return summarise(deals), truncated


def _bar_option(names: list[str], values: list[float], horizontal: bool) -> dict[str, Any]:
    if not horizontal:
        return {
            "tooltip": {},
            "grid": {"containLabel": True},
            # Every category named, slanted so that stage names fit a phone's width.
            "xAxis": {
                "type": "category",
                "data": names,
                "axisLabel": {"interval": 0, "rotate": 30},
            },
            "yAxis": {"type": "value"},
            "series": [{"type": "bar", "data": values}],
        }
    return {
        "tooltip": {},
        "grid": {"containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": names[::-1]},
        "series": [{"type": "bar", "data": values[::-1]}],
    }


def _chart_and_table(
    title: str, option: dict[str, Any], header: list[str], rows: list[list[str]], testid: str
) -> None:
    """A chart with the same numbers as a table beside it (readable without the chart); on a
    narrow screen the table goes under the chart and scrolls sideways on its own."""
    with ui.card().classes("w-full").props(f"data-testid={testid}").mark(testid):
        ui.label(title).classes("text-subtitle1")
        with ui.element("div").classes("w-full flex flex-wrap md:flex-nowrap items-start gap-4"):
            # Drawn at once, without the growing-bars animation: a glance (or a screenshot)
            # taken in the first second then shows the same numbers as the table.
            ui.echart({"animation": False, **option}).classes(
                "w-full md:w-auto md:min-w-[280px] md:flex-grow h-72"
            )
            with ui.element("div").classes("w-full md:w-auto overflow-x-auto"):
                with ui.element("table").classes("text-sm min-w-[240px] w-full"):
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
        option = _bar_option(
            [label for label, _ in rows], [s["amount"] for _, s in rows], horizontal=False
        )
    _chart_and_table(
        title,
        option,
        [ctx.t("col.stage"), ctx.t("col.count"), ctx.t("col.amount")],
        [[label, str(int(s["count"])), _fmt(s["amount"])] for label, s in rows],
        testid,
    )


# My day --------------------------------------------------------------------------------------
def _day_card(ctx: PageContext, title_key: str, testid: str):
    card = ui.card().classes("w-full min-w-0").props(f"data-testid={testid}").mark(testid)
    with card:
        ui.label(ctx.t(title_key)).classes("text-subtitle1")
    return card


def _listed(ctx: PageContext, object_name: str, **query: Any) -> list[dict[str, Any]]:
    """A short list for a card; a list the principal may not read is an empty card."""
    try:
        return ctx.workspace.records.list(ctx.principal, object_name, **query).data
    except DealcraftError as e:
        logger.debug("my day skipped %s: %s", object_name, e.code)
        return []


def _dated_links(
    ctx: PageContext, obj: ObjectDef, records: list[dict[str, Any]], moment_key: str, fmt: str
) -> None:
    """One line per record: its ``moment_key`` as ``fmt``, then a link to it by title."""
    for record in records:
        with ui.row().classes("gap-2 no-wrap"):
            moment = _parse_moment(record.get(moment_key))
            ui.label(moment.strftime(fmt) if moment else "").classes("text-grey-7 text-sm")
            ui.link(record_title(obj, record), f"/o/{obj.name}/{record['id']}")


def my_day(ctx: PageContext) -> None:
    view = ctx.workspace.registry.view()
    now = datetime.now(UTC).replace(tzinfo=None)
    ui.label(ctx.t("day.title")).classes("text-h5")

    with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-3"):
        # Tasks due today or earlier.
        with _day_card(ctx, "day.tasks", "tasks-due"):
            tasks = _listed(
                ctx,
                "task",
                sort="due",
                limit=20,
                where="assignee = :user.id and status in ('open', 'in_progress') "
                "and due <= today()",
            )
            if not tasks:
                ui.label(ctx.t("day.tasks.none")).classes("text-grey-6")
            for task in tasks:
                with ui.row().classes("gap-2 no-wrap"):
                    ui.label(task.get("due") or "").classes("text-grey-7 text-sm")
                    ui.link(record_title(view.objects["task"], task), f"/o/task/{task['id']}")

        # Leads assigned to me and not contacted yet, with the hours they have waited.
        with _day_card(ctx, "day.leads", "leads-waiting"):
            leads = _listed(
                ctx,
                "lead",
                sort="assigned_at",
                limit=20,
                where="assigned_to = :user.id and first_contacted_at is null "
                "and status in ('new', 'assigned')",
            )
            if not leads:
                ui.label(ctx.t("day.leads.none")).classes("text-grey-6")
            for lead in leads:
                with ui.row().classes("gap-2 items-center"):
                    ui.link(record_title(view.objects["lead"], lead), f"/o/lead/{lead['id']}")
                    assigned = _parse_moment(lead.get("assigned_at"))
                    if assigned is not None:
                        hours = int((now - assigned).total_seconds() // 3600)
                        ui.badge(ctx.t("day.hours", hours=hours)).props(
                            f"color={'negative' if hours >= 24 else 'primary'}"
                        )

        # Today's visits (activities of type visit).
        with _day_card(ctx, "day.visits", "visits-today"):
            visits = _listed(
                ctx,
                "activity",
                sort="occurred_at",
                limit=20,
                where="owner = :user.id and type = 'visit' and date(occurred_at) = today()",
            )
            _dated_links(ctx, view.objects["activity"], visits, "occurred_at", "%H:%M")
            if not visits:
                ui.label(ctx.t("day.visits.none")).classes("text-grey-6")

        # My accounts, the most recently changed first.
        with _day_card(ctx, "day.accounts", "recent-accounts"):
            accounts = _listed(
                ctx, "account", sort="-updated_at", limit=RECENT_ACCOUNTS, where="owner = :user.id"
            )
            _dated_links(ctx, view.objects["account"], accounts, "updated_at", "%m-%d")
            if not accounts:
                ui.label(ctx.t("day.accounts.none")).classes("text-grey-6")

    stats, truncated = pipeline(ctx, f"owner = :user.id and {OPEN}")
    stage_chart(ctx, ctx.t("day.pipeline"), stats["stage"], False, "my-pipeline")
    if truncated:
        ui.label(ctx.t("workbench.truncated", count=PIPELINE_LIMIT)).classes("text-grey-6 text-sm")


# Team ----------------------------------------------------------------------------------------
def team_scope(ctx: PageContext) -> str | None:
    """The opportunities of the manager's team (or region); a director sees all they may read."""
    p = ctx.principal
    if "regional_manager" in p.roles and p.team_ids:
        return "owner.team in (" + ", ".join(str(int(i)) for i in sorted(p.team_ids)) + ")"
    if "regional_manager" in p.roles and p.region:
        return "owner.region = :user.region"
    return None


def _within(scope: str | None, condition: str) -> str:
    return f"({scope}) and {condition}" if scope else condition


def _parse_moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.removesuffix("Z")) if value else None


def _parse_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _month_start(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def stage_probabilities(ctx: PageContext) -> dict[str, float]:
    """Each stage's default probability, from the stage choices' ``probability`` option."""
    stage = ctx.workspace.registry.view().objects["opportunity"].field("stage")
    choices = stage.options.get("choices", []) if stage else []
    return {c["value"]: float(c["probability"]) for c in choices if "probability" in c}


def probability(record: dict[str, Any], defaults: dict[str, float]) -> float:
    """The deal's own probability, else its stage's default, else 0 (percent)."""
    value = record.get("probability")
    if value is None:
        value = defaults.get(record.get("stage") or "", 0.0)
    return float(value)


@dataclass
class RepRecord:
    """One rep's closed deals over the win-rate window."""

    won: int = 0
    lost: int = 0
    cycle_days: list[int] = field(default_factory=list)

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return 100.0 * self.won / closed if closed else None

    @property
    def average_cycle(self) -> float | None:
        return sum(self.cycle_days) / len(self.cycle_days) if self.cycle_days else None


def rep_records(closed: list[dict[str, Any]]) -> dict[int | None, RepRecord]:
    """Won and lost deals per owner; the cycle of a won deal runs from its creation to its
    close date. A deal whose close date is before its creation (entered after the fact, as
    imported history is) has no measurable cycle and is left out of the average."""
    by_owner: dict[int | None, RepRecord] = defaultdict(RepRecord)
    for r in closed:
        rep = by_owner[r.get("owner")]
        if r.get("stage") == "lost":
            rep.lost += 1
            continue
        rep.won += 1
        created, closed_on = _parse_moment(r.get("created_at")), _parse_day(r.get("close_date"))
        if created is not None and closed_on is not None and closed_on >= created.date():
            rep.cycle_days.append((closed_on - created.date()).days)
    return dict(by_owner)


@dataclass
class ForecastMonth:
    start: date
    open_amount: float = 0.0
    weighted: float = 0.0
    won: float = 0.0


def forecast(
    open_deals: list[dict[str, Any]],
    closed: list[dict[str, Any]],
    defaults: dict[str, float],
    today: date,
) -> tuple[list[ForecastMonth], int]:
    """Open and probability-weighted amount by close month, this month and the next
    ``FORECAST_MONTHS - 1``, with the amount won in each; and how many open deals have a close
    date before this month (overdue, so in no month)."""
    months = [ForecastMonth(_month_start(today, i)) for i in range(FORECAST_MONTHS)]
    end = _month_start(today, FORECAST_MONTHS)
    overdue = 0

    def month_of(day: date | None) -> ForecastMonth | None:
        if day is None or not months[0].start <= day < end:
            return None
        return months[(day.year - months[0].start.year) * 12 + day.month - months[0].start.month]

    for r in open_deals:
        day = _parse_day(r.get("close_date"))
        if day is not None and day < months[0].start:
            overdue += 1
        month = month_of(day)
        if month is not None:
            amount = r.get("amount") or 0.0
            month.open_amount += amount
            month.weighted += amount * probability(r, defaults) / 100
    for r in closed:
        month = month_of(_parse_day(r.get("close_date")))
        if month is not None and r.get("stage") == "won":
            month.won += r.get("amount") or 0.0
    return months, overdue


def stalled(open_deals: list[dict[str, Any]], now: datetime, days: int) -> list[dict[str, Any]]:
    """Open deals not changed (any field, the stage included) for ``days`` days, oldest first."""
    cutoff = now - timedelta(days=days)
    found = [r for r in open_deals if (_parse_moment(r.get("updated_at")) or now) <= cutoff]
    return sorted(found, key=lambda r: (r["updated_at"], r["id"]))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def team_page(ctx: PageContext) -> None:
    ui.label(ctx.t("team.title")).classes("text-h5")
    scope = team_scope(ctx)
    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.date()

    # The deals: open ones in the scope, and those closed over the win-rate window.
    open_deals, open_cut = scan(ctx, _within(scope, OPEN))
    since = _month_start(today, -WIN_RATE_MONTHS)
    closed, closed_cut = scan(
        ctx,
        _within(scope, f"stage in ('won', 'lost') and close_date >= '{since.isoformat()}'"),
    )
    stats = summarise(open_deals)
    owner_ids = [o for o in {*stats["owner"], *(r.get("owner") for r in closed)} if o is not None]
    owners = ReferenceTitles(ctx.workspace.records, ctx.principal).load_ids("user", owner_ids)

    def rep_name(owner: int | None) -> str:
        return owners.title("user", owner) if owner is not None else "—"

    # Funnel and open pipeline by rep.
    stage_chart(ctx, ctx.t("team.funnel"), stats["stage"], True, "team-funnel")
    ranked = sorted(stats["owner"].items(), key=lambda item: -item[1]["amount"])
    names = [rep_name(o) for o, _ in ranked]
    _chart_and_table(
        ctx.t("team.by_rep"),
        _bar_option(names, [s["amount"] for _, s in ranked], horizontal=True),
        [ctx.t("col.rep"), ctx.t("col.count"), ctx.t("col.amount")],
        [
            [n, str(int(s["count"])), _fmt(s["amount"])]
            for n, (_, s) in zip(names, ranked, strict=True)
        ],
        "team-by-rep",
    )

    # Win rate and sales cycle by rep.
    reps = sorted(rep_records(closed).items(), key=lambda item: rep_name(item[0]))
    rep_names = [rep_name(o) for o, _ in reps]
    _chart_and_table(
        ctx.t("team.win_rate", months=WIN_RATE_MONTHS),
        _bar_option(rep_names, [round(r.win_rate or 0, 1) for _, r in reps], horizontal=True),
        [ctx.t("col.rep"), ctx.t("col.won"), ctx.t("col.lost"), ctx.t("col.win_rate")],
        [
            [n, str(r.won), str(r.lost), _percent(r.win_rate)]
            for n, (_, r) in zip(rep_names, reps, strict=True)
        ],
        "team-win-rate",
    )
    _chart_and_table(
        ctx.t("team.cycle"),
        _bar_option(rep_names, [round(r.average_cycle or 0, 1) for _, r in reps], True),
        [ctx.t("col.rep"), ctx.t("col.measured"), ctx.t("col.cycle_days")],
        [
            [n, str(len(r.cycle_days)), _days(r.average_cycle)]
            for n, (_, r) in zip(rep_names, reps, strict=True)
        ],
        "team-cycle",
    )

    # Forecast by close month.
    months, overdue = forecast(open_deals, closed, stage_probabilities(ctx), today)
    labels = [m.start.strftime("%Y-%m") for m in months]
    _chart_and_table(
        ctx.t("team.forecast"),
        {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value"},
            "series": [
                {"name": ctx.t("col.open"), "type": "bar", "data": [m.open_amount for m in months]},
                {
                    "name": ctx.t("col.weighted"),
                    "type": "bar",
                    "data": [m.weighted for m in months],
                },
                {"name": ctx.t("col.won"), "type": "bar", "data": [m.won for m in months]},
            ],
        },
        [ctx.t("col.month"), ctx.t("col.open"), ctx.t("col.weighted"), ctx.t("col.won")],
        [
            [label, _fmt(m.open_amount), _fmt(m.weighted), _fmt(m.won)]
            for label, m in zip(labels, months, strict=True)
        ],
        "team-forecast",
    )
    if overdue:
        ui.label(ctx.t("team.overdue", count=overdue)).classes("text-grey-7 text-sm").mark(
            "team-overdue"
        )

    # Stalled deals, with links.
    stuck = stalled(open_deals, now, STALLED_DAYS)
    stalled_list(ctx, stuck, now, rep_name)
    if open_cut or closed_cut:
        ui.label(ctx.t("workbench.truncated", count=PIPELINE_LIMIT)).classes("text-grey-6 text-sm")


def stalled_list(ctx: PageContext, stuck: list[dict[str, Any]], now: datetime, rep_name) -> None:
    view = ctx.workspace.registry.view()
    stage = view.objects["opportunity"].field("stage")
    labels = choice_options(stage, ctx.language) if stage else {}
    with ui.card().classes("w-full").props("data-testid=team-stalled").mark("team-stalled"):
        ui.label(ctx.t("team.stalled", days=STALLED_DAYS, count=len(stuck))).classes(
            "text-subtitle1"
        )
        if not stuck:
            ui.label(ctx.t("team.stalled.none")).classes("text-grey-6")
            return
        header = [
            ctx.t("col.opportunity"),
            ctx.t("col.rep"),
            ctx.t("col.stage"),
            ctx.t("col.amount"),
            ctx.t("col.idle_days"),
        ]
        with ui.element("div").classes("w-full overflow-x-auto"):
            with ui.element("table").classes("text-sm w-full"):
                with ui.element("tr"):
                    for text in header:
                        with ui.element("th").classes("p-1 border-b text-left"):
                            ui.label(text)
                for r in stuck[:STALLED_SHOWN]:
                    idle = (now - (_parse_moment(r["updated_at"]) or now)).days
                    with ui.element("tr"):
                        with ui.element("td").classes("p-1 border-b"):
                            ui.link(
                                record_title(view.objects["opportunity"], r),
                                f"/o/opportunity/{r['id']}",
                            )
                        for text in (
                            rep_name(r.get("owner")),
                            labels.get(r.get("stage"), r.get("stage") or ""),
                            _fmt(r.get("amount") or 0.0),
                            str(idle),
                        ):
                            with ui.element("td").classes("p-1 border-b"):
                                ui.label(text)
        if len(stuck) > STALLED_SHOWN:
            ui.label(ctx.t("team.stalled.more", count=len(stuck) - STALLED_SHOWN)).classes(
                "text-grey-6 text-sm"
            )


def register(workspace: Workspace) -> None:
    signed_in_page(workspace, "/", "day.title")(my_day)
    signed_in_page(workspace, "/team", "team.title")(team_page)
