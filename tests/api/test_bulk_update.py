"""Bulk edit over HTTP: ``PATCH /api/v1/records/{object}`` changes each record on its own.

rep_east owns two opportunities; rep_south owns one, outside rep_east's scope.
"""

from __future__ import annotations

import pytest
from fixtures_fast import persona, signed_in_client

from dealcraft.access.principal import SYSTEM


@pytest.fixture
def deals(crm_sqlite):
    ws = crm_sqlite
    account = ws.records.create(SYSTEM, "account", {"name": "华东医疗", "region": "华东"})
    east = persona(ws, "rep_east").user_id
    south = persona(ws, "rep_south").user_id

    def deal(name, owner):
        return ws.records.create(
            SYSTEM,
            "opportunity",
            {"name": name, "account": account["id"], "stage": "proposal", "owner": owner},
        )

    return {
        "east1": deal("East one", east),
        "east2": deal("East two", east),
        "south": deal("South one", south),
    }


def test_bulk_update_changes_each_and_reports_refused_ones(crm_sqlite, deals):
    ws = crm_sqlite
    ids = [
        deals["east1"]["id"],
        {"id": deals["east2"]["id"], "version": deals["east2"]["version"] + 5},
        deals["south"]["id"],
    ]
    # when rep_east sets the stage of three deals, one stale and one not theirs
    with signed_in_client(ws, "rep_east") as rep:
        answer = rep.patch(
            "/api/v1/records/opportunity", json={"ids": ids, "values": {"stage": "negotiation"}}
        )

    # then the own deal changed (with a history entry) and the others are refused by reason
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["changed"], body["unchanged"], body["refused"]) == (1, 0, 2)
    codes = {r["id"]: r.get("code") for r in body["results"]}
    assert codes == {
        deals["east1"]["id"]: None,
        deals["east2"]["id"]: "version_conflict",
        deals["south"]["id"]: "record_not_found",
    }
    assert ws.records.get(SYSTEM, "opportunity", deals["east1"]["id"])["stage"] == "negotiation"
    for name in ("east2", "south"):
        assert ws.records.get(SYSTEM, "opportunity", deals[name]["id"])["stage"] == "proposal"
    history = ws.records.history(SYSTEM, "opportunity", deals["east1"]["id"])
    assert any(h["field"] == "stage" and h["new_value"] == "negotiation" for h in history)


def test_bulk_update_moving_a_deal_out_of_scope_is_a_scope_violation(crm_sqlite, deals):
    south = persona(crm_sqlite, "rep_south").user_id
    with signed_in_client(crm_sqlite, "rep_east") as rep:
        answer = rep.patch(
            "/api/v1/records/opportunity",
            json={"ids": [deals["east1"]["id"]], "values": {"owner": south}},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["code"] == "scope_violation"
    kept = crm_sqlite.records.get(SYSTEM, "opportunity", deals["east1"]["id"])
    assert kept["owner"] == persona(crm_sqlite, "rep_east").user_id


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"ids": [], "values": {"stage": "won"}}, 400, "invalid_ids"),
        ({"ids": ["one"], "values": {"stage": "won"}}, 400, "invalid_ids"),
        ({"ids": [2**64], "values": {"stage": "won"}}, 400, "invalid_ids"),
        ({"ids": [{"id": 1, "version": True}], "values": {"stage": "won"}}, 400, "invalid_ids"),
        ({"ids": list(range(1, 502)), "values": {"stage": "won"}}, 400, "too_many_ids"),
        ({"ids": [1], "values": {}}, 400, "invalid_values"),
    ],
)
def test_bulk_update_refuses_a_malformed_request(crm_sqlite, deals, body, status, code):
    with signed_in_client(crm_sqlite, "rep_east") as rep:
        answer = rep.patch("/api/v1/records/opportunity", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    kept = crm_sqlite.records.get(SYSTEM, "opportunity", deals["east1"]["id"])
    assert kept["version"] == deals["east1"]["version"]


def test_bulk_update_of_a_read_only_object_is_refused_up_front(crm_sqlite):
    # Reps may only read contracts.
    with signed_in_client(crm_sqlite, "rep_east") as rep:
        answer = rep.patch("/api/v1/records/contract", json={"ids": [1], "values": {"name": "x"}})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "operation_denied"
