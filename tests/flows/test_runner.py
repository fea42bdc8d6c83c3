"""Runs: effects happen once, transient failures retry with backoff, permanent ones park."""

from __future__ import annotations

import datetime as dt
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


def _webhook_flow(flows, webhook_sink):
    step = {"id": "hook", "type": "webhook", "url": f"{webhook_sink.url}/deals", "body": {}}
    _flow(flows, [step])


def test_effect_still_in_flight_defers_the_step_without_sending(flows, webhook_sink):
    # Given a webhook effect another worker marked as sending a moment ago
    ws = flows.workspace
    _webhook_flow(flows, webhook_sink)
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    key = f"run{run_id}.1.hook.post"
    now = dt.datetime.utcnow()
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_effects.insert().values(
                key=key,
                run_id=run_id,
                step_id="hook",
                kind="notify.webhook",
                status="sending",
                attempts=1,
                result={"sending": {"number": 1, "until": _iso(now + dt.timedelta(seconds=60))}},
                watermark=0,
                created_at=now,
            )
        )

    # When a worker advances the run
    status = flows.runner.advance(run_id)

    # Then nothing is sent, the run waits for the window, and the visit is not a failure
    assert status == "retrying"
    assert webhook_sink.arrivals == {}
    run = flows.service.run(run_id)
    assert run["error"] is None
    assert run["steps"][0]["attempts"] == 0

    # When the window has passed (the other worker died), the effect is attempted again
    with write_transaction(ws.engine) as conn:
        conn.execute(
            flow_effects.update()
            .where(flow_effects.c.key == key)
            .values(result={"sending": {"number": 1, "until": _iso(now)}})
        )
        conn.execute(flow_runs.update().where(flow_runs.c.id == run_id).values(wake_at=now))
    flows.run_inline()

    # Then it is delivered once, as the effect's second attempt
    assert webhook_sink.delivered == [key]
    assert flows.service.run(run_id)["status"] == "completed"
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(flow_effects).where(flow_effects.c.key == key)).one()
    assert (row.status, row.attempts) == ("done", 2)


def test_failed_attempt_leaves_the_effect_pending_for_the_retry(flows, webhook_sink):
    # Given a receiver that answers 503 once
    ws = flows.workspace
    webhook_sink.status_next = [503]
    _webhook_flow(flows, webhook_sink)
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])

    # When the run's first attempt fails
    assert flows.runner.advance(run_id) == "retrying"

    # Then the effect is pending (not in flight), and the retry sends at once
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(flow_effects).where(flow_effects.c.run_id == run_id)).one()
    assert (row.status, row.result) == ("pending", None)
    flows.run_inline()
    assert len(webhook_sink.delivered) == 1
    assert flows.service.run(run_id)["status"] == "completed"


def test_attempt_by_a_worker_that_lost_the_lease_sends_nothing(flows, webhook_sink):
    # Given a run whose lease another worker took over while this one was preparing the call
    ws = flows.workspace
    _webhook_flow(flows, webhook_sink)
    run_id = flows.service.start("story", SYSTEM, record_id=_deal(ws)["id"])
    original = flows.runner._visit

    def visit_then_lose_lease(run, step):
        visit = original(run, step)
        with write_transaction(ws.engine) as conn:
            conn.execute(
                flow_runs.update().where(flow_runs.c.id == run_id).values(lease_owner="other")
            )
        return visit

    flows.runner._visit = visit_then_lose_lease

    # When this worker reaches the effect
    status = flows.runner.advance(run_id)

    # Then it stops without sending or marking the effect
    assert status is None
    assert webhook_sink.arrivals == {}
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(flow_effects)).scalar() == 0


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"
