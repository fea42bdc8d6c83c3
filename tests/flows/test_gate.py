"""The human verification gate as a write rule: no write through the record service sends a
large proposal without its owner's own strategy annotation."""

from __future__ import annotations

import sqlalchemy as sa
from fixtures_fast import persona, signed_in_client

from dealcraft.access.principal import SYSTEM
from dealcraft.db import system

OWN_WORDS = "Their CFO worries about cash flow: offer staged payments tied to rollout milestones."


def _proposal(ws, owner, amount):
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Acme rollout", "owner": owner})
    return ws.records.create(
        SYSTEM,
        "proposal",
        {"name": "Acme proposal", "opportunity": deal["id"], "amount": amount, "owner": owner},
    )


def _updates(ws, record_id) -> int:
    o = system.outbox
    with ws.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(o)
            .where(
                o.c.object_name == "proposal",
                o.c.record_id == record_id,
                o.c.event_type == "record.updated",
            )
        ).scalar()


def test_send_large_proposal_without_annotation_is_refused_through_the_api(crm_sqlite):
    # Given rep_east's ¥800,000 proposal in draft
    ws = crm_sqlite
    rep_east = persona(ws, "rep_east")
    proposal = _proposal(ws, rep_east.user_id, 800_000)
    client = signed_in_client(ws, "rep_east")

    # When rep_east marks it sent directly
    response = client.patch(f"/api/v1/records/proposal/{proposal['id']}", json={"status": "sent"})

    # Then the write is refused with the rule, and nothing changed
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "verification_required"
    assert error["details"]["field"] == "status"
    assert error["details"]["reason"] == "owner_annotation_missing"
    assert "¥500,000" in error["message"] and "¥800,000" in error["message"]
    assert ws.records.get(SYSTEM, "proposal", proposal["id"])["status"] == "draft"
    assert _updates(ws, proposal["id"]) == 0

    # And a new proposal cannot be created as already sent either
    created = client.post(
        "/api/v1/records/proposal",
        json={
            "name": "Sent at birth",
            "amount": 900_000,
            "owner": rep_east.user_id,
            "status": "sent",
        },
    )
    assert created.status_code == 409
    assert created.json()["error"]["code"] == "verification_required"


def test_send_large_proposal_after_director_annotation_is_still_refused(crm_sqlite):
    # Given a director (not the owner) may not annotate rep_east's proposal
    ws = crm_sqlite
    rep_east = persona(ws, "rep_east")
    proposal = _proposal(ws, rep_east.user_id, 800_000)
    director = signed_in_client(ws, "director_east")
    refused = director.post(
        f"/api/v1/flows/annotations/proposal/{proposal['id']}", json={"text": OWN_WORDS}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_owner"

    # When the director sends it, then the gate still holds
    response = director.patch(f"/api/v1/records/proposal/{proposal['id']}", json={"status": "sent"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "verification_required"


def test_send_large_proposal_after_owner_annotation_succeeds(crm_sqlite):
    # Given rep_east has written their own strategy on the proposal
    ws = crm_sqlite
    rep_east = persona(ws, "rep_east")
    proposal = _proposal(ws, rep_east.user_id, 800_000)
    client = signed_in_client(ws, "rep_east")
    annotated = client.post(
        f"/api/v1/flows/annotations/proposal/{proposal['id']}", json={"text": OWN_WORDS}
    )
    assert annotated.status_code == 201, annotated.text

    # When they send it, then it is sent
    response = client.patch(f"/api/v1/records/proposal/{proposal['id']}", json={"status": "sent"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent"


def test_send_small_proposal_needs_no_annotation(crm_sqlite):
    ws = crm_sqlite
    rep_east = persona(ws, "rep_east")
    proposal = _proposal(ws, rep_east.user_id, 120_000)
    response = signed_in_client(ws, "rep_east").patch(
        f"/api/v1/records/proposal/{proposal['id']}", json={"status": "sent"}
    )
    assert response.status_code == 200, response.text


def test_import_of_sent_large_proposals_is_refused(crm_sqlite):
    # Given an import as a director with a large proposal already marked sent
    ws = crm_sqlite
    rep_east = persona(ws, "rep_east")
    rows = [
        {"name": "Fine", "amount": 10_000, "owner": rep_east.user_id, "status": "sent"},
        {"name": "Too big", "amount": 2_000_000, "owner": rep_east.user_id, "status": "sent"},
    ]

    # When it is imported, then the whole batch is refused and nothing is written
    response = signed_in_client(ws, "director_east").post(
        "/api/v1/records/proposal/bulk", json={"records": rows}
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "verification_required"
    assert ws.records.count(SYSTEM, "proposal", where="name = 'Fine'") == 0
