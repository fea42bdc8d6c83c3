"""Stories for the action library: approvals, the verification gate, decks, assignment,
robots, and inbound webhooks."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from fixtures_fast import persona

from dealcraft.access.principal import SYSTEM
from dealcraft.connectors.channels import dingtalk_sign, feishu_sign, webhook_signature
from dealcraft.documents.decks import deck_text
from dealcraft.errors import Forbidden, ValidationFailed
from dealcraft.flows import verification
from dealcraft.flows.tables import approvals, inbox


def _save(flows, steps, trigger=None, object_name="opportunity"):
    flows.service.save(
        {
            "name": "story",
            "enabled": True,
            "run_as": "flow_bot",
            "trigger": trigger or {"type": "manual", "object": object_name},
            "steps": steps,
        }
    )


def test_approval_by_a_person_continues_the_run(flows_sqlite):
    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [
            {
                "id": "ok",
                "type": "approval",
                "approver": "director_east",
                "title": "Discount?",
                "on_reject": "end",
            },
            {"id": "task", "type": "create_task", "subject": "Send {{record.name}}"},
        ],
    )
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Deal"})
    run_id = flows_sqlite.service.start("story", SYSTEM, record_id=deal["id"])
    flows_sqlite.run_inline()
    assert flows_sqlite.service.run(run_id)["status"] == "waiting"

    # When someone else tries, it does not exist for them; the approver approves
    with ws.engine.connect() as conn:
        approval_id = conn.execute(sa.select(approvals.c.id)).scalar()
        note = conn.execute(sa.select(inbox.c.title)).scalar()
    assert note == "Discount?"
    with pytest.raises(Exception) as refused:
        flows_sqlite.service.decide(approval_id, persona(ws, "rep_east"), True)
    assert refused.value.code == "approval_not_found"
    flows_sqlite.service.decide(approval_id, persona(ws, "director_east"), True, "fine")
    flows_sqlite.run_inline()

    # Then the run went on
    assert flows_sqlite.service.run(run_id)["status"] == "completed"
    assert ws.records.count(SYSTEM, "task") == 1


def test_approval_escalates_after_timeout(flows_sqlite):
    from dealcraft.db.tx import write_transaction
    from dealcraft.flows.tables import flow_runs

    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [
            {
                "id": "ok",
                "type": "approval",
                "approver": "director_east",
                "timeout": "1d",
                "escalate_to": "admin_ada",
            }
        ],
    )
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Deal"})
    run_id = flows_sqlite.service.start("story", SYSTEM, record_id=deal["id"])
    flows_sqlite.run_inline()
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_runs.update()
            .where(flow_runs.c.id == run_id)
            .values(wake_at=sa.func.current_timestamp())
        )
    flows_sqlite.run_inline()
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(approvals)).one()
    assert row.escalated and row.approver_user_id == ws.identity.find_user("admin_ada")["id"]
    assert flows_sqlite.service.run(run_id)["status"] == "waiting"


def test_large_proposal_waits_for_owner_annotation(flows_sqlite):
    ws = flows_sqlite.workspace
    rep = persona(ws, "rep_east")
    _save(
        flows_sqlite,
        [
            {"id": "gate", "type": "verification_gate"},
            {"id": "send", "type": "update_record", "values": {"status": "sent"}},
        ],
        object_name="proposal",
    )
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Deal", "owner": rep.user_id})
    proposal = ws.records.create(
        SYSTEM,
        "proposal",
        {
            "name": "Proposal",
            "opportunity": deal["id"],
            "amount": 800000,
            "owner": rep.user_id,
        },
    )
    run_id = flows_sqlite.service.start("story", SYSTEM, record_id=proposal["id"])
    flows_sqlite.run_inline()
    assert flows_sqlite.service.run(run_id)["status"] == "waiting"
    with pytest.raises(verification.VerificationRequired):
        verification.check_send_allowed(ws, "proposal", proposal)

    # When someone else annotates, or the owner copies the assistant, it is refused
    assistant = "Lead with the three-year cost of ownership and the regional service network."
    with pytest.raises(Forbidden) as not_owner:
        verification.add_annotation(
            ws,
            persona(ws, "director_east"),
            "proposal",
            proposal["id"],
            "I think we should lead with price and speed.",
        )
    assert not_owner.value.code == "not_owner"
    with pytest.raises(ValidationFailed) as similar:
        verification.add_annotation(
            ws, rep, "proposal", proposal["id"], assistant + "!", assistant_text=assistant
        )
    assert similar.value.code == "annotation_too_similar"
    assert similar.value.details["similarity"] >= 0.8
    assert "%" in similar.value.message
    assert flows_sqlite.service.run(run_id)["status"] == "waiting"

    # When the owner writes their own strategy, the proposal is sent
    verification.add_annotation(
        ws,
        rep,
        "proposal",
        proposal["id"],
        "Their CFO worries about cash flow: offer staged payments tied to rollout milestones.",
        assistant_text=assistant,
    )
    flows_sqlite.run_inline()
    assert flows_sqlite.service.run(run_id)["status"] == "completed"
    assert ws.records.get(SYSTEM, "proposal", proposal["id"])["status"] == "sent"


def test_small_proposal_passes_the_gate(flows_sqlite):
    ws = flows_sqlite.workspace
    _save(flows_sqlite, [{"id": "gate", "type": "verification_gate"}], object_name="proposal")
    proposal = ws.records.create(SYSTEM, "proposal", {"name": "Small", "amount": 1000})
    run_id = flows_sqlite.service.start("story", SYSTEM, record_id=proposal["id"])
    flows_sqlite.run_inline()
    assert flows_sqlite.service.run(run_id)["status"] == "completed"


def test_generate_deck_attaches_pptx_to_the_proposal(flows_sqlite):
    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [
            {
                "id": "deck",
                "type": "generate_deck",
                "title": "{{record.name}}",
                "subtitle": "¥{{record.amount}}",
                "attach_to": "file",
                "slides": [{"title": "Why us", "bullets": ["Fast rollout", "Local service"]}],
            }
        ],
        object_name="proposal",
    )
    proposal = ws.records.create(SYSTEM, "proposal", {"name": "华东集团方案", "amount": 120000})
    flows_sqlite.service.start("story", SYSTEM, record_id=proposal["id"])
    flows_sqlite.run_inline()
    file_id = ws.records.get(SYSTEM, "proposal", proposal["id"])["file"]
    text = deck_text((ws.files_dir / file_id).read_bytes())
    assert text[:2] == ["华东集团方案", "¥120000"]
    assert "Fast rollout\nLocal service" in text


def test_assign_owner_round_robin_within_team(flows_sqlite):
    ws = flows_sqlite.workspace
    team = ws.records.create(SYSTEM, "team", {"name": "East"})
    members = [
        ws.identity.create_user(f"east{i}", "password-123", role="sales_rep", team=team["id"])["id"]
        for i in range(2)
    ]
    _save(
        flows_sqlite,
        [{"id": "assign", "type": "assign_owner", "team": "East"}],
        trigger={"type": "record.created", "object": "opportunity"},
    )
    deals = [ws.records.create(SYSTEM, "opportunity", {"name": f"D{i}"})["id"] for i in range(3)]
    flows_sqlite.run_inline()
    owners = [ws.records.get(SYSTEM, "opportunity", d)["owner"] for d in deals]
    assert owners == [members[0], members[1], members[0]]


def test_robot_channels_use_their_formats_and_signatures(flows_sqlite, webhook_sink):
    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [
            {
                "id": "wecom",
                "type": "notify",
                "channel": "wecom",
                "url": webhook_sink.url + "/wecom",
                "title": "Deck",
                "text": "{{record.name}} is ready",
            },
            {
                "id": "ding",
                "type": "notify",
                "channel": "dingtalk",
                "secret": "SECx",
                "url": webhook_sink.url + "/ding?access_token=t",
                "text": "ready",
            },
            {
                "id": "feishu",
                "type": "notify",
                "channel": "feishu",
                "secret": "fs",
                "url": webhook_sink.url + "/feishu",
                "text": "ready",
            },
        ],
    )
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Deal"})
    flows_sqlite.service.start("story", SYSTEM, record_id=deal["id"])
    flows_sqlite.run_inline()
    wecom, ding, feishu = webhook_sink.requests
    assert json.loads(wecom["body"]) == {
        "msgtype": "markdown",
        "markdown": {"content": "### Deck\nDeal is ready"},
    }
    assert "timestamp=" in ding["path"] and "&sign=" in ding["path"]
    stamp = ding["path"].split("timestamp=")[1].split("&")[0]
    assert ding["path"].endswith("sign=" + dingtalk_sign("SECx", stamp))
    body = json.loads(feishu["body"])
    assert body["sign"] == feishu_sign("fs", body["timestamp"])
    assert body["content"] == {"text": "ready"}


def test_inbound_webhook_needs_the_flow_signature_and_runs_once_per_delivery(flows_sqlite):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dealcraft.api.errors import install_error_handlers
    from dealcraft.flows.api import router

    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [{"id": "task", "type": "create_task", "subject": "{{trigger.payload.x}}"}],
        trigger={"type": "webhook"},
    )
    app = FastAPI()
    app.state.workspace = ws
    install_error_handlers(app)
    app.include_router(router)
    client = TestClient(app)
    body = b'{"x": "from outside"}'
    secret = flows_sqlite.service.webhook_secret("story")
    signed = {
        "X-Dealcraft-Signature": webhook_signature(secret, str(int(time.time())), body),
        "X-Dealcraft-Delivery": "d-1",
    }

    # A wrong signature is refused; a signed delivery runs once, however often it comes
    wrong = client.post(
        "/api/v1/flows/story/webhook", content=body, headers={"X-Dealcraft-Signature": "t=1,v1=00"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_signature"
    first = client.post("/api/v1/flows/story/webhook", content=body, headers=signed)
    again = client.post("/api/v1/flows/story/webhook", content=body, headers=signed)
    assert first.status_code == 202 and first.json()["run_id"]
    assert again.json()["run_id"] is None
    flows_sqlite.run_inline()
    assert [t["subject"] for t in ws.records.list(SYSTEM, "task").data] == ["from outside"]


def test_schedule_fires_once_per_matching_minute(flows_sqlite):
    import datetime as dt

    _save(
        flows_sqlite,
        [{"id": "hook", "type": "webhook", "url": "http://127.0.0.1:9/never"}],
        trigger={"type": "schedule", "cron": "30 9 * * 1-5"},
    )
    monday = dt.datetime(2025, 6, 2, 9, 30, 12)
    assert len(flows_sqlite.time_triggers.fire(monday)) == 1
    assert flows_sqlite.time_triggers.fire(monday) == []  # a second worker, same tick
    assert flows_sqlite.time_triggers.fire(monday.replace(minute=31)) == []
    assert flows_sqlite.time_triggers.fire(dt.datetime(2025, 6, 1, 9, 30)) == []  # Sunday


def test_date_trigger_starts_three_days_before_close(flows_sqlite):
    import datetime as dt

    ws = flows_sqlite.workspace
    _save(
        flows_sqlite,
        [{"id": "task", "type": "create_task", "subject": "Close {{record.name}}"}],
        trigger={"type": "date", "object": "opportunity", "field": "close_date", "offset_days": -3},
    )
    today = dt.datetime(2025, 6, 2, 8, 0)
    ws.records.create(SYSTEM, "opportunity", {"name": "Soon", "close_date": "2025-06-05"})
    ws.records.create(SYSTEM, "opportunity", {"name": "Later", "close_date": "2025-06-20"})
    flows_sqlite.dispatcher.drain()
    assert len(flows_sqlite.time_triggers.fire(today)) == 1
    flows_sqlite.time_triggers._last_scan = 0
    assert flows_sqlite.time_triggers.fire(today) == []
    flows_sqlite.run_inline()
    assert [t["subject"] for t in ws.records.list(SYSTEM, "task").data] == ["Close Soon"]
