"""The record table of list pages and related lists: one element, escaped, formatted, linked.

Through NiceGUI's simulated user; personas come from ``seed.py`` (rep_east owns the hospital
deals of 华东医疗集团; a sales rep sees contacts' phone numbers and emails masked). Clicks
inside the table (row selection, sort headers) run in a browser: see ``test_e2e.py``.
"""

from __future__ import annotations

import pytest
from nicegui.events import GenericEventArguments

from dealcraft.access.principal import SYSTEM
from dealcraft.web.tables import RecordTable
from web.test_lists_more import principal, user_id
from web.test_pages import record_id, sign_in

pytestmark = pytest.mark.anyio

HOSTILE = "<img src=x onerror=alert(1)>"
COLUMNS = "name,account,stage,amount,probability,owner,close_date,region,created_at,updated_at"


def the_table(user) -> RecordTable:
    tables = [e for e in user.client.elements.values() if isinstance(e, RecordTable)]
    assert len(tables) == 1, tables
    return tables[0]


async def test_list_record_named_like_html_renders_as_text(user, web_workspace):
    # given a deal of rep_east's and an account whose names are HTML
    ws = web_workspace
    account = ws.records.create(SYSTEM, "account", {"name": f"{HOSTILE} Ltd", "region": "华东"})
    deal = ws.records.create(
        SYSTEM,
        "opportunity",
        {"name": HOSTILE, "account": account["id"], "owner": user_id(ws, "rep_east")},
    )

    # when rep_east opens the list of opportunities
    await sign_in(user, "rep_east")
    await user.open("/o/opportunity?columns=name,account,stage")
    await user.should_see(HOSTILE)

    # then both names are text in the page, each a link to its record
    content = the_table(user).content
    assert "<img" not in content
    assert (
        f'<a class="nicegui-link" href="/o/opportunity/{deal["id"]}">'
        "&lt;img src=x onerror=alert(1)&gt;</a>"
    ) in content
    assert (
        f'<a class="nicegui-link" href="/o/account/{account["id"]}">'
        "&lt;img src=x onerror=alert(1)&gt; Ltd</a>"
    ) in content


async def test_related_list_escapes_names_and_links_records(user, web_workspace):
    # given a contact with an HTML name at rep_east's hospital account
    ws = web_workspace
    account = record_id(ws, "account", "name = '华东医疗集团'")
    contact = ws.records.create(SYSTEM, "contact", {"name": HOSTILE, "account": account})

    # when rep_east opens the account
    await sign_in(user, "rep_east", f"/o/account/{account}")
    await user.should_see(HOSTILE)

    # then the contacts' related list shows it as text, linked to the contact
    related = [
        e
        for e in user.client.elements.values()
        if isinstance(e, RecordTable) and e.obj.name == "contact"
    ]
    assert len(related) == 1
    assert "<img" not in related[0].content
    assert f'href="/o/contact/{contact["id"]}">&lt;img src=x' in related[0].content


async def test_list_shows_formatted_values_and_masked_ones(user, web_workspace):
    # given a contact of rep_east's region with a phone number and an email
    ws = web_workspace
    account = record_id(ws, "account", "name = '华东医疗集团'")
    ws.records.create(
        SYSTEM,
        "contact",
        {
            "name": "王芳",
            "account": account,
            "phone": "13812345678",
            "email": "wang.fang@example.com",
        },
    )
    rep = principal(ws, "rep_east")
    shown = ws.records.list(rep, "contact", where="name = '王芳'").data[0]
    assert shown["phone"] != "13812345678" and shown["email"] != "wang.fang@example.com"

    # when rep_east lists contacts with those columns
    await sign_in(user, "rep_east")
    await user.open("/o/contact?columns=name,phone,email,account")
    await user.should_see("王芳")

    # then the phone and the email show masked, as the record service gave them
    content = the_table(user).content
    assert "13812345678" not in content and "wang.fang@example.com" not in content
    await user.should_see(shown["phone"])
    await user.should_see(shown["email"])
    await user.should_see("华东医疗集团")

    # and a money amount shows with its currency, as fields.display formats it
    await user.open("/o/opportunity?columns=name,amount&sort=name")
    await user.should_see("Hospital ERP phase 1")
    deal = ws.records.list(rep, "opportunity", where="name = 'Hospital ERP phase 1'").data[0]
    currency = deal.get("amount_currency") or "CNY"
    await user.should_see(f"{currency} {deal['amount']:,.2f}")


async def test_opportunity_list_element_count_does_not_grow_with_rows(user, web_workspace):
    # given 60 of rep_east's opportunities
    ws = web_workspace
    ws.records.bulk_create(
        SYSTEM,
        "opportunity",
        [
            {"name": f"Count deal {i:02d}", "stage": "proposal", "owner": user_id(ws, "rep_east")}
            for i in range(60)
        ],
    )
    await sign_in(user, "rep_east")

    # when the list is drawn with 10 columns and 10, then 50 rows
    counts = {}
    for limit in (10, 50):
        await user.open(f"/o/opportunity?limit={limit}&sort=name&columns={COLUMNS}")
        await user.should_see("Count deal 00")
        assert the_table(user).content.count("<tr class") == limit
        counts[limit] = len(user.client.elements)

    # then the page holds the same number of elements (one element per cell made it 1,300)
    assert counts[10] == counts[50]
    assert counts[50] < 200, counts


async def test_list_headers_sort_and_row_boxes_carry_record_ids(user, web_workspace):
    # given rep_east's list sorted by name
    await sign_in(user, "rep_east")
    await user.open("/o/opportunity?sort=name&columns=name,stage,amount")
    await user.should_see("Hospital ERP phase 1")
    table = the_table(user)
    rep = principal(web_workspace, "rep_east")
    deals = web_workspace.records.list(rep, "opportunity", sort="name").data

    # then each row has a selection box named for its record, and sortable headers are
    # buttons with the arrow on the sorted column
    for deal in deals:
        assert f'data-testid="select-{deal["id"]}" aria-label="Select {deal["name"]}"' in (
            table.content
        )
    assert 'data-sort="name" data-testid="sort-name">Name ▲</button>' in table.content
    assert 'data-sort="stage"' in table.content

    # when the header's click reaches the server, then the list sorts the other way
    table.handle_click(_click(table, {"sort": "name"}))
    await user.should_see("Name ▼")
    assert 'data-testid="sort-name">Name ▼</button>' in the_table(user).content

    # and a row's box selects that record for bulk edit
    the_table(user).handle_click(_click(table, {"select": deals[0]["id"], "checked": True}))
    await user.should_see("Edit selected (1)")


async def test_unticking_a_row_unticks_the_page_box_and_keeps_the_others(user, web_workspace):
    # given rep_east has ticked the whole page of their five deals
    await sign_in(user, "rep_east")
    await user.open("/o/opportunity?sort=name")
    await user.should_see("Hospital ERP phase 1")
    user.find(marker="select-page").click()
    await user.should_see("Edit selected (5)")
    table = the_table(user)
    first = web_workspace.records.list(
        principal(web_workspace, "rep_east"), "opportunity", sort="name", limit=1
    ).data[0]

    # when they untick one row
    with table:
        table.handle_click(_click(table, {"select": first["id"], "checked": False}))

    # then four stay selected and the page's box is no longer ticked
    await user.should_see("Edit selected (4)")
    assert user.find(marker="select-page").elements.pop().value is False


def _click(table: RecordTable, args: dict) -> GenericEventArguments:
    """What the table's click listener sends from the browser (see ``CLICK_HANDLER``)."""
    return GenericEventArguments(sender=table, client=table.client, args=args)
