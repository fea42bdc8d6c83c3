"""The web app as people use it, through NiceGUI's simulated user (no browser).

Personas come from ``seed.py``: rep_east owns the hospital account and its opportunities,
manager_east leads the East team, admin may change the schema, rep_south sells in the south.
"""

from __future__ import annotations

import pytest
from nicegui import ui

from dealcraft.access.principal import SYSTEM
from web.seed import PASSWORD

pytestmark = pytest.mark.anyio


async def sign_in(user, username: str, path: str = "/") -> None:
    await user.open(f"/login?next={path}")
    user.find(marker="username").type(username)
    user.find(marker="password").type(PASSWORD)
    user.find(marker="login").click()
    await user.should_see(marker="logout", retries=30)


def set_value(user, marker: str, value) -> None:
    """Choose a value of a select (or any value element) as a person would."""
    for element in user.find(marker=marker).elements:
        element.value = value


def record_id(workspace, object_name: str, where: str) -> int:
    page = workspace.records.list(SYSTEM, object_name, where=where, limit=1)
    return page.data[0]["id"]


# Shell ---------------------------------------------------------------------------------------
async def test_sign_in_rep_sees_my_day(user):
    # given an anonymous visitor, when they open the home page, then they must sign in
    await user.open("/")
    await user.should_see("Sign in")

    # when rep_east signs in, then "my day" shows the task due and the waiting lead
    await sign_in(user, "rep_east")
    await user.should_see("Call the CIO back")
    await user.should_see(marker="leads-waiting")
    await user.should_see("30 h since assignment")
    await user.should_see(marker="my-pipeline")


async def test_sign_in_wrong_password_is_refused(user):
    await user.open("/login")
    user.find(marker="username").type("rep_east")
    user.find(marker="password").type("not-the-password")
    user.find(marker="login").click()
    await user.should_see("Wrong username or password")


async def test_sign_out_returns_to_sign_in(user):
    await sign_in(user, "rep_east")
    await user.should_see("My day")
    user.find(marker="logout").click()
    await user.should_see(marker="login")
    await user.open("/o/account")
    await user.should_see(marker="login")


async def test_chinese_browser_gets_chinese_ui(user):
    user.http_client.headers["Accept-Language"] = "zh-CN,zh;q=0.9,en;q=0.8"
    await user.open("/login")
    await user.should_see("登录")
    await sign_in(user, "rep_east", "/o/opportunity")
    # object and choice labels come from metadata
    await user.should_see("商机")
    await user.should_see("初步接洽")


async def test_language_switch_to_chinese_is_remembered(user):
    await sign_in(user, "rep_east")
    await user.should_see("My day")
    set_value(user, "language", "zh-CN")
    await user.should_see("我的一天")
    await user.open("/o/account")
    await user.should_see("新建客户")


async def test_search_finds_account_by_part_of_its_name(user):
    await sign_in(user, "rep_east", "/search?q=医疗")
    await user.should_see("华东医疗集团")


async def test_unknown_record_shows_not_found_page(user):
    await sign_in(user, "rep_east", "/o/account/99999")
    await user.should_see(marker="not-found")
    await user.open("/o/no_such_object")
    await user.should_see(marker="not-found")


# Lists ---------------------------------------------------------------------------------------
async def test_list_opportunities_filters_with_an_expression(user):
    await sign_in(user, "rep_east", "/o/opportunity")
    await user.should_see("Hospital ERP phase 1")
    await user.should_see("5 records")

    user.find(marker="filter").type("stage = 'won'")
    user.find(marker="apply-filter").click()
    await user.should_see("Hospital ERP phase 5")
    await user.should_not_see("Hospital ERP phase 1")
    await user.should_see("1 records")


async def test_list_bad_filter_shows_the_offending_token(user):
    await sign_in(user, "rep_east", "/o/opportunity")
    user.find(marker="filter").type("stage = 'won' and colour > 3")
    user.find(marker="apply-filter").click()
    await user.should_see(marker="filter-error")
    await user.should_see("colour")
    # the caret sits under the token: 18 spaces, then one ^ per character
    await user.should_see("stage = 'won' and colour > 3\n" + " " * 18 + "^^^^^^")


async def test_list_sorts_and_pages_with_cursors(user, web_workspace):
    for i in range(30):
        web_workspace.records.create(SYSTEM, "product", {"name": f"Product {i:02d}"})
    await sign_in(user, "rep_east", "/o/product?sort=name")
    await user.should_see("Product 00")
    await user.should_not_see("Product 29")
    user.find(marker="next-page").click()
    await user.should_see("Product 29")
    await user.should_not_see("Product 00")
    user.find(marker="previous-page").click()
    await user.should_see("Product 00")


# Record page ---------------------------------------------------------------------------------
async def test_account_page_shows_fields_related_lists_and_history(user, web_workspace):
    account = record_id(web_workspace, "account", "name = '华东医疗集团'")
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see(marker="record-title")
    await user.should_see("Medical")  # a choice shown by its label
    await user.should_see("张伟")  # related contact
    await user.should_see("Hospital ERP phase 3")  # related opportunity
    await user.should_see("Contract")
    await user.should_see("Activity")
    await user.should_see("created the record")


# Forms ---------------------------------------------------------------------------------------
async def test_create_opportunity_without_name_shows_required_message(user, web_workspace):
    await sign_in(user, "rep_east", "/o/opportunity/new")
    user.find(marker="save").click()
    await user.should_see("Name is required")
    await user.should_see(marker="form-invalid")
    assert web_workspace.records.count(SYSTEM, "opportunity") == 5


async def test_create_contact_with_bad_email_shows_field_message(user, web_workspace):
    await sign_in(user, "rep_east", "/o/contact/new")
    user.find(marker="field-name").type("王芳")
    user.find(marker="field-email").type("not-an-email")
    user.find(marker="save").click()
    await user.should_see("Email is not a valid e-mail address")


async def test_create_account_goes_to_its_page(user, web_workspace):
    await sign_in(user, "rep_east", "/o/account/new")
    user.find(marker="field-name").type("西南能源")
    set_value(user, "field-industry", "energy")
    user.find(marker="save").click()
    await user.should_see("Energy")
    assert web_workspace.records.count(SYSTEM, "account", where="name = '西南能源'") == 1


async def test_edit_after_someone_else_saved_shows_conflict(user, web_workspace):
    opportunity = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")
    await sign_in(user, "rep_east", f"/o/opportunity/{opportunity}/edit")
    await user.should_see(marker="field-name")

    # given someone else saves first
    web_workspace.records.update(SYSTEM, "opportunity", opportunity, {"probability": 35})

    # when the rep saves their change, then they are told, and nothing is overwritten
    user.find(marker="field-name").type(" (renewal)")
    user.find(marker="save").click()
    await user.should_see(marker="conflict")
    await user.should_see("Someone else saved this record first")
    record = web_workspace.records.get(SYSTEM, "opportunity", opportunity)
    assert record["name"] == "Hospital ERP phase 1"
    assert record["probability"] == 35


# Kanban --------------------------------------------------------------------------------------
async def test_kanban_move_changes_stage_and_history(user, web_workspace):
    opportunity = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 2'")
    await sign_in(user, "rep_east", "/kanban/opportunity")
    await user.should_see("Qualification (1)")
    user.find(marker=f"move-{opportunity}-proposal").click()
    await user.should_see("Moved to Proposal")
    await user.should_see("Proposal (2)")
    assert web_workspace.records.get(SYSTEM, "opportunity", opportunity)["stage"] == "proposal"

    await user.open(f"/o/opportunity/{opportunity}")
    await user.should_see("Stage: Qualification → Proposal")


# Builder -------------------------------------------------------------------------------------
async def test_builder_admin_adds_choice_field_that_appears_in_form_and_list(user):
    await sign_in(user, "admin", "/admin/objects/opportunity")
    user.find(marker="field-name").type("deal_source")
    user.find(marker="field-label-en").type("Deal source")
    user.find(marker="field-label-zh").type("商机来源")
    set_value(user, "field-type", "choice")
    await user.should_see(marker="choice-value-0")
    user.find(marker="choice-value-0").type("tender")
    user.find(marker="add-choice").click()
    await user.should_see(marker="choice-value-1")
    user.find(marker="choice-value-1").type("referral")
    user.find(marker="add-field").click()
    await user.should_see("Field deal_source added")

    await user.open("/o/opportunity/new")
    await user.should_see(marker="field-deal_source")
    await user.open("/o/opportunity")
    await user.should_see("Deal source")


async def test_builder_formula_is_validated_while_typing(user):
    await sign_in(user, "admin", "/admin/objects/opportunity")
    set_value(user, "field-type", "formula")
    await user.should_see(marker="field-expression")
    user.find(marker="field-expression").type("amount * colour")
    await user.should_see("colour")
    user.find(marker="field-expression").clear()
    user.find(marker="field-expression").type("amount * 2")
    await user.should_see("Valid; the result is a number")


async def test_builder_refuses_bad_field_name_with_the_rule(user, web_workspace):
    await sign_in(user, "admin", "/admin/objects/opportunity")
    user.find(marker="field-name").type("Bad Name")
    user.find(marker="add-field").click()
    await user.should_see("is not a valid name")
    assert web_workspace.registry.view().objects["opportunity"].field("Bad Name") is None


async def test_builder_archive_hides_field_and_restore_brings_it_back(user, web_workspace):
    await sign_in(user, "admin", "/admin/objects/opportunity")
    user.find(marker="archive-loss_reason").click()
    await user.should_see(marker="restore-loss_reason")
    await user.open("/o/opportunity/new")
    await user.should_not_see(marker="field-loss_reason")
    await user.open("/admin/objects/opportunity")
    user.find(marker="restore-loss_reason").click()
    await user.should_see(marker="archive-loss_reason")


async def test_builder_is_refused_to_a_rep(user):
    await sign_in(user, "rep_east", "/admin/objects/opportunity")
    await user.should_see(marker="admin-only")
    await user.should_not_see(marker="add-field")


# Workbenches ---------------------------------------------------------------------------------
async def test_manager_sees_team_funnel_with_table(user):
    await sign_in(user, "manager_east", "/team")
    await user.should_see(marker="team-funnel")
    await user.should_see(kind=ui.echart)
    await user.should_see("Negotiation")
    await user.should_see("Li Rep")


async def test_admin_lists_users(user):
    await sign_in(user, "admin", "/admin/users")
    await user.should_see("rep_south")
    await user.should_see("Regional manager")
