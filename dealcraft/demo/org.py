"""The sales organisation: regions, teams and users in roles, with a reporting hierarchy.

Reps report to their regional manager, managers and specialists to the sales director.
Every user signs in with ``settings.demo_password``.
"""

from __future__ import annotations

from typing import Any

from dealcraft.access.principal import SYSTEM
from dealcraft.demo import people, text
from dealcraft.demo.builder import DemoBuilder, Rep

EMAIL_DOMAIN = "dealcraft-demo.cn"

# Specialists every demo has beside the sales line (username, role); they report to the
# director. Managers and reps are made per region in ``build_org``.
SPECIALISTS = [
    ("architect", "solution_architect"),
    ("delivery", "delivery_expert"),
    ("legal", "legal_counsel"),
    ("analyst", "analyst"),
]


def build_org(b: DemoBuilder) -> None:
    rng = b.rng("org")
    identity = b.workspace.identity
    password = b.workspace.settings.demo_password
    users_total = _users_total(b)
    created = 0

    def add_user(username: str, role: str, **fields: Any) -> int:
        nonlocal created
        name, _pinyin, _surname = people.person_name(rng)
        user = identity.create_user(
            username,
            password,
            role=role,
            name=fields.pop("name", name),
            email=f"{username}@{EMAIL_DOMAIN}",
            phone=people.mobile(rng),
            wecom_id=username,
            **{k: v for k, v in fields.items() if v is not None},
        )
        b.org.users[username] = user["id"]
        created += 1
        b.report("users", created, users_total)
        return user["id"]

    # Teams first (users belong to one); their leads are set once the users exist.
    team_rows = [
        {"name": f"{region}销售{text.NTH[i]}部", "region": region}
        for region in text.REGIONS
        for i in range(_teams_in(b, region))
    ]
    team_ids = iter(b.write("team", team_rows))
    teams = {
        region: [next(team_ids) for _ in range(_teams_in(b, region))] for region in text.REGIONS
    }

    # The top of the hierarchy, then one manager and the reps of each region.
    add_user("admin", "admin", name="系统管理员")
    director = add_user("director", "sales_director")
    leads: dict[int, int] = {}
    managers: dict[str, int] = {}
    for region, (code, _cities) in text.REGIONS.items():
        manager = add_user(
            f"manager_{code.lower()}", "regional_manager", region=region, manager=director
        )
        region_teams = teams[region]
        reps_in_region = len(region_teams) * b.scale.reps_per_team
        members: dict[int, list[int]] = {team: [] for team in region_teams}
        b.org.reps_by_region[region] = []
        for n in range(1, reps_in_region + 1):
            # Reps are dealt round the teams, so rep_east and rep_east2 sit on two teams.
            team = region_teams[(n - 1) % len(region_teams)]
            username = f"rep_{code.lower()}" + ("" if n == 1 else str(n))
            rep = add_user(username, "sales_rep", region=region, team=team, manager=manager)
            members[team].append(rep)
            skill = round(rng.uniform(0.3, 0.7), 2)
            b.org.reps_by_region[region].append(Rep(rep, region, skill))
            b.org.skill[rep] = skill
            b.org.all_reps.append(rep)
        for team, reps in members.items():
            # A team of several reps is led by its most senior (last hired) rep.
            leads[team] = reps[-1] if len(reps) > 1 else manager
        managers[region] = manager

    # The key-account manager of East China, and the specialists beside the sales line.
    kam = add_user(
        "kam_east",
        "key_account_manager",
        region="华东",
        team=teams["华东"][0],
        manager=b.org.users["manager_east"],
    )
    b.org.skill[kam] = 0.6
    for username, role in SPECIALISTS:
        add_user(username, role, manager=director)

    # Team leads and regions, which refer to users.
    for team, lead in leads.items():
        b.records.update(SYSTEM, "team", team, {"lead": lead})
    b.write(
        "region",
        [
            {"name": region, "code": code, "manager": managers[region]}
            for region, (code, _cities) in text.REGIONS.items()
        ],
        step="regions",
    )
    b.counts["user"] = created


def _teams_in(b: DemoBuilder, region: str) -> int:
    # East China always has two teams: rep_east and rep_east2 work on different ones.
    return max(2, b.scale.teams_per_region) if region == "华东" else b.scale.teams_per_region


def _users_total(b: DemoBuilder) -> int:
    reps = sum(_teams_in(b, r) * b.scale.reps_per_team for r in text.REGIONS)
    return 2 + len(text.REGIONS) + reps + 1 + len(SPECIALISTS)
