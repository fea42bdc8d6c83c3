"""Saved views over HTTP: mine, my team's shared ones, and who may change them.

Personas: rep_east and rep_east2 sell in the East team; rep_south is in no team (nor is
admin_ada). A rep sees only the opportunities they own.
"""

from __future__ import annotations

import pytest
from fixtures_fast import persona, signed_in_client

from dealcraft.access.principal import SYSTEM
from dealcraft.saved_views.service import SavedViews

WON = {"object_name": "opportunity", "name": "Won deals", "where": "stage = 'won'"}


@pytest.fixture
def east_team(crm_sqlite):
    """An East team holding rep_east and a second eastern rep, rep_east2."""
    ws = crm_sqlite
    team = ws.records.create(SYSTEM, "team", {"name": "East team", "region": "华东"})
    ws.records.create(
        SYSTEM,
        "user",
        {"username": "rep_east2", "role": "sales_rep", "region": "华东", "name": "rep_east2"},
    )
    for username in ("rep_east", "rep_east2"):
        user = ws.identity.find_user(username)
        ws.records.update(SYSTEM, "user", user["id"], {"team": team["id"]})
    return team["id"]


def client(ws, username):
    return signed_in_client(ws, username)


def test_create_view_answers_201_and_lists_it_as_mine(crm):
    # On both backends: the table comes from migration 0006.
    with client(crm, "rep_east") as rep:
        answer = rep.post("/api/v1/views", json={**WON, "columns": ["name", "amount"]})
        assert answer.status_code == 201, answer.text
        view = answer.json()
        assert (view["name"], view["where"], view["columns"]) == (
            "Won deals",
            "stage = 'won'",
            ["name", "amount"],
        )
        assert view["mine"] is True and view["team_id"] is None

        listed = rep.get("/api/v1/views", params={"object": "opportunity"}).json()["data"]
        assert [v["id"] for v in listed] == [view["id"]]
        assert rep.get("/api/v1/views", params={"object": "account"}).json()["data"] == []


def test_update_and_delete_own_view(crm_sqlite):
    with client(crm_sqlite, "rep_east") as rep:
        view = rep.post("/api/v1/views", json=WON).json()

        changed = rep.patch(f"/api/v1/views/{view['id']}", json={"sort": "-amount"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["sort"] == "-amount"
        assert changed.json()["where"] == "stage = 'won'"

        assert rep.delete(f"/api/v1/views/{view['id']}").status_code == 204
        gone = rep.get(f"/api/v1/views/{view['id']}")
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "view_not_found"


def test_create_view_with_a_taken_name_answers_409(crm_sqlite):
    with client(crm_sqlite, "rep_east") as rep:
        assert rep.post("/api/v1/views", json=WON).status_code == 201
        again = rep.post("/api/v1/views", json={**WON, "where": "amount > 1"})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "view_name_taken"
    # and another user may use the same name
    with client(crm_sqlite, "rep_south") as other:
        assert other.post("/api/v1/views", json=WON).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({**WON, "where": "stage = "}, 400, "expr_syntax", "where"),
        ({**WON, "where": "colour = 'red'"}, 400, "expr_unknown_field", "where"),
        ({**WON, "sort": "-colour"}, 400, "invalid_sort", "sort"),
        ({**WON, "columns": ["name", "colour"]}, 422, "unknown_field", "columns"),
        ({**WON, "name": "  "}, 422, "required", "name"),
        ({**WON, "object_name": "spaceship"}, 404, "object_not_found", None),
        ({**WON, "rows": [1]}, 422, "unknown_key", "rows"),
        ({**WON, "where": 1}, 422, "invalid_text", "where"),
        ({**WON, "object_name": ["opportunity"]}, 422, "invalid_text", "object_name"),
        ({**WON, "team_id": "East"}, 422, "invalid_integer", "team_id"),
    ],
)
def test_create_view_refuses_a_bad_definition_naming_the_field(
    crm_sqlite, body, status, code, field
):
    with client(crm_sqlite, "rep_east") as rep:
        answer = rep.post("/api/v1/views", json=body)
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
        if code is not None:
            assert error["code"] == code
        if field is not None:
            assert error["details"]["field"] == field
    assert SavedViews(crm_sqlite).list(persona(crm_sqlite, "rep_east")) == []


def test_view_of_a_hidden_column_is_refused_to_a_rep(crm_sqlite):
    # The supply-chain fields of an account are hidden from reps.
    with client(crm_sqlite, "rep_east") as rep:
        answer = rep.post(
            "/api/v1/views",
            json={"object_name": "account", "name": "Credit", "columns": ["credit_limit"]},
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "unknown_field"


def test_shared_view_is_visible_to_a_teammate_and_not_to_another_team(crm_sqlite, east_team):
    # given rep_east shares "Won deals" with the East team
    with client(crm_sqlite, "rep_east") as rep:
        shared = rep.post("/api/v1/views", json={**WON, "team_id": east_team})
        assert shared.status_code == 201, shared.text
        view = shared.json()

    # then the teammate sees it, not as theirs, and may not change or delete it
    with client(crm_sqlite, "rep_east2") as mate:
        listed = mate.get("/api/v1/views").json()["data"]
        assert [(v["id"], v["mine"]) for v in listed] == [(view["id"], False)]
        refused = mate.patch(f"/api/v1/views/{view['id']}", json={"where": None})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "view_owner_required"
        assert mate.delete(f"/api/v1/views/{view['id']}").status_code == 403

    # and a rep of no team neither lists nor opens it: it does not exist for them
    with client(crm_sqlite, "rep_south") as south:
        assert south.get("/api/v1/views").json()["data"] == []
        hidden = south.get(f"/api/v1/views/{view['id']}")
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "view_not_found"
        assert south.delete(f"/api/v1/views/{view['id']}").status_code == 404

    # and nothing changed
    kept = SavedViews(crm_sqlite).get(persona(crm_sqlite, "rep_east"), view["id"])
    assert kept["where"] == "stage = 'won'"


def test_share_view_with_a_team_not_mine_answers_403(crm_sqlite, east_team):
    with client(crm_sqlite, "rep_south") as south:
        answer = south.post("/api/v1/views", json={**WON, "team_id": east_team})
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "not_team_member"
        assert error["details"] == {"field": "team_id", "value": east_team}
        assert south.get("/api/v1/views").json()["data"] == []


def test_admin_may_change_anyones_view(crm_sqlite):
    with client(crm_sqlite, "rep_east") as rep:
        view = rep.post("/api/v1/views", json=WON).json()
    with client(crm_sqlite, "admin_ada") as admin:
        # not in the admin's own list, but reachable by id
        assert admin.get("/api/v1/views").json()["data"] == []
        answer = admin.patch(f"/api/v1/views/{view['id']}", json={"name": "Won (tidied)"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["owner_id"] == persona(crm_sqlite, "rep_east").user_id


def test_view_needs_a_token(crm_sqlite):
    from fastapi.testclient import TestClient

    from dealcraft.app import create_app

    answer = TestClient(create_app(crm_sqlite)).post("/api/v1/views", json=WON)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "authentication_required"


def test_every_view_bulk_and_inbox_error_code_is_documented():
    from api.test_records_api import documented_codes

    codes = {
        "view_not_found",
        "view_owner_required",
        "view_name_taken",
        "not_team_member",
        "unknown_key",
        "view_object_fixed",
        "user_required",
        "inbox_message_not_found",
        "invalid_ids",
        "too_many_ids",
        "invalid_values",
    }
    assert codes - documented_codes() == set()


def test_move_view_to_another_object_is_refused(crm_sqlite):
    with client(crm_sqlite, "rep_east") as rep:
        view = rep.post("/api/v1/views", json=WON).json()
        answer = rep.patch(f"/api/v1/views/{view['id']}", json={"object_name": "account"})
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "view_object_fixed"
        assert rep.get(f"/api/v1/views/{view['id']}").json()["object_name"] == "opportunity"


def test_service_principal_may_not_own_a_view(crm_sqlite):
    from dealcraft.errors import Forbidden

    with pytest.raises(Forbidden) as refused:
        SavedViews(crm_sqlite).create(SYSTEM, WON)
    assert refused.value.code == "user_required"
    assert SavedViews(crm_sqlite).list(SYSTEM) == []
