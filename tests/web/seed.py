"""A small, fixed company for the web tests: personas and a few records of each kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dealcraft.access.principal import SYSTEM

PASSWORD = "web-test-password"

# username: (role, region, name)
PERSONAS = {
    "admin": ("admin", "华东", "Ada Admin"),
    "manager_east": ("regional_manager", "华东", "Wang Manager"),
    "rep_east": ("sales_rep", "华东", "Li Rep"),
    "rep_south": ("sales_rep", "华南", "Chen Rep"),
}


def seed_workspace(workspace) -> dict[str, int]:
    """Create the personas and a handful of records; returns user ids by username."""
    records = workspace.records
    team = records.create(SYSTEM, "team", {"name": "East team", "region": "华东"})
    ids = {}
    for username, (role, region, name) in PERSONAS.items():
        user = workspace.identity.create_user(
            username,
            PASSWORD,
            role=role,
            region=region,
            name=name,
            team=team["id"] if region == "华东" else None,
        )
        ids[username] = user["id"]
    rep = ids["rep_east"]
    account = records.create(
        SYSTEM,
        "account",
        {"name": "华东医疗集团", "industry": "medical", "region": "华东", "owner": rep},
    )
    records.create(
        SYSTEM, "contact", {"name": "张伟", "account": account["id"], "title": "CIO", "owner": rep}
    )
    stages = ["prospecting", "qualification", "proposal", "negotiation", "won"]
    for i, stage in enumerate(stages):
        records.create(
            SYSTEM,
            "opportunity",
            {
                "name": f"Hospital ERP phase {i + 1}",
                "account": account["id"],
                "stage": stage,
                "amount": 100000 * (i + 1),
                "probability": 20 * (i + 1) if stage != "won" else 100,
                "owner": rep,
                "close_date": (date.today() + timedelta(days=30 * i)).isoformat(),
            },
        )
    records.create(
        SYSTEM,
        "task",
        {"subject": "Call the CIO back", "assignee": rep, "due": date.today().isoformat()},
    )
    assigned = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=30)
    records.create(
        SYSTEM,
        "lead",
        {
            "name": "赵敏",
            "company": "西湖制造",
            "status": "assigned",
            "assigned_to": rep,
            "assigned_at": assigned.isoformat(timespec="seconds"),
        },
    )
    return ids
