"""Definitions are versioned data, refused on save with the exact step and field."""

from __future__ import annotations

import pytest

from dealcraft.access.principal import SYSTEM
from dealcraft.flows.definition import dump_yaml, load_yaml
from dealcraft.flows.errors import FlowDefinitionInvalid

BASE = {
    "name": "proposal_follow_up",
    "run_as": "flow_bot",
    "trigger": {
        "type": "record.updated",
        "object": "opportunity",
        "changed_to": {"stage": "proposal"},
    },
    "steps": [
        {"id": "task", "type": "create_task", "subject": "Follow up {{record.name}}", "due": "3d"},
    ],
}


def _errors(flows_sqlite, definition) -> list[tuple[str, str]]:
    with pytest.raises(FlowDefinitionInvalid) as refused:
        flows_sqlite.service.save(definition)
    return [(e["field"], e["code"]) for e in refused.value.details["errors"]]


def _with(**changes):
    return {**BASE, **changes}


def test_save_flow_refuses_unknown_record_field_in_template(flows_sqlite):
    steps = [{"id": "task", "type": "create_task", "subject": "{{record.nope}}"}]
    assert _errors(flows_sqlite, _with(steps=steps)) == [("steps.task.subject", "unknown_field")]


def test_save_flow_refuses_unknown_step_field_and_wrong_type(flows_sqlite):
    steps = [{"id": "task", "type": "create_task", "subject": 5, "colour": "red"}]
    assert _errors(flows_sqlite, _with(steps=steps)) == [
        ("steps.task.colour", "unknown_field"),
        ("steps.task.subject", "wrong_type"),
    ]


def test_save_flow_refuses_value_the_field_type_rejects(flows_sqlite):
    steps = [
        {"id": "set", "type": "update_record", "values": {"stage": "imaginary", "amount": "x"}}
    ]
    errors = _errors(flows_sqlite, _with(steps=steps))
    assert [field for field, _ in errors] == ["steps.set.values.stage", "steps.set.values.amount"]


def test_save_flow_refuses_a_name_the_web_pages_use(flows_sqlite):
    assert _errors(flows_sqlite, _with(name="runs")) == [("flow.name", "reserved_name")]
    assert flows_sqlite.service.list() == []


def test_save_flow_refuses_unknown_trigger_field(flows_sqlite):
    trigger = {"type": "record.updated", "object": "opportunity", "changed_to": {"phase": "x"}}
    assert _errors(flows_sqlite, _with(trigger=trigger)) == [
        ("trigger.changed_to.phase", "unknown_field")
    ]


def test_save_flow_refuses_condition_on_unknown_field(flows_sqlite):
    errors = _errors(flows_sqlite, _with(condition="amont > 5"))
    assert errors[0][0] == "flow.condition"
    assert errors[0][1].startswith("expr_")


def test_save_flow_refuses_condition_that_is_not_boolean(flows_sqlite):
    steps = [{"id": "c", "type": "condition", "if": "amount + 1"}]
    assert _errors(flows_sqlite, _with(steps=steps)) == [("steps.c.if", "expr_type_mismatch")]


def test_save_flow_refuses_unreachable_step(flows_sqlite):
    steps = [
        {"id": "a", "type": "create_task", "subject": "a", "next": "end"},
        {"id": "b", "type": "create_task", "subject": "b"},
    ]
    assert _errors(flows_sqlite, _with(steps=steps)) == [("steps.b", "unreachable_step")]


def test_save_flow_refuses_cycle_without_wait(flows_sqlite):
    steps = [
        {"id": "a", "type": "create_task", "subject": "a"},
        {"id": "b", "type": "condition", "if": "amount > 0", "then": "a", "else": "end"},
    ]
    assert _errors(flows_sqlite, _with(steps=steps)) == [("steps.a", "cycle_without_wait")]


def test_save_flow_accepts_cycle_through_a_wait(flows_sqlite):
    steps = [
        {"id": "a", "type": "create_task", "subject": "a"},
        {"id": "pause", "type": "wait", "duration": "1d"},
        {"id": "b", "type": "condition", "if": "stage = 'proposal'", "then": "a", "else": "end"},
    ]
    assert flows_sqlite.service.save(_with(steps=steps))["version"] == 1


def test_save_flow_refuses_unknown_types_users_and_steps(flows_sqlite):
    definition = _with(
        run_as="nobody",
        steps=[
            {"id": "a", "type": "teleport"},
            {"id": "b", "type": "create_task", "subject": "x", "next": "zzz"},
        ],
    )
    assert _errors(flows_sqlite, definition) == [
        ("flow.run_as", "unknown_user"),
        ("steps.a.type", "unknown_step_type"),
        ("steps.b.next", "unknown_step"),
    ]


def test_save_flow_refuses_bad_cron(flows_sqlite):
    definition = _with(
        trigger={"type": "schedule", "cron": "61 * * * *"},
        steps=[{"id": "w", "type": "webhook", "url": "http://127.0.0.1:9/x"}],
    )
    assert _errors(flows_sqlite, definition) == [("trigger.cron", "invalid_cron")]


def test_error_message_names_the_location(flows_sqlite):
    steps = [{"id": "task", "type": "create_task", "subject": "{{record.nope}}"}]
    with pytest.raises(FlowDefinitionInvalid) as refused:
        flows_sqlite.service.save(_with(steps=steps))
    assert refused.value.message == (
        "steps.task.subject: opportunity has no field 'nope' (in {{record.nope}})"
    )
    assert refused.value.status == 422


def test_yaml_round_trip_and_versions(flows_sqlite):
    # Given a flow imported from YAML
    service = flows_sqlite.service
    assert service.import_yaml(dump_yaml(BASE))["version"] == 1

    # When the same YAML is imported again, nothing changes; a changed one is version 2
    assert service.import_yaml(dump_yaml(BASE)) == {
        "name": "proposal_follow_up",
        "version": 1,
        "changed": False,
    }
    changed = _with(steps=[{**BASE["steps"][0], "due": "5d"}])
    assert service.import_yaml(dump_yaml(changed))["version"] == 2

    # Then each version exports as it was saved
    assert load_yaml(service.export_yaml("proposal_follow_up", 1)) == BASE
    assert load_yaml(service.export_yaml("proposal_follow_up"))["steps"][0]["due"] == "5d"


def test_running_flow_finishes_on_the_version_it_started_with(flows_sqlite):
    ws = flows_sqlite.workspace
    service = flows_sqlite.service
    definition = {
        "name": "two_versions",
        "enabled": True,
        "run_as": "flow_bot",
        "trigger": {"type": "manual", "object": "opportunity"},
        "steps": [
            {"id": "pause", "type": "wait", "duration": "0s"},
            {"id": "task", "type": "create_task", "subject": "v1 {{record.name}}"},
        ],
    }
    service.save(definition)
    deal = ws.records.create(SYSTEM, "opportunity", {"name": "Deal"})
    run_id = service.start("two_versions", SYSTEM, record_id=deal["id"])
    flows_sqlite.runner.advance(run_id)  # pauses at the wait

    # When version 2 is saved while the run waits
    definition["steps"][1]["subject"] = "v2 {{record.name}}"
    service.save(definition)
    flows_sqlite.run_inline()

    # Then the run completes with version 1's step
    assert service.run(run_id)["version"] == 1
    subjects = [t["subject"] for t in ws.records.list(SYSTEM, "task").data]
    assert subjects == ["v1 Deal"]
