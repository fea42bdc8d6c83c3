"""Flows in the web app: the list, the builder and its dry run, the run history.

Personas come from ``seed.py``: admin manages the flows; rep_east owns the hospital account
and its opportunities and may not see the flow pages; manager_east leads the East team.
The shipped example flows are installed (disabled, as the demo does) by ``shipped``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flows.sinks import WebhookSink
from huey import MemoryHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.db.tx import write_transaction
from dealcraft.flows.engine import FlowEngine
from dealcraft.flows.examples import install_examples
from dealcraft.flows.settings import FlowSettings
from dealcraft.flows.tables import flow_effects, flow_runs, inbox
from web.test_pages import record_id, set_value, sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture
def robot():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def shipped(web_workspace, robot):
    """The three example flows installed on the test's workspace, and an inline engine."""
    engine = FlowEngine(
        web_workspace,
        settings=FlowSettings(backoff_seconds=0.0, max_attempts=3, http_timeout=5),
        huey=MemoryHuey(),
    )
    install_examples(engine.service, wecom_url=f"{robot.url}/cgi-bin/webhook/send?key=t")
    engine.dispatcher.drain()  # the seeded records' events start nothing: the flows are off
    return engine


def manual_flow(engine, name: str, steps: list[dict]) -> None:
    engine.service.save(
        {
            "name": name,
            "run_as": "flow_bot",
            "trigger": {"type": "manual", "object": "opportunity"},
            "steps": steps,
        }
    )
    engine.service.set_enabled(name, True)


def counts(ws) -> dict[str, int]:
    with ws.engine.connect() as conn:
        tables = {"runs": flow_runs, "effects": flow_effects, "inbox": inbox}
        found = {
            key: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for key, t in tables.items()
        }
    for object_name in ("contract", "task", "proposal"):
        found[object_name] = len(ws.records.list(SYSTEM, object_name, limit=500).data)
    return found


def graph(user) -> str:
    (element,) = user.find(marker="flow-graph").elements
    return element.content


# The list ------------------------------------------------------------------------------------
async def test_open_flows_admin_sees_the_shipped_flows_and_enables_one(user, shipped):
    await sign_in(user, "admin", "/flows")
    await user.should_see("New lead not contacted in 24 hours")
    await user.should_see(marker="enabled-proposal_deck")
    await user.should_see("record.updated opportunity")

    user.find(marker="enabled-won_onboarding").click()
    await user.should_see("won_onboarding enabled")
    listed = {f["name"]: f["enabled"] for f in shipped.service.list()}
    assert listed == {"lead_not_contacted": False, "proposal_deck": False, "won_onboarding": True}


async def test_open_flows_in_chinese_shows_chinese_labels(user, shipped):
    user.http_client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    await sign_in(user, "admin", "/flows")
    await user.should_see("自动化流程")
    await user.should_see("新线索24小时未跟进提醒")
    await user.open("/flows/won_onboarding")
    await user.should_see("试运行")
    await user.should_see("保存为新版本")


async def test_open_flows_rep_is_refused_every_flow_page(user, shipped):
    await sign_in(user, "rep_east", "/flows")
    await user.should_see(marker="admin-only")
    await user.should_not_see("New lead not contacted in 24 hours")
    await user.should_not_see("Flows")  # no link in the navigation either
    for path in ("/flows/lead_not_contacted", "/flows/runs", "/flows/runs/1"):
        await user.open(path)
        await user.should_see(marker="admin-only")
        await user.should_not_see(marker="flow-graph")


# The builder ---------------------------------------------------------------------------------
async def test_open_builder_shows_the_graph_with_branches_and_a_step_form(user, shipped):
    await sign_in(user, "admin", "/flows/lead_not_contacted")
    await user.should_see(marker="flow-graph")
    source = graph(user)
    assert "START_ --> s_wait_a_day" in source
    assert "s_wait_a_day --> s_still_new" in source
    assert "s_still_new -->|else| END_" in source
    assert "s_still_new -->|then| s_assignee" in source
    assert "s_team --> s_tell_team_lead" in source

    # The first step's form, then another step's, with its fields filled in
    await user.should_see(marker="step-field-duration")
    set_value(user, "step-select", "tell_team_lead")
    await user.should_see(marker="step-field-channel")
    (title,) = user.find(marker="step-field-title").elements
    assert title.value == "线索 {{record.name}} 24小时内未联系"
    assert "class s_tell_team_lead selected" in graph(user)


async def test_type_bad_condition_shows_the_offending_token(user, shipped):
    await sign_in(user, "admin", "/flows/lead_not_contacted")
    set_value(user, "step-select", "still_new")
    await user.should_see(marker="step-field-if")

    set_value(user, "step-field-if", "status = 'new' and colour > 3")
    await user.should_see(marker="expr-error-step-field-if")
    await user.should_see("colour")
    await user.should_see("status = 'new' and colour > 3\n" + " " * 19 + "^^^^^^")

    set_value(user, "step-field-if", "status = 'new'")
    await user.should_see("Valid condition")
    await user.should_not_see(marker="expr-error-step-field-if")


async def test_save_invalid_definition_shows_the_error_at_the_step_and_field(user, shipped):
    # Given the won deal flow, when admin points the kick-off task at a field that is not there
    await sign_in(user, "admin", "/flows/won_onboarding")
    set_value(user, "step-select", "kickoff")
    await user.should_see(marker="step-field-assignee")
    set_value(user, "step-field-assignee", "{{record.colour}}")
    user.find(marker="save-flow").click()

    # Then the problem is shown under the field, in the summary, and the step turns red
    await user.should_see(marker="error-step-field-assignee")
    await user.should_see("opportunity has no field 'colour' (in {{record.colour}})")
    await user.should_see(marker="definition-errors")
    assert "class s_kickoff broken" in graph(user)
    # And nothing was saved
    assert shipped.service.definition("won_onboarding")["steps"][1]["assignee"] == (
        "{{record.owner}}"
    )
    assert {f["name"]: f["version"] for f in shipped.service.list()}["won_onboarding"] == 1


async def test_save_valid_edit_creates_the_next_version(user, shipped):
    await sign_in(user, "admin", "/flows/won_onboarding")
    set_value(user, "step-select", "kickoff")
    await user.should_see(marker="step-field-subject")
    set_value(user, "step-field-subject", "{{record.name}}: kick-off meeting")
    user.find(marker="save-flow").click()

    await user.should_see("Saved as version 2")
    saved = shipped.service.definition("won_onboarding")
    assert saved["steps"][1]["subject"] == "{{record.name}}: kick-off meeting"
    assert shipped.service.definition("won_onboarding", 1)["steps"][1]["subject"] == (
        "{{record.name}}：项目启动会"
    )


async def test_add_step_connects_it_after_the_selected_one(user, shipped):
    await sign_in(user, "admin", "/flows/won_onboarding")
    await user.should_see(marker="flow-graph")
    set_value(user, "new-step-type", "wait")
    set_value(user, "new-step-id", "pause")
    user.find(marker="add-step").click()
    await user.should_see(marker="step-field-duration")
    set_value(user, "step-field-duration", "1h")
    assert "s_contract --> s_pause" in graph(user) or "s_pause" in graph(user)
    user.find(marker="save-flow").click()
    await user.should_see("Saved as version 2")
    steps = shipped.service.definition("won_onboarding")["steps"]
    assert steps[1] == {"id": "pause", "type": "wait", "duration": "1h"}


async def test_save_yaml_with_an_unknown_step_type_shows_the_error(user, shipped):
    await sign_in(user, "admin", "/flows/won_onboarding")
    user.find(marker="tab-yaml").click()
    (text,) = user.find(marker="flow-yaml").elements
    text.value = text.value.replace("type: create_task", "type: send_fax", 1)
    user.find(marker="save-yaml").click()
    await user.should_see(marker="definition-errors")
    await user.should_see("unknown step type 'send_fax'")
    assert {f["name"]: f["version"] for f in shipped.service.list()}["won_onboarding"] == 1


# The dry run ---------------------------------------------------------------------------------
async def test_dry_run_shows_each_step_and_writes_nothing(user, shipped, web_workspace, robot):
    # Given rep_east's opportunity in negotiation
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 4'")
    before = counts(web_workspace)

    # When admin dry-runs the proposal flow on it
    await sign_in(user, "admin", "/flows/proposal_deck")
    set_value(user, "dry-run-id", deal)
    user.find(marker="dry-run").click()

    # Then each step says what it would do: the deck, the draft proposal, the robot message
    await user.should_see(marker="dry-run-steps")
    await user.should_see("document.deck")
    await user.should_see('"name": "Hospital ERP phase 4 方案"')
    await user.should_see("notify.wecom")
    for step in ("deck", "proposal", "owner", "tell_owner"):
        (status,) = user.find(marker=f"dry-status-{step}").elements
        assert status.text == "done"

    # And nothing was written or sent
    assert counts(web_workspace) == before
    assert robot.requests == []


async def test_dry_run_of_the_lead_flow_reports_the_wait_it_skips(user, shipped, web_workspace):
    lead = record_id(web_workspace, "lead", "name = '赵敏'")
    await sign_in(user, "admin", "/flows/lead_not_contacted")
    set_value(user, "dry-run-record", lead)
    user.find(marker="dry-run").click()
    await user.should_see(marker="dry-run-steps")
    (status,) = user.find(marker="dry-status-wait_a_day").elements
    assert status.text == "would_wait"
    await user.should_see("the dry run assumes the wait is over")


async def test_dry_run_on_a_missing_record_says_not_found(user, shipped):
    await sign_in(user, "admin", "/flows/won_onboarding")
    set_value(user, "dry-run-id", 999999)
    user.find(marker="dry-run").click()
    await user.should_see(marker="error")
    await user.should_not_see(marker="dry-run-steps")


# Run history ---------------------------------------------------------------------------------
async def test_run_history_lists_a_run_and_its_page_shows_steps_timing_and_logs(
    user, shipped, web_workspace
):
    # Given a manual flow that looks up a missing user (a log line) and tells the admin
    manual_flow(
        shipped,
        "tell_admin",
        [
            {"id": "nobody", "type": "find_record", "object": "user", "record_id": "999999"},
            {
                "id": "tell",
                "type": "notify",
                "channel": "inbox",
                "user": "admin",
                "title": "Deal {{record.name}}",
            },
        ],
    )
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")
    run_id = shipped.service.start("tell_admin", SYSTEM, record_id=deal)
    shipped.run_inline()

    # When admin opens the run history, the run is listed; filtering by status keeps it
    await sign_in(user, "admin", "/flows/runs?flow=tell_admin&status=completed")
    await user.should_see(marker=f"run-{run_id}")
    await user.open("/flows/runs?status=parked")
    await user.should_not_see(marker=f"run-{run_id}")

    # And its page shows each step with status, timing, the effect and the log line
    await user.open(f"/flows/runs/{run_id}")
    await user.should_see(marker="run-steps")
    (status,) = user.find(marker="run-status").elements
    assert status.text == "completed"
    await user.should_see("1. nobody (find_record)")
    await user.should_see("2. tell (notify)")
    await user.should_see(marker="duration-tell")
    await user.should_see("no user found")
    await user.should_see(marker="run-effect")
    await user.should_see("notify.inbox")
    await user.should_not_see(marker="retry-run")


async def test_parked_run_is_cancelled_from_its_page(user, shipped, web_workspace, caplog):
    # Given a run parked on a task for a user who does not exist
    manual_flow(
        shipped,
        "bad_task",
        [{"id": "call", "type": "create_task", "subject": "Call", "assignee": "{{record.name}}"}],
    )
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")
    run_id = shipped.service.start("bad_task", SYSTEM, record_id=deal)
    shipped.run_inline()
    assert shipped.service.run(run_id)["status"] == "parked"
    caplog.clear()  # the runner logs the parking as an error; here it is the arrangement

    # When admin opens it, the error and both answers are offered; cancelling ends it
    await sign_in(user, "admin", f"/flows/runs/{run_id}")
    await user.should_see("unknown_user")
    await user.should_see(marker="retry-run")
    user.find(marker="cancel-run").click()
    await user.should_see(f"Run {run_id} cancelled")
    assert shipped.service.run(run_id)["status"] == "cancelled"


async def test_shipped_flows_run_end_to_end_and_show_in_the_run_history(
    user, shipped, web_workspace, robot
):
    # Given the three shipped flows enabled, and manager_east leading the East team
    ws = web_workspace
    for name in ("lead_not_contacted", "proposal_deck", "won_onboarding"):
        shipped.service.set_enabled(name, True)
    manager = ws.identity.find_user("manager_east")
    rep = ws.identity.find_user("rep_east")
    ws.records.update(SYSTEM, "team", rep["team"], {"lead": manager["id"]})

    # When a lead is created, a deal reaches the proposal stage and another is won
    ws.records.create(
        SYSTEM,
        "lead",
        {"name": "刘洋", "company": "华信科技", "region": "华东", "assigned_to": rep["id"]},
    )
    proposal = record_id(ws, "opportunity", "name = 'Hospital ERP phase 2'")
    won = record_id(ws, "opportunity", "name = 'Hospital ERP phase 4'")
    ws.records.update(SYSTEM, "opportunity", proposal, {"stage": "proposal"})
    ws.records.update(SYSTEM, "opportunity", won, {"stage": "won"})
    shipped.run_inline()
    # a day later nobody has contacted the lead
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_runs.update()
            .where(flow_runs.c.status == "waiting")
            .values(wake_at=sa.func.current_timestamp())
        )
    shipped.run_inline()

    # Then every run completed, and each shows in the run history with its steps
    runs = shipped.service.runs()
    assert sorted((r["flow"], r["status"]) for r in runs) == [
        ("lead_not_contacted", "completed"),
        ("proposal_deck", "completed"),
        ("won_onboarding", "completed"),
    ]
    assert len(robot.requests) == 1
    await sign_in(user, "admin", "/flows/runs?status=completed")
    for run in runs:
        await user.should_see(marker=f"run-{run['id']}")
    last_steps = {
        "lead_not_contacted": "5. tell_team_lead (notify)",
        "proposal_deck": "4. tell_owner (notify)",
        "won_onboarding": "4. training (create_task)",
    }
    for run in runs:
        await user.open(f"/flows/runs/{run['id']}")
        await user.should_see(last_steps[run["flow"]])
        (status,) = user.find(marker="run-status").elements
        assert status.text == "completed"


# The manual trigger on a record page ---------------------------------------------------------
async def test_record_page_rep_starts_a_manual_flow_on_their_deal(user, shipped, web_workspace):
    # Given an enabled manual flow on opportunities that tells the owner's manager
    manual_flow(
        shipped,
        "ask_for_help",
        [
            {
                "id": "tell",
                "type": "notify",
                "channel": "inbox",
                "user": "manager_east",
                "title": "Help wanted on {{record.name}}",
            }
        ],
    )
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")

    # When rep_east opens their deal and presses the flow's button
    await sign_in(user, "rep_east", f"/o/opportunity/{deal}")
    await user.should_see(marker="run-flow-ask_for_help")
    user.find(marker="run-flow-ask_for_help").click()
    await user.should_see("Flow started")

    # Then one run is queued for that record, started by rep_east, and it tells the manager
    runs = shipped.service.runs("ask_for_help")
    assert [(r["record_id"], r["status"]) for r in runs] == [(deal, "pending")]
    shipped.run_inline()
    with web_workspace.engine.connect() as conn:
        titles = conn.execute(sa.select(inbox.c.title)).scalars().all()
    assert titles == ["Help wanted on Hospital ERP phase 1"]


async def test_record_page_shows_no_flow_button_for_a_disabled_or_other_object_flow(
    user, shipped, web_workspace
):
    # Given a manual flow on opportunities that is disabled, and the shipped (automatic) ones
    manual_flow(shipped, "ask_for_help", [{"id": "x", "type": "condition", "if": "true"}])
    shipped.service.set_enabled("ask_for_help", False)
    account = record_id(web_workspace, "account", "name like '%'")
    deal = record_id(web_workspace, "opportunity", "name = 'Hospital ERP phase 1'")

    # When admin opens a deal and an account, then neither offers a flow to run
    for path in (f"/o/opportunity/{deal}", f"/o/account/{account}"):
        await sign_in(user, "admin", path)
        await user.should_see(marker="record-title")
        await user.should_not_see(marker="record-flows")
