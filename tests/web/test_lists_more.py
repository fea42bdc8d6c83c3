"""The inbox, team-shared saved views and bulk edit, through NiceGUI's simulated user.

Personas come from ``seed.py``: rep_east and manager_east are in the East team (rep_east owns
the hospital deals); rep_south sells in the south, here in a South team of their own.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from nicegui import core

from dealcraft.access.principal import SYSTEM
from dealcraft.inbox import Inbox
from dealcraft.saved_views.service import SavedViews
from dealcraft.web.fields import editable
from web.test_pages import record_id, set_value, sign_in

pytestmark = pytest.mark.anyio


def user_id(workspace, username: str) -> int:
    return record_id(workspace, "user", f"username = '{username}'")


def principal(workspace, username: str):
    user = workspace.records.get(SYSTEM, "user", user_id(workspace, username))
    return workspace.identity.principal_for_user(user)


# Inbox ---------------------------------------------------------------------------------------
async def test_inbox_shows_my_message_and_not_another_users(user, web_workspace):
    # given a message for rep_east about a deal, and one for rep_south
    box = Inbox(web_workspace.engine)
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")
    mine = box.post(
        user_id(web_workspace, "rep_east"),
        "Deal needs a discount approval",
        "Amount over the limit",
        object_name="opportunity",
        record_id=deal,
    )
    box.post(user_id(web_workspace, "rep_south"), "Southern price list updated")

    # when rep_east opens the inbox
    await sign_in(user, "rep_east", "/inbox")

    # then the bell counts one, their message links to its deal, rep_south's is not there
    await user.should_see(marker="inbox-unread")
    assert user.find(marker="inbox-unread").elements.pop().text == "1"
    await user.should_see("Deal needs a discount approval")
    await user.should_see("1 unread")
    await user.should_not_see("Southern price list updated")
    link = user.find(marker=f"open-{mine}").elements.pop()
    assert link.props["href"] == f"/o/opportunity/{deal}"


async def test_read_message_drops_the_unread_count(user, web_workspace):
    box = Inbox(web_workspace.engine)
    rep = user_id(web_workspace, "rep_east")
    first = box.post(rep, "First news")
    box.post(rep, "Second news")
    await sign_in(user, "rep_east", "/inbox")
    await user.should_see("2 unread")

    # when rep_east marks one read, then one stays unread, and the bell says so on the next page
    user.find(marker=f"read-{first}").click()
    await user.should_see("1 unread")
    await user.open("/o/opportunity")
    assert user.find(marker="inbox-unread").elements.pop().text == "1"

    # when they mark all read, then the bell shows no count
    await user.open("/inbox")
    user.find(marker="mark-all-read").click()
    await user.should_see("0 unread")
    await user.open("/inbox")
    await user.should_not_see(marker="inbox-unread")
    assert box.unread_count(principal(web_workspace, "rep_east")) == 0


# Saved views ---------------------------------------------------------------------------------
@pytest.fixture
def south_team(web_workspace):
    """rep_south in a South team; manager_east owns an eastern proposal rep_east cannot see."""
    ws = web_workspace
    team = ws.records.create(SYSTEM, "team", {"name": "South team", "region": "华南"})
    ws.records.update(SYSTEM, "user", user_id(ws, "rep_south"), {"team": team["id"]})
    account = record_id(ws, "account", "name = '华东医疗集团'")
    ws.records.create(
        SYSTEM,
        "opportunity",
        {
            "name": "Manager's own proposal",
            "account": account,
            "stage": "proposal",
            "owner": user_id(ws, "manager_east"),
        },
    )
    return team["id"]


async def test_team_view_is_shared_with_teammates_and_runs_in_their_scope(
    user, web_workspace, south_team
):
    # given manager_east saves a "Proposals" view shared with the East team
    await sign_in(user, "manager_east", "/o/opportunity")
    user.find(marker="filter").type("stage = 'proposal'")
    user.find(marker="apply-filter").click()
    await user.should_see("Manager's own proposal")
    await user.should_see("Hospital ERP phase 3")
    user.find(marker="view-name").type("Proposals")
    user.find(marker="share-view").click()
    user.find(marker="save-view").click()
    await user.should_see("View “Proposals” saved")
    manager = principal(web_workspace, "manager_east")
    (view,) = SavedViews(web_workspace).list(manager, "opportunity")
    assert view["team_id"] in manager.team_ids

    # when teammate rep_east picks it, then it is the team's, and shows only rep_east's rows
    user.find(marker="logout").click()
    await sign_in(user, "rep_east", "/o/opportunity")
    views = user.find(marker="views").elements.pop()
    assert views.options == {view["id"]: "Team · Proposals"}
    set_value(user, "views", view["id"])
    await user.should_see("Hospital ERP phase 3")
    await user.should_not_see("Hospital ERP phase 1")
    await user.should_not_see("Manager's own proposal")

    # and rep_east may not delete it
    user.find(marker="delete-view").click()
    await user.should_see("only the owner of view 'Proposals' may change or delete it")
    assert SavedViews(web_workspace).get(manager, view["id"])["name"] == "Proposals"

    # and a rep of the South team does not get it
    user.find(marker="logout").click()
    await sign_in(user, "rep_south", "/o/opportunity")
    assert user.find(marker="views").elements.pop().options == {}


async def test_teammates_view_drops_a_column_hidden_from_the_viewer(user, web_workspace):
    # given manager_east shares an account view showing the credit limit (hidden from reps)
    manager = principal(web_workspace, "manager_east")
    view = SavedViews(web_workspace).create(
        manager,
        {
            "object_name": "account",
            "name": "Credit",
            "columns": ["name", "credit_limit"],
            "team_id": min(manager.team_ids),
        },
    )

    # when rep_east applies it, then the list shows the name but no credit-limit column
    await sign_in(user, "rep_east", "/o/account")
    columns = user.find(marker="columns").elements.pop()
    assert "credit_limit" not in columns.options
    set_value(user, "views", view["id"])
    await user.should_see("华东医疗集团")
    assert columns.value == ["name"]
    await user.should_not_see("Credit limit")


async def test_own_view_is_saved_reapplied_and_deleted(user, web_workspace):
    # given rep_east filters to the won deal and saves the view (not shared)
    await sign_in(user, "rep_east", "/o/opportunity")
    user.find(marker="filter").type("stage = 'won'")
    user.find(marker="apply-filter").click()
    await user.should_not_see("Hospital ERP phase 1")
    user.find(marker="view-name").type("Won deals")
    user.find(marker="save-view").click()
    await user.should_see("View “Won deals” saved")
    rep = principal(web_workspace, "rep_east")
    (view,) = SavedViews(web_workspace).list(rep, "opportunity")
    assert (view["where"], view["team_id"]) == ("stage = 'won'", None)

    # when they come back and pick it, then the filter returns
    await user.open("/o/opportunity")
    await user.should_see("Hospital ERP phase 1")
    set_value(user, "views", view["id"])
    await user.should_not_see("Hospital ERP phase 1")
    await user.should_see("Hospital ERP phase 5")

    # and their teammate does not see a private view
    assert SavedViews(web_workspace).list(principal(web_workspace, "manager_east")) == []

    # when they delete it, then it is gone
    user.find(marker="delete-view").click()
    await user.should_see("View “Won deals” deleted")
    assert SavedViews(web_workspace).list(rep, "opportunity") == []


# Bulk edit -----------------------------------------------------------------------------------
async def test_bulk_edit_changes_selected_records_and_reports_refused_ones(user, web_workspace):
    # given rep_east has 30 deals (a page shows 25)
    ws = web_workspace
    rep = user_id(ws, "rep_east")
    account = record_id(ws, "account", "name = '华东医疗集团'")
    ws.records.bulk_create(
        SYSTEM,
        "opportunity",
        [
            {"name": f"Clinic deal {i:02d}", "account": account, "stage": "proposal", "owner": rep}
            for i in range(25)
        ],
    )
    await sign_in(user, "rep_east", "/o/opportunity")
    await user.should_see("Clinic deal 00")
    shown = ws.records.list(SYSTEM, "opportunity", sort="-updated_at", limit=25).data

    # when rep_east selects the page, and someone else changes one of those deals meanwhile
    user.find(marker="select-page").click()
    await user.should_see("Edit selected (25)")
    stale = shown[0]
    ws.records.update(SYSTEM, "opportunity", stale["id"], {"probability": 55})

    # and sets the stage of the selected deals to negotiation
    user.find(marker="bulk-edit").click()
    await user.should_see(marker="bulk-field")
    set_value(user, "bulk-field", "stage")
    await user.should_see(marker="field-stage")
    set_value(user, "field-stage", "negotiation")
    user.find(marker="bulk-apply").click()

    # then 24 changed with a history entry each, and the stale one is refused with its reason
    await user.should_see("24 changed, 0 unchanged, 1 refused", retries=50)
    assert user.find(marker="bulk-progress").elements.pop().visible
    refused = user.find(marker="bulk-refused").elements.pop()
    assert refused.text.startswith(f"{stale['name']}: version_conflict")
    after = {
        r["id"]: r["stage"]
        for r in ws.records.list(
            SYSTEM,
            "opportunity",
            where="id in :ids",
            params={"ids": [r["id"] for r in shown]},
            limit=25,
        ).data
    }
    assert after.pop(stale["id"]) == stale["stage"]
    assert set(after.values()) == {"negotiation"}
    for record in shown[1:]:
        history = ws.records.history(SYSTEM, "opportunity", record["id"])
        assert history[-1]["field"] == "stage"
        assert history[-1]["new_value"] == "negotiation"
        assert history[-1]["changed_by"] == rep
    # and the refused deal stays selected for another try
    await user.should_see("Edit selected (1)")


async def test_bulk_edit_offers_only_writable_fields(user, web_workspace):
    # A rep's row scope allows their own deals; formula and system fields are not offered.
    await sign_in(user, "rep_east", "/o/opportunity")
    await user.should_see("Hospital ERP phase 1")
    user.find(marker="select-page").click()
    user.find(marker="bulk-edit").click()
    await user.should_see(marker="bulk-field")
    offered = set(user.find(marker="bulk-field").elements.pop().options)
    obj = web_workspace.registry.view().objects["opportunity"]
    policy = web_workspace.policy
    rep = principal(web_workspace, "rep_east")
    expected = {f.name for f in obj.active_fields if editable(f) and policy.writable(rep, f)}
    assert offered == expected
    assert "stage" in offered
    assert not {f.name for f in obj.active_fields if f.type == "formula"} & offered


# Speed ---------------------------------------------------------------------------------------
LIST_COLUMNS = "name,account,stage,amount,probability,owner,close_date,region,created_at,updated_at"


async def _queries_for_list(user, limit: int) -> list[str]:
    engine = core.app.state.dealcraft_workspace.engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.strip().upper() != "BEGIN":
            statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        await user.open(f"/o/opportunity?limit={limit}&sort=name&columns={LIST_COLUMNS}")
        await user.should_see("Speed deal 00", retries=30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return statements


async def test_opportunity_list_with_warm_caches_makes_nine_queries(user, web_workspace):
    # given 60 opportunities over 5 accounts, and the app's schema and policy caches kept warm
    # (as between two clicks within the refresh interval)
    ws = web_workspace
    accounts = ws.records.bulk_create(
        SYSTEM, "account", [{"name": f"Speed account {i}", "region": "华东"} for i in range(5)]
    ).ids
    ws.records.bulk_create(
        SYSTEM,
        "opportunity",
        [
            {
                "name": f"Speed deal {i:02d}",
                "account": accounts[i % 5],
                "stage": "proposal",
                "owner": user_id(ws, "rep_east"),
            }
            for i in range(60)
        ],
    )
    app_ws = core.app.state.dealcraft_workspace
    app_ws.registry.refresh_seconds = app_ws.policies.refresh_seconds = 3600
    await sign_in(user, "manager_east")
    await _queries_for_list(user, 50)

    # when the page is drawn with 10 and with 50 rows
    ten = await _queries_for_list(user, 10)
    fifty = await _queries_for_list(user, 50)

    # then the queries are the same nine: the user, their reports and deal rooms (the
    # principal), the inbox bell, the saved views, the rows, the count, and the titles of
    # the accounts and the users the rows refer to, one query each
    assert ten == fifty
    assert len(fifty) == 9, fifty
    assert sum("FROM dc_inbox" in s for s in fifty) == 1
    assert sum("FROM dc_saved_view" in s for s in fifty) == 1


async def test_short_list_counts_its_rows_without_a_count_query(user, web_workspace):
    # given rep_east's five deals, all on one page
    await sign_in(user, "rep_east")
    engine = core.app.state.dealcraft_workspace.engine
    statements: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    # when the list is drawn
    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        await user.open("/o/opportunity")
        await user.should_see("Hospital ERP phase 5")
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)

    # then it says five records, and no count(*) of the opportunities was asked for
    await user.should_see("5 records")
    assert not [s for s in statements if s.startswith("SELECT count(*) AS count_1 FROM obj_")]


async def test_inbox_speaks_chinese(user, web_workspace):
    Inbox(web_workspace.engine).post(user_id(web_workspace, "rep_east"), "合同已审批")
    await sign_in(user, "rep_east")
    await user.open("/")
    set_value(user, "language", "zh-CN")
    await user.open("/inbox")
    await user.should_see("收件箱")
    await user.should_see("1 条未读")
    await user.should_see("全部标为已读")
