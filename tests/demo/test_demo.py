"""The demo company: who is in it, what it covers, and that a seed always builds the same one.

One small company is built per module on SQLite and shared by the read-only tests; the
tests that need their own workspace build another. Password hashing is made cheap here
(the demo creates a few dozen users, each hashed with argon2 at full cost otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from argon2 import PasswordHasher

from dealcraft.access import identity as identity_module
from dealcraft.access.principal import SYSTEM
from dealcraft.apps.builtin import core_sales
from dealcraft.demo import SCALES, build_demo, demo_scale
from dealcraft.demo.builder import META_BUILDING, set_meta
from dealcraft.demo.people import credit_code_is_valid
from dealcraft.errors import Conflict, InvalidInput, Unauthorized
from dealcraft.flows.examples import SERVICE_ACCOUNT
from dealcraft.settings import Settings
from dealcraft.web.workbench import WIN_RATE_MONTHS, rep_records
from dealcraft.workspace import Workspace

PERSONAS = {
    # username: (role, region)
    "admin": ("admin", None),
    "director": ("sales_director", None),
    "manager_east": ("regional_manager", "华东"),
    "rep_east": ("sales_rep", "华东"),
    "rep_east2": ("sales_rep", "华东"),
    "rep_southwest": ("sales_rep", "西南"),
    "kam_east": ("key_account_manager", "华东"),
    "architect": ("solution_architect", None),
    "delivery": ("delivery_expert", None),
    "legal": ("legal_counsel", None),
    "analyst": ("analyst", None),
}
TIMESTAMPS = {"created_at", "updated_at"}


@pytest.fixture(scope="module", autouse=True)
def cheap_password_hashing():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(identity_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """A small demo company on SQLite, with the progress it reported while being built."""
    root = tmp_path_factory.mktemp("demo")
    settings = Settings(
        data_dir=root / "data", database_url=f"sqlite:///{root / 'w.db'}", env="test"
    )
    workspace = Workspace(settings)
    workspace.initialise()
    reports: dict[str, list[tuple[int, int]]] = defaultdict(list)
    summary = build_demo(
        workspace, "small", progress=lambda step, done, total: reports[step].append((done, total))
    )
    yield workspace, summary, reports
    workspace.close()


def all_records(workspace, object_name, where=None):
    records, cursor = [], None
    while True:
        page = workspace.records.list(SYSTEM, object_name, where=where, limit=500, cursor=cursor)
        records.extend(page.data)
        cursor = page.next_cursor
        if cursor is None:
            return records


def count(workspace, object_name, where=None):
    return workspace.records.count(SYSTEM, object_name, where=where)


# Who works there ------------------------------------------------------------------------
def test_build_demo_creates_the_personas_in_their_roles_and_regions(small_demo):
    workspace, _summary, _reports = small_demo

    users = {u["username"]: u for u in all_records(workspace, "user")}

    for username, (role, region) in PERSONAS.items():
        assert users[username]["role"] == role, username
        assert users[username]["region"] == region, username
    assert users["rep_east"]["team"] != users["rep_east2"]["team"]
    assert users["rep_east"]["manager"] == users["manager_east"]["id"]
    assert users["manager_east"]["manager"] == users["director"]["id"]


def test_build_demo_gives_every_user_the_demo_password(small_demo):
    workspace, _summary, _reports = small_demo
    password = workspace.settings.demo_password

    principal = workspace.identity.authenticate("rep_east", password)

    assert principal.region == "华东"
    assert principal.has_role("sales_rep")
    for user in all_records(workspace, "user"):
        if user["username"] == SERVICE_ACCOUNT:
            # The flows' service account cannot sign in: its password is random and unknown.
            with pytest.raises(Unauthorized):
                workspace.identity.authenticate(user["username"], password)
            continue
        assert workspace.identity.authenticate(user["username"], password).user_id == user["id"]


def test_build_demo_gives_every_region_a_manager_and_teams_with_leads(small_demo):
    workspace, _summary, _reports = small_demo
    users = {u["id"]: u for u in all_records(workspace, "user")}

    regions = all_records(workspace, "region")
    teams = all_records(workspace, "team")

    assert sorted(r["name"] for r in regions) == sorted(c["value"] for c in core_sales.REGIONS)
    assert {r["name"]: r["code"] for r in regions}["华东"] == "EAST"
    for region in regions:
        assert users[region["manager"]]["role"] == "regional_manager"
        assert users[region["manager"]]["region"] == region["name"]
    assert {t["region"] for t in teams} == {r["name"] for r in regions}
    assert all(t["lead"] in users for t in teams)


# What it sells to ------------------------------------------------------------------------
def test_build_demo_covers_every_region_and_industry_with_valid_accounts(small_demo):
    workspace, _summary, _reports = small_demo
    users = {u["id"]: u for u in all_records(workspace, "user")}

    accounts = all_records(workspace, "account")

    assert {a["region"] for a in accounts} == {c["value"] for c in core_sales.REGIONS}
    assert {a["industry"] for a in accounts} == {c["value"] for c in core_sales.INDUSTRIES}
    assert len({a["name"] for a in accounts}) == len(accounts)
    assert any(a["parent_account"] for a in accounts)
    for account in accounts:
        assert credit_code_is_valid(account["unified_social_credit_code"]), account
        assert users[account["owner"]]["region"] == account["region"], account
    assert all(3 <= a["contact_count"] <= 6 for a in accounts)


def test_build_demo_gives_every_account_a_decision_maker(small_demo):
    workspace, summary, _reports = small_demo

    deciders = {
        c["account"] for c in all_records(workspace, "contact", "decision_role = 'decision_maker'")
    }

    assert len(deciders) == summary["account"]
    roles = {c["decision_role"] for c in all_records(workspace, "contact")}
    assert roles == {"decision_maker", "influencer", "user", "gatekeeper", "champion", "blocker"}


def test_build_demo_contacts_leads_after_assigning_them_or_never(small_demo):
    workspace, _summary, _reports = small_demo

    leads = all_records(workspace, "lead")

    contacted = [lead for lead in leads if lead["first_contacted_at"]]
    assert contacted
    assert all(lead["first_contacted_at"] > lead["assigned_at"] for lead in contacted)
    assert any(lead["assigned_to"] and not lead["first_contacted_at"] for lead in leads)
    assert all(lead["assigned_to"] is None for lead in leads if lead["status"] == "new")


# Its deals ---------------------------------------------------------------------------------
def test_build_demo_has_deals_in_every_stage_with_the_stage_probability(small_demo):
    workspace, _summary, _reports = small_demo
    today = date.today().isoformat()

    deals = all_records(workspace, "opportunity")

    probability = {s["value"]: s["probability"] for s in core_sales.STAGES}
    assert {d["stage"] for d in deals} == set(probability)
    for deal in deals:
        assert deal["probability"] == probability[deal["stage"]], deal
        assert 50_000 <= deal["amount"] <= 5_000_000, deal
        closed = deal["stage"] in ("won", "lost")
        assert (deal["close_date"] < today) if closed else (deal["close_date"] > today), deal
        assert (deal["loss_reason"] is not None) == (deal["stage"] == "lost"), deal
    assert any(len(d["competitors"] or []) >= 2 for d in deals)


def test_build_demo_creates_deals_a_sales_cycle_before_they_close(small_demo):
    workspace, _summary, _reports = small_demo
    today = date.today()

    deals = all_records(workspace, "opportunity")

    # Closed deals were created 20-180 days before their close, open ones before today
    closed = [d for d in deals if d["stage"] in ("won", "lost")]
    for deal in deals:
        created = date.fromisoformat(deal["created_at"][:10])
        if deal["stage"] in ("won", "lost"):
            assert 20 <= (date.fromisoformat(deal["close_date"]) - created).days <= 180, deal
        else:
            assert created < today, deal
    # so the workbench measures every rep's sales cycle in days, from created_at to the close,
    # over the deals closed in its window (the last WIN_RATE_MONTHS months)
    since = (today - timedelta(days=31 * WIN_RATE_MONTHS)).isoformat()
    window = [d for d in closed if d["close_date"] >= since]
    cycles = {owner: rep.average_cycle for owner, rep in rep_records(window).items()}
    assert len(cycles) >= 5
    assert all(c is not None and 20 <= c <= 180 for c in cycles.values()), cycles
    # and the history of a deal says its creation date was supplied by the demo builder
    (created,) = workspace.records.history(SYSTEM, "opportunity", deals[0]["id"])
    assert created["created_at_supplied"] == {
        "created_at": deals[0]["created_at"],
        "supplied_by": "system",
    }


def test_build_demo_back_dates_accounts_before_their_deals_and_activities_after_they_happen(
    small_demo,
):
    workspace, _summary, _reports = small_demo
    accounts = {a["id"]: a for a in all_records(workspace, "account")}

    deals = all_records(workspace, "opportunity")
    activities = all_records(workspace, "activity")
    leads = all_records(workspace, "lead")

    assert all(d["created_at"] > accounts[d["account"]]["created_at"] for d in deals)
    contacts = all_records(workspace, "contact")
    opened = {i: a["created_at"][:10] for i, a in accounts.items()}
    assert all(c["created_at"][:10] >= opened[c["account"]] for c in contacts)
    logged = [a for a in activities if a["created_at"] > a["occurred_at"]]
    assert len(logged) > 0.9 * len(activities)
    assigned = [lead for lead in leads if lead["assigned_at"]]
    assert assigned and all(lead["created_at"] < lead["assigned_at"] for lead in assigned)


def test_build_demo_signs_a_contract_for_every_won_deal_with_payments_adding_up(small_demo):
    workspace, _summary, _reports = small_demo
    won = {d["id"]: d for d in all_records(workspace, "opportunity", "stage = 'won'")}

    contracts = all_records(workspace, "contract")
    payments = all_records(workspace, "payment")

    assert sorted(c["opportunity"] for c in contracts) == sorted(won)
    paid: dict[int, float] = defaultdict(float)
    for payment in payments:
        paid[payment["contract"]] += payment["amount"]
    for contract in contracts:
        assert contract["value"] <= won[contract["opportunity"]]["amount"]
        assert paid[contract["id"]] == pytest.approx(contract["value"])
    assert {p["status"] for p in payments} == {"planned", "paid", "overdue"}


def test_build_demo_versions_proposals_of_late_stage_deals(small_demo):
    workspace, _summary, _reports = small_demo
    stages = {d["id"]: d["stage"] for d in all_records(workspace, "opportunity")}

    versions: dict[int, list[int]] = defaultdict(list)
    for proposal in all_records(workspace, "proposal"):
        versions[proposal["opportunity"]].append(proposal["version_number"])

    assert {stages[o] for o in versions} == {"proposal", "negotiation", "won"}
    for numbers in versions.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert max(len(n) for n in versions.values()) >= 3


def test_build_demo_records_activities_with_transcripts_and_overdue_tasks(small_demo):
    workspace, summary, _reports = small_demo

    visits = all_records(workspace, "activity", "type = 'visit'")

    assert visits and all(v["transcript"] and v["duration_minutes"] for v in visits)
    assert {a["type"] for a in all_records(workspace, "activity")} == {
        "visit",
        "call",
        "email",
        "meeting",
        "im",
    }
    assert count(workspace, "task", f"due < '{date.today().isoformat()}' and status = 'open'")
    assert summary["activity"] == SCALES["small"].activities


# The build itself -------------------------------------------------------------------------
def test_build_demo_reports_progress_and_counts_and_marks_the_scale(small_demo):
    workspace, summary, reports = small_demo

    assert demo_scale(workspace) == "small"
    for object_name, created in summary.items():
        assert count(workspace, object_name) == created, object_name
    for step in ("account", "contact", "opportunity", "activity"):
        done, total = reports[step][-1]
        assert done == total == summary[step], step


def test_build_demo_same_seed_builds_the_same_company(small_demo, sqlite_workspace):
    workspace, summary, _reports = small_demo

    again = build_demo(sqlite_workspace, "small")

    assert again == summary
    for object_name in ("user", "account", "contact", "lead", "opportunity", "activity"):
        first = workspace.records.list(SYSTEM, object_name, limit=50).data
        second = sqlite_workspace.records.list(SYSTEM, object_name, limit=50).data
        strip = [{k: v for k, v in r.items() if k not in TIMESTAMPS} for r in first]
        assert strip == [{k: v for k, v in r.items() if k not in TIMESTAMPS} for r in second]


def test_build_demo_refuses_a_workspace_with_records(sqlite_workspace):
    sqlite_workspace.identity.create_user("someone", "a-password", role="admin")

    with pytest.raises(Conflict) as error:
        build_demo(sqlite_workspace, "small")

    assert error.value.code == "demo_workspace_not_empty"
    assert count(sqlite_workspace, "account") == 0
    assert demo_scale(sqlite_workspace) is None


def test_build_demo_detects_a_build_that_stopped_part_way(sqlite_workspace):
    # Given a build that wrote its marker and some users, then crashed
    set_meta(sqlite_workspace, META_BUILDING, "small seed=7")
    sqlite_workspace.identity.create_user("admin", "a-password", role="admin")

    with pytest.raises(Conflict) as error:
        build_demo(sqlite_workspace, "small")

    assert error.value.code == "demo_incomplete"
    assert demo_scale(sqlite_workspace) is None


def test_build_demo_rejects_an_unknown_scale(sqlite_workspace):
    with pytest.raises(InvalidInput) as error:
        build_demo(sqlite_workspace, "huge")

    assert error.value.code == "invalid_demo_scale"
    assert count(sqlite_workspace, "user") == 0


def test_build_demo_small_on_postgresql(pg_url, tmp_path):
    # SQLite builds the module's company above; this is the same build on PostgreSQL.
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, env="test")
    workspace = Workspace(settings)
    workspace.initialise()
    try:
        summary = build_demo(workspace, "small")

        assert demo_scale(workspace) == "small"
        assert count(workspace, "opportunity", "stage = 'won'") == summary["contract"]
        assert workspace.identity.authenticate("rep_southwest", settings.demo_password)
    finally:
        workspace.close()
