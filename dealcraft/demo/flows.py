"""The shipped example flows in the demo company, installed disabled."""

from __future__ import annotations

from dealcraft.db.tx import write_transaction
from dealcraft.demo.builder import DemoBuilder
from dealcraft.events.outbox import mark_all_delivered
from dealcraft.flows.examples import SERVICE_ACCOUNT, install_examples
from dealcraft.flows.service import FlowService


def install_flows(b: DemoBuilder) -> None:
    """Install the examples; the company's seeded history is not news to them.

    The build's own outbox events describe the past (a year of leads and deals written in
    minutes), so they are marked delivered: enabling "new lead not contacted" must not
    start a run for every seeded lead.
    """
    had_bot = b.workspace.identity.find_user(SERVICE_ACCOUNT) is not None
    install_examples(FlowService(b.workspace))
    if not had_bot:
        # The flows' service account is a user too (with an unknowable password).
        b.counts["user"] = b.counts.get("user", 0) + 1
    with write_transaction(b.workspace.engine) as conn:
        mark_all_delivered(conn)
