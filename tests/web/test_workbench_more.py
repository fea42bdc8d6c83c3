"""The manager's numbers and the admin's directory pages, through NiceGUI's simulated user.

Besides the personas of ``seed.py``, the manager tests add a West team in 西南:
manager_west leads it, rep_zhao and rep_qian sell in it. Every deal is dated relative to the
first day of this month, so the numbers do not depend on the day the tests run.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

from dealcraft.access.principal import SYSTEM
from web.seed import PASSWORD
from web.test_pages import set_value, sign_in

pytestmark = pytest.mark.anyio


def month_start(months_ahead: int) -> date:
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def table_rows(user, marker: str) -> list[list[str]]:
    """The texts of each table row inside the element marked ``marker`` (header first)."""
    (container,) = user.find(marker=marker).elements
    rows = []
    for element in container.descendants():
        if element.tag == "tr":
            rows.append([e.text for e in element.descendants() if isinstance(e, TextElement)])
    return rows


async def wait_for_row(user, marker: str, row: list[str]) -> list[list[str]]:
    """The table's rows once ``row`` is among them (a refresh runs as a background task)."""
    for _ in range(40):
        rows = table_rows(user, marker)
        if row in rows:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{row} not in {rows}")


def find_id(workspace, object_name: str, where: str) -> int:
    return workspace.records.list(SYSTEM, object_name, where=where, limit=1).data[0]["id"]


def west_team(workspace) -> dict[str, int]:
    """manager_west's team: two reps, closed and open deals with known numbers."""
    records = workspace.records
    team = records.create(SYSTEM, "team", {"name": "West team", "region": "西南"})["id"]
    ids = {}
    for username, role, name in (
        ("manager_west", "regional_manager", "Sun Manager"),
        ("rep_zhao", "sales_rep", "Zhao Rep"),
        ("rep_qian", "sales_rep", "Qian Rep"),
    ):
        user = workspace.identity.create_user(
            username, PASSWORD, role=role, region="西南", name=name, team=team
        )
        ids[username] = user["id"]
    west = records.create(SYSTEM, "account", {"name": "成都医院", "region": "西南"})["id"]
    east = find_id(workspace, "account", "name = '华东医疗集团'")
    first = month_start(0)

    def deal(name, owner, stage, amount, close, probability=None, account=west) -> int:
        data = {
            "name": name,
            "account": account,
            "stage": stage,
            "amount": amount,
            "owner": ids[owner],
            "close_date": close.isoformat(),
        }
        if probability is not None:
            data["probability"] = probability
        return records.create(SYSTEM, "opportunity", data)["id"]

    # Closed this month: Zhao wins 3 of 4, Qian 1 of 4; an older loss is outside the window.
    created = {}
    for i, days in enumerate((40, 60, 80)):
        created[deal(f"Zhao won {i}", "rep_zhao", "won", 10000, first)] = days
    deal("Zhao lost", "rep_zhao", "lost", 10000, first)
    deal("Zhao lost long ago", "rep_zhao", "lost", 10000, month_start(-14))
    created[deal("Qian won", "rep_qian", "won", 10000, first)] = 10
    for i in range(3):
        deal(f"Qian lost {i}", "rep_qian", "lost", 10000, first)
    # A win on an East account: manager_west may not read it, so it counts nowhere.
    deal("Zhao east win", "rep_zhao", "won", 999000, first, account=east)

    # Open deals: one this month, two in two months' time, one overdue.
    ids["stalled"] = deal("Zhao proposal", "rep_zhao", "proposal", 100000, first, 50)
    deal("Zhao negotiation", "rep_zhao", "negotiation", 200000, month_start(2) + timedelta(9))
    deal("Qian prospect", "rep_qian", "prospecting", 300000, month_start(2), 10)
    deal("Qian overdue", "rep_qian", "qualification", 50000, month_start(-1) + timedelta(4), 20)

    # Creation dates before the close (the cycle), and a deal untouched for 20 days.
    table = workspace.registry.view().tables["opportunity"]
    now = datetime.now(UTC).replace(tzinfo=None)
    with workspace.engine.begin() as conn:
        for record_id, days in created.items():
            moment = datetime.combine(first - timedelta(days=days), datetime.min.time())
            conn.execute(sa.update(table).where(table.c.id == record_id).values(created_at=moment))
        conn.execute(
            sa.update(table)
            .where(table.c.id == ids["stalled"])
            .values(updated_at=now - timedelta(days=20, hours=1))
        )
    return ids


# Manager -------------------------------------------------------------------------------------
async def test_manager_sees_win_rate_and_cycle_by_rep(user, web_workspace):
    # given the West team's closed deals
    west_team(web_workspace)

    # when manager_west opens the team workbench
    await sign_in(user, "manager_west", "/team")
    await user.should_see(marker="team-win-rate")

    # then win rates count the closed deals they may read over the last 12 months
    assert table_rows(user, "team-win-rate") == [
        ["Rep", "Won", "Lost", "Win rate"],
        ["Qian Rep", "1", "3", "25%"],
        ["Zhao Rep", "3", "1", "75%"],
    ]
    # and the cycle runs from creation to the close date of each won deal
    assert table_rows(user, "team-cycle") == [
        ["Rep", "Won deals measured", "Average days"],
        ["Qian Rep", "1", "10"],
        ["Zhao Rep", "3", "60"],
    ]
    # and the charts draw those numbers at once (no animation from zero)
    charts = list(user.find(ui.echart).elements)
    assert charts and all(chart.options["animation"] is False for chart in charts)
    (cycle_chart,) = [c for c in charts if c.options["series"][0]["data"] in ([10, 60], [60, 10])]
    assert cycle_chart is not None


async def test_manager_sees_forecast_by_close_month(user, web_workspace):
    west_team(web_workspace)

    await sign_in(user, "manager_west", "/team")
    await user.should_see(marker="team-forecast")

    # then open and weighted amounts fall in their close month (a missing probability takes
    # the stage's default: negotiation 80%), with this month's wins beside them
    months = [month_start(i).strftime("%Y-%m") for i in range(6)]
    assert table_rows(user, "team-forecast") == [
        ["Close month", "Open amount", "Weighted amount", "Won"],
        [months[0], "100,000", "50,000", "40,000"],
        [months[1], "0", "0", "0"],
        [months[2], "500,000", "190,000", "0"],
        [months[3], "0", "0", "0"],
        [months[4], "0", "0", "0"],
        [months[5], "0", "0", "0"],
    ]
    await user.should_see("1 open opportunities have a close date before this month")


async def test_manager_sees_stalled_deals_with_links(user, web_workspace):
    ids = west_team(web_workspace)

    await sign_in(user, "manager_west", "/team")
    await user.should_see(marker="team-stalled")

    # then only the open deal untouched for 14 days or more is listed, linked to its page
    await user.should_see("Stalled: open, not changed for 14 days or more (1)")
    assert table_rows(user, "team-stalled") == [
        ["Opportunity", "Rep", "Stage", "Amount", "Days without change"],
        ["Zhao proposal", "Zhao Rep", "Proposal", "100,000", "20"],
    ]
    links = [e for e in user.find(marker="team-stalled").elements for e in e.descendants()]
    targets = [e.props.get("href") for e in links if isinstance(e, ui.link)]
    assert targets == [f"/o/opportunity/{ids['stalled']}"]


async def test_rep_sees_visits_and_recent_accounts_on_my_day(user, web_workspace):
    # given a visit today for rep_east
    rep = find_id(web_workspace, "user", "username = 'rep_east'")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    web_workspace.records.create(
        SYSTEM,
        "activity",
        {"type": "visit", "subject": "Visit the CIO", "owner": rep, "occurred_at": now.isoformat()},
    )

    # when rep_east opens my day, then the visit and their account are listed
    await sign_in(user, "rep_east")
    await user.should_see("Visit the CIO")
    await user.should_see(marker="recent-accounts")
    assert "华东医疗集团" in [e.text for e in _texts(user, "recent-accounts")]


def _texts(user, marker: str) -> list[TextElement]:
    (container,) = user.find(marker=marker).elements
    return [e for e in container.descendants() if isinstance(e, TextElement)]


# Admin: users and roles ----------------------------------------------------------------------
async def test_admin_assigns_role_to_user_from_users_page(user, web_workspace):
    # given rep_south is a sales rep
    await sign_in(user, "admin", "/admin/users")
    await user.should_see(marker="role-rep_south")

    # when the admin gives them the regional manager role
    set_value(user, "role-rep_south", "regional_manager")

    # then the user record holds the new role, written through the record service
    await user.should_see("rep_south is now Regional manager")
    user_id = find_id(web_workspace, "user", "username = 'rep_south'")
    assert web_workspace.records.get(SYSTEM, "user", user_id)["role"] == "regional_manager"
    changes = web_workspace.records.history(SYSTEM, "user", user_id)
    assert any(
        (e["field"], e["old_value"], e["new_value"]) == ("role", "sales_rep", "regional_manager")
        for e in changes
    ), changes


async def test_roles_page_lists_grants_and_holders(user):
    await sign_in(user, "admin", "/admin/roles")
    await user.should_see(marker="role-sales_rep")

    # then the rep role shows its row scope on opportunities and the reps who hold it
    rows = table_rows(user, "role-sales_rep")
    assert ["opportunity", "create, export, read, update", "owner_id = :user.id", ""] in rows
    texts = [e.text for e in _texts(user, "role-sales_rep")]
    assert "Held by 2 users" in texts
    assert "Li Rep (rep_east)" in texts and "Chen Rep (rep_south)" in texts
    # and the admin role may do everything on every object
    assert [
        "*",
        "create, delete, export, import, read, update",
        "every row",
        "",
    ] in table_rows(user, "role-admin")


# Admin: teams and regions --------------------------------------------------------------------
async def test_admin_creates_team_with_lead_and_members(user, web_workspace):
    manager = find_id(web_workspace, "user", "username = 'manager_east'")
    rep = find_id(web_workspace, "user", "username = 'rep_south'")

    # when the admin creates the South team with its lead and a member
    await sign_in(user, "admin", "/admin/teams")
    await user.should_see(marker="team-editor")
    user.find(marker="team-name").type("South team")
    set_value(user, "team-region", "华南")
    set_value(user, "team-lead", manager)
    set_value(user, "team-members", [rep])
    user.find(marker="save-team").click()

    # then the team exists with its lead, and the member's user record points at it
    await user.should_see("Team “South team” saved")
    team = web_workspace.records.list(SYSTEM, "team", where="name = 'South team'").data[0]
    assert (team["region"], team["lead"]) == ("华南", manager)
    assert web_workspace.records.get(SYSTEM, "user", rep)["team"] == team["id"]
    await wait_for_row(
        user, "teams", ["South team", "South China", "Wang Manager (manager_east)", "rep_south", ""]
    )


async def test_admin_renames_team_and_removes_a_member(user, web_workspace):
    team = find_id(web_workspace, "team", "name = 'East team'")
    rep = find_id(web_workspace, "user", "username = 'rep_east'")

    # given the East team, when the admin renames it and takes rep_east out
    await sign_in(user, "admin", "/admin/teams")
    user.find(marker=f"edit-team-{team}").click()
    await user.should_see("Edit team “East team”")
    set_value(user, "team-name", "East key accounts")
    members = next(iter(user.find(marker="team-members").elements)).value
    set_value(user, "team-members", [m for m in members if m != rep])
    user.find(marker="save-team").click()

    # then the team has its new name and rep_east belongs to no team
    await user.should_see("Team “East key accounts” saved")
    assert web_workspace.records.get(SYSTEM, "team", team)["name"] == "East key accounts"
    assert web_workspace.records.get(SYSTEM, "user", rep)["team"] is None
    manager = find_id(web_workspace, "user", "username = 'manager_east'")
    assert web_workspace.records.get(SYSTEM, "user", manager)["team"] == team


async def test_admin_creates_then_renames_region(user, web_workspace):
    manager = find_id(web_workspace, "user", "username = 'manager_east'")

    # when the admin creates the 华东 region with its manager
    await sign_in(user, "admin", "/admin/regions")
    user.find(marker="region-name").type("华东")
    user.find(marker="region-code").type("EAST")
    set_value(user, "region-manager", manager)
    user.find(marker="save-region").click()

    # then it is listed with the users of that region counted
    await user.should_see("Region “华东” saved")
    await wait_for_row(user, "regions", ["华东", "EAST", "Wang Manager (manager_east)", "3", ""])

    # when they rename it, then the record has the new name
    region = find_id(web_workspace, "region", "code = 'EAST'")
    user.find(marker=f"edit-region-{region}").click()
    await user.should_see("Edit region “华东”")
    set_value(user, "region-name", "华东大区")
    user.find(marker="save-region").click()
    await user.should_see("Region “华东大区” saved")
    assert web_workspace.records.get(SYSTEM, "region", region)["name"] == "华东大区"


async def test_admin_team_without_name_is_refused_and_nothing_created(user, web_workspace):
    before = web_workspace.records.count(SYSTEM, "team")
    await sign_in(user, "admin", "/admin/teams")
    user.find(marker="save-team").click()
    await user.should_see("name is required")
    assert web_workspace.records.count(SYSTEM, "team") == before


async def test_manager_in_chinese_sees_workbench_headings_in_chinese(user, web_workspace):
    west_team(web_workspace)
    user.http_client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    await sign_in(user, "manager_west", "/team")
    await user.should_see("按预计成交月份的预测")
    assert table_rows(user, "team-win-rate")[0] == ["销售", "赢单", "输单", "赢率"]
    await user.should_see("停滞商机：未关闭且 14 天以上无更新（1）")


@pytest.mark.parametrize(
    "path, editor",
    [
        ("/admin/teams", "team-editor"),
        ("/admin/regions", "region-editor"),
        ("/admin/roles", "role-sales_rep"),
        ("/admin/users", "users"),
    ],
)
async def test_directory_pages_are_refused_to_a_rep(user, path, editor):
    await sign_in(user, "rep_east", path)
    await user.should_see(marker="admin-only")
    await user.should_not_see(marker=editor)
