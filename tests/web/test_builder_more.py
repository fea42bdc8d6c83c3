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
from web.test_pages import record_id, sign_in

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

    # given the page with 2 activities, then with 15 more
    calls = [
        {"type": "call", "subject": f"Call {i}", "account": account, "owner": rep}
        for i in range(17)
    ]
    web_workspace.records.bulk_create(SYSTEM, "activity", calls[:2])
    await statements()  # warms the caches
    few = await statements()
    web_workspace.records.bulk_create(SYSTEM, "activity", calls[2:])
    many = await statements()

    # then the page makes the same number of statements
    assert few == many
