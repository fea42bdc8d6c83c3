"""The object builder's editing tools and the record page they shape, as people use them.

Personas come from ``seed.py``: admin changes the schema; rep_east owns the hospital account
(华东医疗集团), its contact 张伟 and its five opportunities, and may not see an account's
credit limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nicegui import core

from dealcraft.access.principal import SYSTEM
from web.test_pages import record_id, set_value, sign_in

pytestmark = pytest.mark.anyio

ACCOUNT = "name = '华东医疗集团'"


def texts(user, marker: str) -> list[str]:
    """The visible texts (and subtitles) inside the elements carrying ``marker``."""
    found = []
    for element in user.find(marker=marker).elements:
        for inner in [element, *element.descendants()]:
            for text in (getattr(inner, "text", None), inner.props.get("subtitle")):
                if isinstance(text, str) and text:
                    found.append(text)
    return found


def element_id(user, marker: str) -> int:
    """The id of the element with ``marker``; ids grow in the order elements are made."""
    (element,) = user.find(marker=marker).elements
    return element.id


def _stage(workspace) -> list[dict]:
    return workspace.registry.view().objects["opportunity"].field("stage").options["choices"]


# Record page: layout -------------------------------------------------------------------------
async def test_record_page_with_two_sections_renders_them_in_order(user, web_workspace):
    # given an account layout of "Finance" (credit limit, industry) before "Basics" (name)
    web_workspace.schema.save_layout(
        "account",
        {
            "sections": [
                {
                    "key": "finance",
                    "labels": {"en": "Finance", "zh-CN": "财务"},
                    "fields": ["credit_limit", "industry"],
                },
                {"key": "basics", "labels": {"en": "Basics", "zh-CN": "基本"}, "fields": ["name"]},
            ]
        },
    )
    account = record_id(web_workspace, "account", ACCOUNT)

    # when admin opens the account
    await sign_in(user, "admin", f"/o/account/{account}")

    # then the sections show in the layout's order, each with its fields
    await user.should_see("Finance")
    await user.should_see("Basics")
    assert element_id(user, "section-finance") < element_id(user, "section-basics")
    assert "Credit limit" in texts(user, "section-finance")
    assert "Industry" in texts(user, "section-finance")
    assert "Industry" not in texts(user, "section-basics")


async def test_record_page_sections_show_their_chinese_labels(user, web_workspace):
    web_workspace.schema.save_layout(
        "account",
        {
            "sections": [
                {"key": "finance", "labels": {"en": "Finance", "zh-CN": "财务"}, "fields": ["name"]}
            ]
        },
    )
    account = record_id(web_workspace, "account", ACCOUNT)
    user.http_client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"

    await sign_in(user, "rep_east", f"/o/account/{account}")

    await user.should_see("财务")
    await user.should_see("动态")  # the timeline
    await user.should_not_see("Finance")


async def test_field_hidden_from_a_rep_stays_hidden_despite_the_layout(user, web_workspace):
    # given a layout that puts the credit limit first, in a section of its own
    web_workspace.schema.save_layout(
        "account",
        {
            "sections": [
                {"key": "finance", "label": "Finance", "fields": ["credit_limit"]},
                {"key": "basics", "label": "Basics", "fields": ["name", "industry"]},
            ]
        },
    )
    account = record_id(web_workspace, "account", ACCOUNT)
    web_workspace.records.update(SYSTEM, "account", account, {"credit_limit": 5_000_000})

    # when rep_east (whose policy hides the credit limit) opens the account
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see("Basics")

    # then neither the field nor its now-empty section is shown
    await user.should_not_see("Credit limit")
    await user.should_not_see(marker="section-finance")
    await user.should_not_see("5,000,000")


async def test_layout_hiding_a_related_list_removes_it_from_the_page(user, web_workspace):
    keys = [r.key for r in web_workspace.schema.layout("account").related_lists]
    web_workspace.schema.save_layout(
        "account",
        {
            "sections": [{"key": "main", "label": "Main", "fields": ["name"]}],
            "related_lists": [k for k in keys if k != "contact.account"],
        },
    )
    account = record_id(web_workspace, "account", ACCOUNT)

    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see("Hospital ERP phase 3")
    await user.should_not_see("张伟")


async def test_form_follows_the_layout_and_has_no_input_for_a_hidden_field(user, web_workspace):
    # given an account layout of "Finance" (credit limit, industry) before "Basics" (name)
    web_workspace.schema.save_layout(
        "account",
        {
            "sections": [
                {"key": "finance", "label": "Finance", "fields": ["credit_limit", "industry"]},
                {"key": "basics", "label": "Basics", "fields": ["name"]},
            ]
        },
    )

    # when rep_east opens a new account's form
    await sign_in(user, "rep_east", "/o/account/new")
    await user.should_see(marker="field-name")

    # then the inputs are grouped in the layout's order, without the hidden credit limit
    assert element_id(user, "form-section-finance") < element_id(user, "form-section-basics")
    assert element_id(user, "field-industry") < element_id(user, "field-name")
    await user.should_not_see(marker="field-credit_limit")


# Record page: timeline -----------------------------------------------------------------------
async def test_timeline_shows_a_field_change_and_a_related_activity_in_time_order(
    user, web_workspace
):
    # given a visit to the account's contact two days ago, logged by rep_east
    account = record_id(web_workspace, "account", ACCOUNT)
    contact = record_id(web_workspace, "contact", "name = '张伟'")
    rep = record_id(web_workspace, "user", "username = 'rep_east'")
    two_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    web_workspace.records.create(
        SYSTEM,
        "activity",
        {
            "type": "visit",
            "subject": "Site visit with the CIO",
            "contact": contact,
            "owner": rep,
            "occurred_at": two_days_ago.isoformat(timespec="seconds"),
        },
    )
    # and, now, the account's industry changed
    web_workspace.records.update(SYSTEM, "account", account, {"industry": "energy"})

    # when rep_east opens the account
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see(marker="timeline")

    # then the timeline shows, newest first: the change, the creation, the older visit
    entries = [" ".join(texts(user, f"timeline-{i}")) for i in range(3)]
    assert "Industry: Medical → Energy" in entries[0]
    assert "created the record" in entries[1]
    assert "Visit: Site visit with the CIO" in entries[2]
    assert "Li Rep" in entries[2]


async def test_timeline_shows_more_entries_on_request(user, web_workspace):
    # given 25 calls logged on the account
    account = record_id(web_workspace, "account", ACCOUNT)
    rep = record_id(web_workspace, "user", "username = 'rep_east'")
    web_workspace.records.bulk_create(
        SYSTEM,
        "activity",
        [
            {
                "type": "call",
                "subject": f"Call {i:02d}",
                "account": account,
                "owner": rep,
                "occurred_at": f"2026-01-{i + 1:02d}T09:00:00",
            }
            for i in range(25)
        ],
    )

    # when rep_east opens the account, only the newest 20 entries show
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see("Call: Call 24")
    await user.should_not_see("Call: Call 00")

    # and "show more" brings the older ones
    user.find(marker="timeline-more").click()
    await user.should_see("Call: Call 00")


async def test_record_page_statements_do_not_grow_with_the_timeline(user, web_workspace):
    account = record_id(web_workspace, "account", ACCOUNT)
    rep = record_id(web_workspace, "user", "username = 'rep_east'")
    engine = core.app.state.dealcraft_workspace.engine
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see(marker="timeline")

    async def statements() -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            await user.open(f"/o/account/{account}")
            await user.should_see(marker="timeline")
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    def change_industry(times: int) -> None:
        for i in range(times):
            industry = ("energy", "medical")[i % 2]
            web_workspace.records.update(SYSTEM, "account", account, {"industry": industry})

    # given the page with 2 activities and 1 change, then with 17 activities and 9 changes
    calls = [
        {"type": "call", "subject": f"Call {i}", "account": account, "owner": rep}
        for i in range(17)
    ]
    web_workspace.records.bulk_create(SYSTEM, "activity", calls[:2])
    change_industry(1)
    await statements()  # warms the caches
    few = await statements()
    web_workspace.records.bulk_create(SYSTEM, "activity", calls[2:])
    change_industry(8)
    many = await statements()

    # then the page makes the same number of statements, however long its timeline.
    # 216 when pinned on SQLite with schema and policy re-checked on every read (tests use
    # refresh 0): session, rail, record, nine related lists with their titles, timeline.
    assert few == many
    assert many <= 240


# Builder: editing fields --------------------------------------------------------------------
async def test_builder_edit_field_label_shows_in_form_and_list(user, web_workspace):
    # given admin on the opportunity's fields
    await sign_in(user, "admin", "/admin/objects/opportunity")

    # when they edit the close date's labels
    user.find(marker="edit-close_date").click()
    await user.should_see(marker="edit-label-en")
    user.find(marker="edit-label-en").clear().type("Expected signing")
    user.find(marker="edit-label-zh").clear().type("预计签约")
    user.find(marker="save-field").click()
    await user.should_see("Field close_date saved")

    # then the form and the list show the new label at once
    await user.open("/o/opportunity/new")
    await user.should_see("Expected signing")
    await user.open("/o/opportunity")
    await user.should_see("Expected signing")
    field = web_workspace.registry.view().objects["opportunity"].field("close_date")
    assert field.labels == {"en": "Expected signing", "zh-CN": "预计签约"}


async def test_builder_edit_help_text_shows_under_the_form_input(user, web_workspace):
    await sign_in(user, "admin", "/admin/objects/opportunity/fields/amount")
    user.find(marker="edit-help-en").type("Before tax, in the deal's currency")
    user.find(marker="save-field").click()
    await user.should_see("Field amount saved")

    await user.open("/o/opportunity/new")
    (amount,) = user.find(marker="field-amount").elements
    assert amount.props["hint"] == "Before tax, in the deal's currency"


async def test_builder_edit_formula_is_validated_live_and_refused_when_wrong(user, web_workspace):
    await sign_in(user, "admin", "/admin/objects/opportunity/fields/weighted_amount")
    await user.should_see("Valid; the result is a number")

    # when the expression names a field that does not exist, the verdict says so at once
    user.find(marker="edit-expression").clear().type("amount * colour")
    await user.should_see("colour")

    # and saving it is refused, leaving the stored expression as it was
    user.find(marker="save-field").click()
    await user.should_see(marker="error")
    field = web_workspace.registry.view().objects["opportunity"].field("weighted_amount")
    assert field.options["expression"] == "amount * probability / 100"


async def test_builder_edit_rollup_is_validated_live(user, web_workspace):
    # given admin editing the account's open pipeline (a sum over opportunities)
    await sign_in(user, "admin", "/admin/objects/account/fields/open_pipeline")
    await user.should_see("Valid; the result is a number")

    # when the condition names a field opportunities do not have, the verdict says so
    user.find(marker="edit-rollup-where").clear().type("colour = 'red'")
    await user.should_see("colour")
    await user.should_not_see("Valid; the result is a number")

    # and when it is put right, the verdict is valid again
    user.find(marker="edit-rollup-where").clear().type("stage = 'won'")
    await user.should_see("Valid; the result is a number")


async def test_builder_new_rollup_is_validated_while_it_is_defined(user):
    await sign_in(user, "admin", "/admin/objects/account")
    user.find(marker="field-name").type("won_deals")
    set_value(user, "field-type", "rollup")
    await user.should_see(marker="rollup-check")
    set_value(user, "rollup-object", "opportunity")
    await user.should_see("must be a reference field")
    user.find(marker="rollup-via").type("account")
    await user.should_see("Valid; the result is a number")


async def test_builder_reorder_moves_a_field_up_in_forms_and_lists(user, web_workspace):
    def order() -> list[str]:
        obj = web_workspace.registry.view().objects["opportunity"]
        return [f.name for f in sorted(obj.active_fields, key=lambda f: f.position)]

    before = order()
    assert before.index("amount") > before.index("stage")

    # when admin moves the amount up once
    await sign_in(user, "admin", "/admin/objects/opportunity")
    user.find(marker="up-amount").click()
    await user.should_see(marker="up-amount")

    # then amount comes before stage, saved, and the form shows them in that order
    after = order()
    assert after.index("amount") == before.index("stage")
    assert after.index("stage") == before.index("amount")
    await user.open("/o/opportunity/new")
    await user.should_see(marker="field-amount")
    assert element_id(user, "field-amount") < element_id(user, "field-stage")


# Builder: stages -----------------------------------------------------------------------------
async def test_builder_add_stage_shows_in_kanban_columns_and_form_select(user, web_workspace):
    count = len(_stage(web_workspace))

    # when admin adds a "tender" stage with labels in both languages, moved up one place
    await sign_in(user, "admin", "/admin/objects/opportunity/fields/stage")
    user.find(marker="edit-add-choice").click()
    await user.should_see(marker=f"edit-choice-value-{count}")
    user.find(marker=f"edit-choice-value-{count}").type("tender")
    user.find(marker=f"edit-choice-en-{count}").type("Tender")
    user.find(marker=f"edit-choice-zh-{count}").type("招投标")
    set_value(user, f"edit-choice-colour-{count}", "teal")
    user.find(marker=f"choice-up-{count}").click()
    await user.should_see(marker=f"edit-choice-value-{count}")
    user.find(marker="save-field").click()
    await user.should_see("Field stage saved")

    # then it is stored before the last stage, with its labels and colour
    values = [c["value"] for c in _stage(web_workspace)]
    assert values[-2] == "tender"
    tender = _stage(web_workspace)[-2]
    assert (tender["labels"]["zh-CN"], tender["color"]) == ("招投标", "teal")

    # and the kanban has a column for it, and the form offers it
    await user.open("/kanban/opportunity")
    await user.should_see("Tender (0)")
    await user.open("/o/opportunity/new")
    (select,) = user.find(marker="field-stage").elements
    assert "tender" in select.options


async def test_builder_remove_used_stage_is_refused_with_the_count(user, web_workspace):
    # given one opportunity (phase 3) in the proposal stage
    before = _stage(web_workspace)
    proposal = [c["value"] for c in before].index("proposal")

    # when admin removes the stage and saves
    await sign_in(user, "admin", "/admin/objects/opportunity/fields/stage")
    user.find(marker=f"choice-remove-{proposal}").click()
    await user.should_not_see(marker=f"edit-choice-value-{len(before) - 1}")
    user.find(marker="save-field").click()

    # then it is refused with the number of records in it, and the stages are unchanged
    await user.should_see("1 record(s) use the choice 'proposal'")
    assert _stage(web_workspace) == before


# Builder: layout -----------------------------------------------------------------------------
async def test_builder_layout_editor_moves_a_field_into_a_new_section(user, web_workspace):
    # given admin on the account's layout (none saved yet: one Details section)
    await sign_in(user, "admin", "/admin/objects/account")
    user.find(marker="open-layout").click()
    await user.should_see(marker="section-key-0")

    # when they add a "finance" section and move the credit limit into it
    user.find(marker="new-section-key").type("finance")
    user.find(marker="add-section").click()
    await user.should_see(marker="section-key-1")
    user.find(marker="section-en-1").type("Finance")
    set_value(user, "layout-move-credit_limit", 1)
    await user.should_see(marker="section-up-1")
    user.find(marker="section-up-1").click()
    await user.should_see(marker="section-key-1")
    user.find(marker="save-layout").click()
    await user.should_see("Layout saved")

    # then the layout is stored with finance first
    layout = web_workspace.schema.layout("account")
    assert [s.key for s in layout.sections] == ["finance", "details"]
    assert layout.sections[0].fields == ("credit_limit",)

    # and the account page shows the section, first, with the field in it
    account = record_id(web_workspace, "account", ACCOUNT)
    await user.open(f"/o/account/{account}")
    await user.should_see("Finance")
    assert "Credit limit" in texts(user, "section-finance")
    assert element_id(user, "section-finance") < element_id(user, "section-details")


async def test_builder_layout_editor_refuses_an_empty_section(user, web_workspace):
    await sign_in(user, "admin", "/admin/objects/account/layout")
    user.find(marker="new-section-key").type("empty")
    user.find(marker="add-section").click()
    await user.should_see(marker="section-key-1")
    user.find(marker="save-layout").click()
    await user.should_see("section 'empty' has no fields")
    assert not web_workspace.schema.layout("account").saved


async def test_builder_field_editor_is_refused_to_a_rep(user):
    await sign_in(user, "rep_east", "/admin/objects/opportunity/fields/stage")
    await user.should_see(marker="admin-only")
    await user.should_not_see(marker="save-field")
