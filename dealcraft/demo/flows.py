"""The shipped example flows in the demo company, installed disabled."""

from __future__ import annotations

from dealcraft.db.tx import write_transaction
from dealcraft.demo.builder import DemoBuilder
from dealcraft.events.outbox import mark_all_delivered
from dealcraft.flows.examples import install_examples
from dealcraft.flows.service import FlowService


def install_flows(b: DemoBuilder) -> None:
    """Install the examples; the company's seeded history is not news to them.

    The build's own outbox events describe the past (a year of leads and deals written in
    minutes), so they are marked delivered: enabling "new lead not contacted" must not
    start a run for every seeded lead.
    """
    install_examples(FlowService(b.workspace))
    with write_transaction(b.workspace.engine) as conn:
        mark_all_delivered(conn)
