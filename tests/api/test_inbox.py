"""The inbox over HTTP: my messages only, unread counts, marking read."""

from __future__ import annotations

import pytest
from fixtures_fast import persona, signed_in_client

from dealcraft.access.principal import SYSTEM
from dealcraft.inbox import Inbox


@pytest.fixture
def rep_east(crm_sqlite):
    with signed_in_client(crm_sqlite, "rep_east") as c:
        yield c


@pytest.fixture
def messages(crm_sqlite):
    """Two messages for rep_east (the newer one about a deal), one for rep_south."""
    box = Inbox(crm_sqlite.engine)
    east = persona(crm_sqlite, "rep_east").user_id
    south = persona(crm_sqlite, "rep_south").user_id
    return {
        "older": box.post(east, "Quote approved", "Director signed off"),
        "newer": box.post(east, "Deal at risk", object_name="opportunity", record_id=7),
        "south": box.post(south, "Southern news"),
    }


def test_list_inbox_shows_only_my_messages_newest_first(rep_east, messages):
    # when rep_east reads the inbox
    answer = rep_east.get("/api/v1/inbox")

    # then they get their two messages, newest first, both unread, and not rep_south's
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [m["id"] for m in body["data"]] == [messages["newer"], messages["older"]]
    assert body["unread"] == 2
    assert body["data"][0]["object_name"] == "opportunity"
    assert body["data"][0]["record_id"] == 7
    assert all(m["read_at"] is None for m in body["data"])


def test_read_message_drops_unread_count_and_orders_unread_first(rep_east, messages):
    # when rep_east reads the newer message
    answer = rep_east.post(f"/api/v1/inbox/{messages['newer']}/read")

    # then it carries its read time, one message stays unread, and it comes first on request
    assert answer.status_code == 200, answer.text
    assert answer.json()["read_at"] is not None
    body = rep_east.get("/api/v1/inbox", params={"unread_first": "true"}).json()
    assert body["unread"] == 1
    assert [m["id"] for m in body["data"]] == [messages["older"], messages["newer"]]
    only_unread = rep_east.get("/api/v1/inbox", params={"unread": "true"}).json()["data"]
    assert [m["id"] for m in only_unread] == [messages["older"]]


def test_read_someone_elses_message_answers_404_and_changes_nothing(rep_east, messages, crm_sqlite):
    # when rep_east tries to mark rep_south's message read
    answer = rep_east.post(f"/api/v1/inbox/{messages['south']}/read")

    # then it does not exist for them, and it stays unread for rep_south
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "inbox_message_not_found"
    south = persona(crm_sqlite, "rep_south")
    assert Inbox(crm_sqlite.engine).unread_count(south) == 1


def test_read_all_marks_only_my_messages(rep_east, messages, crm_sqlite):
    answer = rep_east.post("/api/v1/inbox/read-all")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"marked": 2}
    assert rep_east.get("/api/v1/inbox").json()["unread"] == 0
    assert Inbox(crm_sqlite.engine).unread_count(persona(crm_sqlite, "rep_south")) == 1


def test_inbox_reads_and_marks_on_both_backends(crm):
    # The same story on SQLite and PostgreSQL: post, count, mark one, mark the rest.
    box = Inbox(crm.engine)
    rep = persona(crm, "rep_east")
    first = box.post(rep.user_id, "One")
    box.post(rep.user_id, "Two")
    assert box.unread_count(rep) == 2
    assert box.mark_read(rep, first)["read_at"] is not None
    assert [m["title"] for m in box.messages(rep, unread_only=True)] == ["Two"]
    assert box.mark_all_read(rep) == 1
    assert box.unread_count(rep) == 0


def test_service_principal_has_no_inbox(crm_sqlite, messages):
    box = Inbox(crm_sqlite.engine)
    assert box.messages(SYSTEM) == []
    assert box.unread_count(SYSTEM) == 0
    assert box.mark_all_read(SYSTEM) == 0


def test_list_inbox_refuses_a_limit_out_of_range(rep_east):
    answer = rep_east.get("/api/v1/inbox", params={"limit": 0})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_limit"


def test_inbox_needs_a_token(crm_sqlite):
    from fastapi.testclient import TestClient

    from dealcraft.app import create_app

    answer = TestClient(create_app(crm_sqlite)).get("/api/v1/inbox")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "authentication_required"
