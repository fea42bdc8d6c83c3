"""How big the demo company is at each scale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Sizes of one demo scale. Contacts (3-6 per account), contracts (one per won deal),
    payments and proposal versions follow from these."""

    name: str
    accounts: int
    leads: int
    opportunities: int
    activities: int
    tasks: int
    teams_per_region: int
    reps_per_team: int
    # Rows generated and written per record-service call; bounds memory at large scale.
    chunk: int = 5_000


SCALES: dict[str, Scale] = {
    "small": Scale(
        "small",
        accounts=300,
        leads=300,
        opportunities=900,
        activities=3_000,
        tasks=200,
        teams_per_region=1,
        reps_per_team=1,
    ),
    "medium": Scale(
        "medium",
        accounts=5_000,
        leads=3_000,
        opportunities=20_000,
        activities=25_000,
        tasks=2_000,
        teams_per_region=2,
        reps_per_team=2,
    ),
    "large": Scale(
        "large",
        accounts=200_000,
        leads=100_000,
        opportunities=400_000,
        activities=2_000_000,
        tasks=50_000,
        teams_per_region=3,
        reps_per_team=6,
        chunk=10_000,
    ),
}
