"""The demo company: a realistic, seeded synthetic Chinese B2B sales organisation.

``build_demo`` fills an empty workspace through the record service; ``demo_scale`` tells
whether (and at which scale) a complete demo is there. The same seed builds the same
company on the same day (dates are relative to the build day).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealcraft.demo.builder import META_SCALE, DemoBuilder, get_meta
from dealcraft.demo.customers import build_accounts, build_leads
from dealcraft.demo.deals import (
    build_activities,
    build_contracts,
    build_opportunities,
    build_proposals,
    build_tasks,
)
from dealcraft.demo.flows import install_flows
from dealcraft.demo.org import build_org
from dealcraft.demo.rooms import build_deal_rooms
from dealcraft.demo.scales import SCALES, Scale
from dealcraft.errors import InvalidInput

__all__ = ["SCALES", "Scale", "build_demo", "demo_scale"]

# The build order: each step refers only to records of the steps before it.
STEPS = [
    ("org", build_org),
    ("accounts", build_accounts),
    ("deal_rooms", build_deal_rooms),
    ("leads", build_leads),
    ("opportunities", build_opportunities),
    ("contracts", build_contracts),
    ("proposals", build_proposals),
    ("activities", build_activities),
    ("tasks", build_tasks),
    ("flows", install_flows),
]


def build_demo(
    workspace: Any,
    scale: str,
    *,
    seed: int = 7,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Build the demo company into an empty, initialised workspace.

    Returns the number of records created per object. ``progress(step, done, total)`` is
    called as each step advances (steps are named after objects). Raises Conflict if the
    workspace holds users or accounts already, or a build stopped part-way in it.
    """
    if scale not in SCALES:
        raise InvalidInput(
            f"scale must be one of {', '.join(SCALES)}, got {scale!r}",
            code="invalid_demo_scale",
            details={"field": "scale", "value": scale},
        )
    builder = DemoBuilder(workspace, SCALES[scale], seed=seed, progress=progress)
    return builder.run(STEPS)


def demo_scale(workspace: Any) -> str | None:
    """The scale of the complete demo company in ``workspace``, or None if there is none."""
    return get_meta(workspace, META_SCALE)
