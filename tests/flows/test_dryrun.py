"""Dry runs: each shipped flow described step by step on a demo-like record, with nothing done.

Personas: admin_ada (an admin) asks for the dry runs; rep_east owns the records; rep_south
sells in the south and may not dry-run anything.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures_fast import persona, signed_in_client
from huey import MemoryHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.errors import Forbidden, InvalidInput, NotFound
from dealcraft.flows.dryrun import dry_run
from dealcraft.flows.engine import FlowEngine
from dealcraft.flows.errors import FlowDefinitionInvalid
from dealcraft.flows.examples import install_examples

from .conftest import flow_settings


@pytest.fixture
def shipped(crm_sqlite, webhook_sink):
    """The examples installed (disabled, as in the demo), posting WeCom to the local sink."""
    engine = FlowEngine(crm_sqlite, settings=flow_settings(), huey=MemoryHuey())
    install_examples(engine.service, wecom_url=f"{webhook_sink.url}/cgi-bin/webhook/send?key=t")
    engine.dispatcher.drain()
    return engine


@pytest.fixture
def company(shipped):
    """rep_east in a team led by director_east, with a lead and an opportunity of their own."""
    ws = shipped.workspace
    rep_east, director_east = persona(ws, "rep_east"), persona(ws, "director_east")
    team = ws.records.create(
        SYSTEM, "team", {"name": "华东一组", "region": "华东", "lead": director_east.user_id}
    )
    ws.records.update(SYSTEM, "user", rep_east.user_id, {"team": team["id"], "wecom_id": "r.e"})
    account = ws.records.create(SYSTEM, "account", {"name": "华信科技有限公司"})
    lead = ws.records.create(
        SYSTEM,
        "lead",
        {"name": "刘洋", "company": "华信科技", "region": "华东", "assigned_to": rep_east.user_id},
    )
    deal = ws.records.create(
        SYSTEM,
        "opportunity",
        {
            "name": "华信云平台",
            "account": account["id"],
            "amount": 380000,
            "owner": rep_east.user_id,
            "stage": "proposal",
        },
    )
    shipped.dispatcher.drain()  # the flows are disabled: these events start nothing
    return {"lead": lead, "deal": deal, "team": team, "director_east": director_east}


def footprint(ws) -> dict[str, int]:
    """Rows in every table, and files on disk: a dry run must change none of them."""
    counts: dict[str, int] = {}
    with ws.engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            counts[name] = conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar()
    counts["files on disk"] = len(list(ws.files_dir.iterdir())) if ws.files_dir.exists() else 0
    return counts


def _steps(result):
    return [(s["step"], s["status"]) for s in result["steps"]]


def test_dry_run_lead_not_contacted_describes_the_message_and_sends_nothing(shipped, company):
    # Given the shipped lead flow and a new lead assigned to rep_east
    ws = shipped.workspace
    admin_ada = persona(ws, "admin_ada")
    before = footprint(ws)

    # When admin_ada dry-runs it on the lead
    result = dry_run(ws, "lead_not_contacted", "lead", company["lead"]["id"], admin_ada)

    # Then every step is described: the wait is assumed over, the team lead would be told
    assert result["starts"] is True and result["version"] == 1
    assert _steps(result) == [
        ("wait_a_day", "would_wait"),
        ("still_new", "done"),
        ("assignee", "done"),
        ("team", "done"),
        ("tell_team_lead", "done"),
    ]
    wait = result["steps"][0]
    assert wait["wait"]["until"] is not None and wait["notes"] == ["wait_assumed_over"]
    assert result["steps"][1]["output"] == {"result": True}
    assert result["steps"][3]["output"]["id"] == company["team"]["id"]
    (message,) = result["steps"][4]["effects"]
    assert message["kind"] == "notify.inbox"
    assert message["request"]["user"] == company["director_east"].user_id
    assert message["request"]["title"] == "线索 刘洋 24小时内未联系"

    # And nothing was written anywhere
    assert footprint(ws) == before


def test_dry_run_proposal_deck_describes_deck_proposal_and_robot_and_does_none(
    shipped, company, webhook_sink
):
    ws = shipped.workspace
    before = footprint(ws)

    result = dry_run(
        ws, "proposal_deck", "opportunity", company["deal"]["id"], persona(ws, "admin_ada")
    )

    assert _steps(result) == [
        ("deck", "done"),
        ("proposal", "done"),
        ("owner", "done"),
        ("tell_owner", "done"),
    ]
    assert result["steps"][0]["effects"][0]["kind"] == "document.deck"
    proposal = result["steps"][1]["effects"][0]
    assert proposal["kind"] == "record.create"
    assert proposal["request"]["object"] == "proposal"
    assert proposal["request"]["values"]["name"] == "华信云平台 方案"
    assert proposal["request"]["values"]["status"] == "draft"
    robot = result["steps"][3]["effects"][0]
    assert robot["kind"] == "notify.wecom" and "<@r.e>" in robot["request"]["text"]

    # No deck file, no proposal, no ledger entry, and nothing reached the robot
    assert footprint(ws) == before
    assert webhook_sink.requests == []


def test_dry_run_won_onboarding_describes_contract_and_tasks_and_creates_none(shipped, company):
    ws = shipped.workspace
    before = footprint(ws)

    result = dry_run(
        ws, "won_onboarding", "opportunity", company["deal"]["id"], persona(ws, "admin_ada")
    )

    assert _steps(result) == [
        ("contract", "done"),
        ("kickoff", "done"),
        ("handover", "done"),
        ("training", "done"),
    ]
    contract = result["steps"][0]["effects"][0]["request"]
    assert contract["object"] == "contract"
    assert contract["values"]["account"] == company["deal"]["account"]
    kickoff = result["steps"][1]["effects"][0]["request"]
    assert kickoff["object"] == "task" and kickoff["values"]["priority"] == "high"
    assert kickoff["values"]["related_id"] == company["deal"]["id"]
    assert footprint(ws) == before


def test_dry_run_condition_false_follows_the_else_path(shipped, company):
    # Given the lead was contacted already
    ws = shipped.workspace
    ws.records.update(SYSTEM, "lead", company["lead"]["id"], {"status": "contacted"})

    result = dry_run(
        ws, "lead_not_contacted", "lead", company["lead"]["id"], persona(ws, "admin_ada")
    )

    # Then the condition is false and the run would end there, telling nobody
    assert _steps(result) == [("wait_a_day", "would_wait"), ("still_new", "done")]
    assert result["steps"][1]["output"] == {"result": False}
    assert result["steps"][1]["next"] is None


def test_dry_run_of_a_draft_definition_stops_at_the_step_that_would_park(shipped, company):
    # Given a draft (unsaved) flow whose task is for a user who does not exist
    ws = shipped.workspace
    draft = {
        "name": "draft_flow",
        "run_as": "flow_bot",
        "trigger": {"type": "record.created", "object": "lead"},
        "steps": [
            {
                "id": "tell",
                "type": "notify",
                "channel": "inbox",
                "user": "admin_ada",
                "title": "{{record.name}}",
            },
            {
                "id": "call",
                "type": "create_task",
                "subject": "Call",
                "assignee": "{{record.company}}",
            },
            {"id": "after", "type": "create_task", "subject": "never reached"},
        ],
    }
    before = footprint(ws)

    result = dry_run(ws, draft, "lead", company["lead"]["id"], persona(ws, "admin_ada"))

    # Then the dry run stops where the run would park, saying why; the draft is not saved
    assert result["version"] is None
    assert _steps(result) == [("tell", "done"), ("call", "would_fail")]
    assert result["steps"][0]["effects"][0]["request"]["title"] == "刘洋"
    assert result["steps"][1]["error"] == {
        "code": "unknown_user",
        "message": "no user named '华信科技'",
    }
    assert footprint(ws) == before


def test_dry_run_invalid_draft_is_refused_with_its_location(shipped, company):
    ws = shipped.workspace
    draft = {
        "name": "draft_flow",
        "run_as": "flow_bot",
        "trigger": {"type": "record.created", "object": "lead"},
        "steps": [{"id": "check", "type": "condition", "if": "colour > 3"}],
    }
    with pytest.raises(FlowDefinitionInvalid) as refused:
        dry_run(ws, draft, "lead", company["lead"]["id"], persona(ws, "admin_ada"))
    assert refused.value.details["errors"][0]["field"] == "steps.check.if"


def test_dry_run_by_a_rep_is_refused(shipped, company):
    ws = shipped.workspace
    with pytest.raises(Forbidden) as refused:
        dry_run(ws, "lead_not_contacted", "lead", company["lead"]["id"], persona(ws, "rep_south"))
    assert refused.value.code == "admin_required"


def test_dry_run_on_the_wrong_object_or_a_missing_record_is_refused(shipped, company):
    ws = shipped.workspace
    admin_ada = persona(ws, "admin_ada")
    with pytest.raises(InvalidInput) as wrong:
        dry_run(ws, "lead_not_contacted", "opportunity", company["deal"]["id"], admin_ada)
    assert wrong.value.code == "wrong_object" and wrong.value.details["field"] == "object"
    with pytest.raises(NotFound):
        dry_run(ws, "lead_not_contacted", "lead", 999999, admin_ada)
    with pytest.raises(NotFound) as no_flow:
        dry_run(ws, "no_such_flow", "lead", company["lead"]["id"], admin_ada)
    assert no_flow.value.code == "flow_not_found"


def test_dry_run_api_answers_with_the_steps_and_refuses_reps(shipped, company):
    ws = shipped.workspace
    url = "/api/v1/flows/won_onboarding/dry-run"
    body = {"object": "opportunity", "record_id": company["deal"]["id"]}
    before = footprint(ws)
    with signed_in_client(ws, "admin_ada") as client:
        answer = client.post(url, json=body)
    assert answer.status_code == 200, answer.text
    assert [s["step"] for s in answer.json()["steps"]] == [
        "contract",
        "kickoff",
        "handover",
        "training",
    ]
    with signed_in_client(ws, "rep_south") as client:
        refused = client.post(url, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin_required"
    # Signing in issued tokens; the dry runs themselves wrote nothing else
    after = footprint(ws)
    changed = {k for k in after if after[k] != before[k]}
    assert changed <= {"dc_api_token", "dc_audit"}, changed


def test_dry_run_email_shows_the_message_and_sends_nothing(shipped, company, smtp_sink):
    # Given a draft that e-mails the lead's company about the lead
    ws = shipped.workspace
    draft = {
        "name": "mail_lead",
        "run_as": "flow_bot",
        "trigger": {"type": "record.created", "object": "lead"},
        "steps": [
            {
                "id": "mail",
                "type": "notify",
                "channel": "email",
                "to": "sales@example.com",
                "subject": "New lead {{record.name}}",
                "text": "{{record.company}} asked about us.",
            }
        ],
    }
    before = footprint(ws)

    result = dry_run(ws, draft, "lead", company["lead"]["id"], persona(ws, "admin_ada"))

    # Then the rendered e-mail is shown, and the SMTP sink received nothing
    (mail,) = result["steps"][0]["effects"]
    assert mail["kind"] == "notify.email"
    assert mail["request"] == {
        "channel": "email",
        "to": "sales@example.com",
        "subject": "New lead 刘洋",
        "text": "华信科技 asked about us.",
    }
    assert smtp_sink.messages == []
    assert footprint(ws) == before


def test_dry_run_as_an_account_that_cannot_see_the_record_says_so(shipped, company):
    # Given a draft that runs as rep_south, who cannot see rep_east's lead in the east
    ws = shipped.workspace
    draft = {
        "name": "south_only",
        "run_as": "rep_south",
        "trigger": {"type": "record.created", "object": "lead"},
        "steps": [{"id": "still_new", "type": "condition", "if": "status = 'new'"}],
    }

    result = dry_run(ws, draft, "lead", company["lead"]["id"], persona(ws, "admin_ada"))

    # Then the dry run says the flow cannot see it, and the condition would park the run
    assert result["notes"] == ["record_invisible_to_flow"]
    assert _steps(result) == [("still_new", "would_fail")]
    assert result["steps"][0]["error"]["code"] == "record_unavailable"


def test_dry_run_command_prints_the_steps(shipped, company, monkeypatch):
    from typer.testing import CliRunner

    from dealcraft.flows.cli import flow_app

    ws = shipped.workspace
    monkeypatch.setenv("DEALCRAFT_DATABASE_URL", ws.settings.database_url)
    # (the command sets DEALCRAFT_DATA_DIR itself; set here, it is restored afterwards)
    monkeypatch.setenv("DEALCRAFT_DATA_DIR", str(ws.settings.data_dir))
    record = f"opportunity:{company['deal']['id']}"
    args = [
        "dry-run",
        "won_onboarding",
        "--record",
        record,
        "--data-dir",
        str(ws.settings.data_dir),
    ]
    before = footprint(ws)

    result = CliRunner().invoke(flow_app, args)

    assert result.exit_code == 0, result.output
    assert '"step": "kickoff"' in result.output and '"kind": "record.create"' in result.output
    assert footprint(ws) == before
    bad = CliRunner().invoke(flow_app, ["dry-run", "won_onboarding", "--record", "deal-7"])
    assert bad.exit_code == 2 and "OBJECT:ID" in bad.output


def test_dry_run_writes_nothing_on_either_backend(crm, webhook_sink):
    # Given the shipped flows on this backend, and a won-ready opportunity of rep_east's
    engine = FlowEngine(crm, settings=flow_settings(), huey=MemoryHuey())
    install_examples(engine.service, wecom_url=f"{webhook_sink.url}/cgi-bin/webhook/send?key=t")
    deal = crm.records.create(
        SYSTEM,
        "opportunity",
        {"name": "华信云平台", "amount": 380000, "owner": persona(crm, "rep_east").user_id},
    )
    engine.dispatcher.drain()
    before = footprint(crm)
    assert before["dc_flow_version"] == 3  # the footprint sees this backend's tables

    # When admin_ada dry-runs the deck and the onboarding flows on it
    for name in ("proposal_deck", "won_onboarding"):
        result = dry_run(crm, name, "opportunity", deal["id"], persona(crm, "admin_ada"))
        assert {s["status"] for s in result["steps"]} == {"done"}

    # Then no table changed and nothing was sent
    assert footprint(crm) == before
    assert webhook_sink.requests == []
