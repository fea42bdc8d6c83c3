"""Runs: effects happen once, transient failures retry with backoff, permanent ones park."""

from __future__ import annotations

import json

import sqlalchemy as sa

from dealcraft.access.principal import SYSTEM
from dealcraft.audit.tables import entries
from dealcraft.connectors.channels import verify_webhook_signature
from dealcraft.db.tx import write_transaction
from dealcraft.flows.tables import flow_effects, flow_runs, flow_steps


def _flow(flows, steps, trigger=None, **extra):
    definition = {
        "name": extra.pop("name", "story"),
        "enabled": True,
        "run_as": "flow_bot",
        "trigger": trigger or {"type": "manual", "object": "opportunity"},
        "steps": steps,
        **extra,
    }
    flows.service.save(definition)
    return definition


def _deal(ws, **values):
    return ws.records.create(SYSTEM, "opportunity", {"name": "Acme rollout", **values})


def _rewind(ws, run_id, seq):
    """Simulate a worker killed after a step's effects but before it committed the step."""
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_runs.update()
            .where(flow_runs.c.id == run_id)
            .values(status="pending", step_seq=seq, current_step=None)
        )
        step_id = conn.execute(
            sa.select(flow_steps.c.step_id).where(
                flow_steps.c.run_id == run_id, flow_steps.c.seq == seq
            )
        ).scalar()
        conn.execute(
            flow_runs.update().where(flow_runs.c.id == run_id).values(current_step=step_id)
        )
        conn.execute(
            flow_steps.update()
            .where(flow_steps.c.run_id == run_id, flow_steps.c.seq >= seq)
            .values(status="running")
        )


def test_email_step_sends_once_even_when_the_step_runs_again(flows, smtp_sink):
    # Given a flow that mails the deal's owner
    ws = flows.workspace
    _flow(
        flows,
        [
            {
                "id": "mail",
                "type": "notify",
                "channel": "email",
                "to": "owner@example.com",
                "subject": "Deal {{record.name}}",
                "text": "Amount {{record.amount}}",
            }
        ],
    )
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws, amount=1000)["id"])
    flows.run_inline()
    assert len(smtp_sink.messages) == 1

    # When the step runs again as after a crash
    _rewind(ws, run_id, 1)
    flows.run_inline()

    # Then no second e-mail was sent and the run is complete
    assert len(smtp_sink.messages) == 1
    assert flows.service.run(run_id)["status"] == "completed"
    assert b"Subject: Deal Acme rollout" in smtp_sink.messages[0]


def test_effect_is_audited_as_the_service_account(flows):
    ws = flows.workspace
    _flow(flows, [{"id": "task", "type": "create_task", "subject": "Call {{record.name}}"}])
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    flows.run_inline()
    bot = ws.identity.find_user("flow_bot")
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entries.c.action, entries.c.actor_id, entries.c.data).where(
                entries.c.action.in_(["flow.effect", "record.create"]),
                entries.c.object_name == "task",
            )
        ).all()
    actions = sorted((r.action, r.actor_id) for r in rows)
    assert actions == [("flow.effect", bot["id"]), ("record.create", bot["id"])]
    effect = next(r for r in rows if r.action == "flow.effect")
    assert effect.data["run_id"] == run_id and effect.data["step"] == "task"


def test_record_create_interrupted_after_commit_is_not_repeated(flows):
    # Given a task created by a step whose worker died before recording it
    ws = flows.workspace
    _flow(flows, [{"id": "task", "type": "create_task", "subject": "Call {{record.name}}"}])
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    flows.run_inline()
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_effects.update()
            .where(flow_effects.c.run_id == run_id)
            .values(status="pending", created_object=None, created_record_id=None)
        )
    _rewind(ws, run_id, 1)

    # When the step runs again
    flows.run_inline()

    # Then it finds the task it created instead of creating another
    assert ws.records.count(SYSTEM, "task") == 1
    assert flows.service.run(run_id)["status"] == "completed"


def test_transient_smtp_failure_is_retried_then_succeeds(flows, smtp_sink):
    ws = flows.workspace
    smtp_sink.fail_next = 2
    _flow(
        flows,
        [
            {
                "id": "mail",
                "type": "notify",
                "channel": "email",
                "to": "a@example.com",
                "subject": "s",
                "text": "t",
            }
        ],
    )
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    flows.run_inline()
    run = flows.service.run(run_id)
    assert run["status"] == "completed"
    assert run["steps"][0]["attempts"] == 3
    assert len(smtp_sink.messages) == 1
    assert [line["level"] for line in run["logs"]] == ["warning", "warning"]


def test_webhook_is_signed_and_carries_its_delivery_id(flows, webhook_sink):
    ws = flows.workspace
    _flow(
        flows,
        [
            {
                "id": "hook",
                "type": "webhook",
                "url": webhook_sink.url + "/deals",
                "secret": "s3cret",
                "body": {"deal": "{{record.id}}", "name": "{{record.name}}"},
            }
        ],
    )
    deal = _deal(ws)
    run_id = flows.service.start("story", SYSTEM, record_id=deal["id"])
    flows.run_inline()
    request = webhook_sink.requests[0]
    assert json.loads(request["body"]) == {"deal": deal["id"], "name": "Acme rollout"}
    assert verify_webhook_signature(
        "s3cret", request["headers"]["X-Dealcraft-Signature"], request["body"]
    )
    assert request["headers"]["X-Dealcraft-Delivery"] == f"run{run_id}.1.hook.post"


def test_permanent_failure_parks_the_run_until_an_admin_retries(flows, webhook_sink):
    # Given a webhook that refuses the first call with 400
    ws = flows.workspace
    webhook_sink.status_next = [400]
    _flow(flows, [{"id": "hook", "type": "webhook", "url": webhook_sink.url}])
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    flows.run_inline()

    # Then the run is parked with its error, and nothing retries it
    run = flows.service.run(run_id)
    assert run["status"] == "parked"
    assert run["error"]["code"] == "http_400"
    assert run["error"]["step"] == "hook"
    assert flows.run_inline() == 0

    # When an admin retries, it completes
    flows.service.retry(run_id)
    flows.run_inline()
    assert flows.service.run(run_id)["status"] == "completed"
    assert len(webhook_sink.requests) == 1


def test_transient_failures_exhausted_park_the_run_and_cancel_ends_it(flows, webhook_sink):
    ws = flows.workspace
    webhook_sink.status_next = [503, 503, 503]
    _flow(flows, [{"id": "hook", "type": "webhook", "url": webhook_sink.url}])
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    flows.run_inline()
    run = flows.service.run(run_id)
    assert (run["status"], run["error"]["attempts"]) == ("parked", 3)
    flows.service.cancel(run_id)
    assert flows.service.run(run_id)["status"] == "cancelled"


def test_backoff_grows_exponentially(flows, webhook_sink):
    ws = flows.workspace
    flows.runner.settings = flows.settings.model_copy(update={"backoff_seconds": 10})
    webhook_sink.status_next = [503, 503]
    _flow(flows, [{"id": "hook", "type": "webhook", "url": webhook_sink.url}])
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    delays = []
    for _ in range(2):
        with write_transaction(ws.engine) as conn:
            conn.execute(
                flow_runs.update()
                .where(flow_runs.c.id == run_id)
                .values(wake_at=sa.func.current_timestamp())
            )
        flows.runner.advance(run_id)
        with ws.engine.connect() as conn:
            row = conn.execute(
                sa.select(flow_runs.c.wake_at, flow_runs.c.updated_at).where(
                    flow_runs.c.id == run_id
                )
            ).one()
        delays.append((row.wake_at - row.updated_at).total_seconds())
    assert 8 < delays[0] < 12 and 17 < delays[1] < 23


def test_trigger_on_field_changed_to_with_condition(flows):
    ws = flows.workspace
    _flow(
        flows,
        [{"id": "task", "type": "create_task", "subject": "Deck for {{record.name}}"}],
        trigger={
            "type": "record.updated",
            "object": "opportunity",
            "changed_to": {"stage": "proposal"},
        },
        condition="amount > 100000",
    )
    small = _deal(ws, amount=5000)
    big = _deal(ws, amount=900000)
    ws.records.update(SYSTEM, "opportunity", small["id"], {"stage": "proposal"})
    ws.records.update(SYSTEM, "opportunity", big["id"], {"description": "no stage change"})
    ws.records.update(SYSTEM, "opportunity", big["id"], {"stage": "proposal"})
    flows.run_inline()
    tasks = ws.records.list(SYSTEM, "task").data
    assert [(t["subject"], t["related_id"]) for t in tasks] == [
        ("Deck for Acme rollout", big["id"])
    ]


def test_wait_for_event_resumes_on_event_or_times_out(flows):
    from dealcraft.events import publish

    ws = flows.workspace
    _flow(
        flows,
        [
            {
                "id": "wait",
                "type": "wait",
                "event": "payment.received",
                "timeout": "1h",
                "on_timeout": "late",
            },
            {
                "id": "thanks",
                "type": "create_task",
                "subject": "Thank {{record.name}}",
                "next": "end",
            },
            {"id": "late", "type": "create_task", "subject": "Chase {{record.name}}"},
        ],
    )
    paid, unpaid = _deal(ws, name="Paid"), _deal(ws, name="Unpaid")
    paid_run = flows.service.start("story", SYSTEM, record_id=paid["id"])
    unpaid_run = flows.service.start("story", SYSTEM, record_id=unpaid["id"])
    flows.run_inline()
    assert flows.service.run(paid_run)["status"] == "waiting"

    # When the payment event for one deal arrives, and the other's timeout passes
    with write_transaction(ws.engine) as conn:
        publish(conn, "payment.received", {}, object_name="opportunity", record_id=paid["id"])
    flows.run_inline()
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_runs.update()
            .where(flow_runs.c.id == unpaid_run)
            .values(wake_at=sa.func.current_timestamp())
        )
    flows.run_inline()

    # Then each took its own path
    subjects = sorted(t["subject"] for t in ws.records.list(SYSTEM, "task").data)
    assert subjects == ["Chase Unpaid", "Thank Paid"]
