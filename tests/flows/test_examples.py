"""The shipped example flows, each enabled on a small workspace and run end to end."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fixtures_fast import persona
from huey import MemoryHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.db.tx import write_transaction
from dealcraft.flows.engine import FlowEngine
from dealcraft.flows.examples import EXAMPLES, install_examples
from dealcraft.flows.tables import flow_runs, inbox

from .conftest import flow_settings


@pytest.fixture
def shipped(crm_sqlite, webhook_sink):
    """The examples installed (disabled, as in the demo), posting WeCom to the local sink."""
    engine = FlowEngine(crm_sqlite, settings=flow_settings(), huey=MemoryHuey())
    install_examples(engine.service, wecom_url=f"{webhook_sink.url}/cgi-bin/webhook/send?key=t")
    engine.dispatcher.drain()  # the template's own events start nothing
    return engine


def _enable(flows, name):
    flows.service.set_enabled(name, True)


def _only_run(flows, name):
    runs = flows.service.runs(name)
    assert len(runs) == 1, runs
    return flows.service.run(runs[0]["id"])


def _steps(run):
    return [(s["step"], s["status"]) for s in run["steps"]]


def test_examples_are_installed_disabled(shipped):
    listed = {f["name"]: f for f in shipped.service.list()}
    assert set(EXAMPLES) <= set(listed)
    assert not any(listed[name]["enabled"] for name in EXAMPLES)


def test_uncontacted_lead_notifies_the_team_lead_after_a_day(shipped):
    # Given rep_east in a team led by director_east, and the flow enabled
    ws = shipped.workspace
    rep_east, director_east = persona(ws, "rep_east"), persona(ws, "director_east")
    team = ws.records.create(
        SYSTEM, "team", {"name": "华东一组", "region": "华东", "lead": director_east.user_id}
    )
    ws.records.update(SYSTEM, "user", rep_east.user_id, {"team": team["id"]})
    _enable(shipped, "lead_not_contacted")

    # When a lead assigned to rep_east is created, the run waits a day
    lead = ws.records.create(
        SYSTEM,
        "lead",
        {"name": "刘洋", "company": "华信科技", "region": "华东", "assigned_to": rep_east.user_id},
    )
    shipped.run_inline()
    assert _only_run(shipped, "lead_not_contacted")["status"] == "waiting"

    # And a day later nobody has contacted it
    with write_transaction(ws.engine) as conn:
        conn.execute(flow_runs.update().values(wake_at=sa.func.current_timestamp()))
    shipped.run_inline()

    # Then the team lead has a message in the inbox, and the run history shows every step
    run = _only_run(shipped, "lead_not_contacted")
    assert run["status"] == "completed" and run["record_id"] == lead["id"]
    assert _steps(run) == [
        ("wait_a_day", "done"),
        ("still_new", "done"),
        ("assignee", "done"),
        ("team", "done"),
        ("tell_team_lead", "done"),
    ]
    with ws.engine.connect() as conn:
        message = conn.execute(sa.select(inbox)).one()
    assert message.user_id == director_east.user_id
    assert "刘洋" in message.title and message.flow_run_id == run["id"]


def test_contacted_lead_notifies_nobody(shipped):
    ws = shipped.workspace
    _enable(shipped, "lead_not_contacted")
    lead = ws.records.create(SYSTEM, "lead", {"name": "陈静", "region": "华东"})
    shipped.run_inline()
    ws.records.update(SYSTEM, "lead", lead["id"], {"status": "contacted"})
    with write_transaction(ws.engine) as conn:
        conn.execute(flow_runs.update().values(wake_at=sa.func.current_timestamp()))
    shipped.run_inline()
    assert _only_run(shipped, "lead_not_contacted")["status"] == "completed"
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar() == 0


def test_opportunity_at_proposal_gets_a_deck_and_a_wecom_message(shipped, webhook_sink):
    # Given rep_east's opportunity, rep_east's WeCom id, and the flow enabled
    ws = shipped.workspace
    rep_east = persona(ws, "rep_east")
    ws.records.update(SYSTEM, "user", rep_east.user_id, {"wecom_id": "rep.east"})
    deal = ws.records.create(
        SYSTEM,
        "opportunity",
        {
            "name": "华信云平台",
            "amount": 380000,
            "owner": rep_east.user_id,
            "stage": "needs_analysis",
        },
    )
    _enable(shipped, "proposal_deck")

    # When it moves to the proposal stage
    ws.records.update(SYSTEM, "opportunity", deal["id"], {"stage": "proposal"})
    shipped.run_inline()

    # Then a draft proposal holds the generated deck
    run = _only_run(shipped, "proposal_deck")
    assert run["status"] == "completed", run
    assert _steps(run) == [
        ("deck", "done"),
        ("proposal", "done"),
        ("owner", "done"),
        ("tell_owner", "done"),
    ]
    proposal_id = run["steps"][1]["output"]["id"]
    proposal = ws.records.get(SYSTEM, "proposal", proposal_id)
    assert proposal["status"] == "draft" and proposal["opportunity"] == deal["id"]
    deck = run["steps"][0]["output"]
    assert proposal["file"] == deck["file_id"]
    assert (ws.files_dir / deck["file_id"]).read_bytes()[:2] == b"PK"  # a PPTX is a zip

    # And the owner was told once on the WeCom robot, mentioned by their WeCom id
    assert len(webhook_sink.requests) == 1
    sent = json.loads(webhook_sink.requests[0]["body"])
    assert sent["msgtype"] == "markdown"
    assert "<@rep.east>" in sent["markdown"]["content"]
    assert "华信云平台" in sent["markdown"]["content"]


def test_won_opportunity_creates_the_contract_draft_and_onboarding_tasks(shipped):
    # Given an account's opportunity in negotiation, and the flow enabled
    ws = shipped.workspace
    rep_east = persona(ws, "rep_east")
    account = ws.records.create(SYSTEM, "account", {"name": "华信科技有限公司"})
    deal = ws.records.create(
        SYSTEM,
        "opportunity",
        {
            "name": "华信云平台",
            "account": account["id"],
            "amount": 380000,
            "owner": rep_east.user_id,
            "stage": "negotiation",
        },
    )
    _enable(shipped, "won_onboarding")

    # When it is won
    ws.records.update(SYSTEM, "opportunity", deal["id"], {"stage": "won"})
    shipped.run_inline()

    # Then a draft contract for its account and value exists, with three onboarding tasks
    run = _only_run(shipped, "won_onboarding")
    assert run["status"] == "completed", run
    contract = ws.records.get(SYSTEM, "contract", run["steps"][0]["output"]["id"])
    assert contract["status"] == "draft"
    assert contract["account"] == account["id"] and float(contract["value"]) == 380000
    tasks = ws.records.list(
        SYSTEM,
        "task",
        where="related_object = 'opportunity' and related_id = :id",
        params={"id": deal["id"]},
    ).data
    assert len(tasks) == 3
    assert {t["assignee"] for t in tasks} == {rep_east.user_id}
    assert any("项目启动会" in t["subject"] for t in tasks)
