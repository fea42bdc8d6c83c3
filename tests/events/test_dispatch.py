"""The outbox feeds flows at least once, and only with committed writes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures_fast import persona
from huey import MemoryHuey

from dealcraft.access.principal import SYSTEM
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import Forbidden, InvalidInput
from dealcraft.events import Dispatcher, publish
from dealcraft.flows.engine import FlowEngine
from dealcraft.flows.tables import flow_runs

NEW_LEAD = """
name: new_lead
enabled: true
run_as: flow_bot
trigger: {type: record.created, object: lead}
steps:
  - {id: tell, type: notify, channel: inbox, user: director_east, title: "New lead {{record.name}}"}
"""


@pytest.fixture
def engine(crm):
    flows = FlowEngine(crm, huey=MemoryHuey())
    flows.service.ensure_service_account("flow_bot", "sales_director")
    flows.service.import_yaml(NEW_LEAD)
    flows.dispatcher.drain()  # the template's own events (personas) start nothing
    return flows


def _runs(ws) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(flow_runs)).scalar()


def _pending(ws) -> int:
    o = system.outbox
    with ws.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(o).where(o.c.delivered_at.is_(None))
        ).scalar()


def test_rolled_back_record_write_starts_no_flow(crm, engine):
    # Given a rep who may only work leads assigned to them
    rep = persona(crm, "rep_east")

    # When the rep creates a lead for someone else, which the record service rolls back
    with pytest.raises(Forbidden) as refused:
        crm.records.create(rep, "lead", {"name": "Not mine", "region": "华南"})
    assert refused.value.code == "scope_violation"

    # Then no event is pending and no run starts
    assert _pending(crm) == 0
    assert engine.dispatcher.drain() == 0
    assert _runs(crm) == 0


def test_rolled_back_named_event_is_never_delivered(crm, engine):
    engine.dispatcher.drain()
    with pytest.raises(RuntimeError), write_transaction(crm.engine) as conn:
        publish(conn, "segment.entered", {"key": "1"})
        raise RuntimeError("the caller's write failed")
    assert _pending(crm) == 0


def test_redelivered_event_starts_no_second_run(crm, engine):
    # Given a lead whose creation started one run
    lead = crm.records.create(SYSTEM, "lead", {"name": "Wang Lei"})
    assert engine.dispatcher.drain() == 1
    assert _runs(crm) == 1

    # When the event is delivered again (a dispatcher died before marking it delivered)
    with write_transaction(crm.engine) as conn:
        conn.execute(
            system.outbox.update()
            .where(system.outbox.c.record_id == lead["id"], system.outbox.c.object_name == "lead")
            .values(delivered_at=None)
        )
    assert engine.dispatcher.drain() == 1

    # Then there is still one run
    assert _runs(crm) == 1


def test_subscriber_failure_leaves_event_pending_and_starts_nothing(crm, engine):
    # Given a dispatcher whose second subscriber fails after the first started a run
    class Broken:
        def handle(self, conn, events):
            raise RuntimeError("crashed mid-delivery")

    crm.records.create(SYSTEM, "lead", {"name": "Li Na"})
    broken = Dispatcher(crm.engine, [engine.starter, Broken()])

    # When it delivers, then nothing commits: the event stays pending, no run exists
    with pytest.raises(RuntimeError):
        broken.dispatch_once()
    assert _pending(crm) >= 1
    assert _runs(crm) == 0

    # And the next delivery starts the run once
    engine.dispatcher.drain()
    assert _runs(crm) == 1


def test_publish_named_event_refuses_reserved_names(crm):
    with pytest.raises(InvalidInput) as refused, write_transaction(crm.engine) as conn:
        publish(conn, "record.created", {})
    assert refused.value.code == "reserved_event_name"


def test_bulk_created_leads_each_start_one_run(crm, engine):
    # Given three leads imported in one batch: one outbox row names all of them
    result = crm.records.bulk_create(
        SYSTEM, "lead", [{"name": "Zhao Min"}, {"name": "Qian Hao"}, {"name": "Sun Yue"}]
    )
    o = system.outbox
    with crm.engine.connect() as conn:
        batch = conn.execute(
            sa.select(o.c.event_type, o.c.record_id, o.c.payload).where(o.c.delivered_at.is_(None))
        ).one()
    assert batch.event_type == "records.created" and batch.record_id is None
    assert sorted(batch.payload["ids"]) == sorted(result.ids)

    # When it is delivered, then each lead starts its own "record created" run
    assert engine.dispatcher.drain() == 1
    with crm.engine.connect() as conn:
        started = conn.execute(sa.select(flow_runs.c.record_id, flow_runs.c.object_name)).all()
    assert sorted(r.record_id for r in started) == sorted(result.ids)
    assert {r.object_name for r in started} == {"lead"}

    # And delivering the batch again starts no second run for any of them
    with write_transaction(crm.engine) as conn:
        conn.execute(o.update().values(delivered_at=None))
    engine.dispatcher.drain()
    assert _runs(crm) == 3
