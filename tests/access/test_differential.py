"""Differential: for random principals, policies and records, the record service returns
exactly what an in-memory evaluation of the same policy allows, rows and fields.

Each example saves random policies through ``PolicyStore.save`` for one or two roles on
accounts and contacts (operations, a row scope drawn from a pool of expressions with
principal parameters, field rules), writes a random batch of records, and lists both objects
as a random principal. The oracle of world.py evaluates each scope with
``dealcraft.expr.evaluate`` on the raw records and applies the field rules itself.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.access.roles import default_policies
from dealcraft.errors import Forbidden, InvalidInput

from .world import Oracle, check_record_fields

ROLES = ("partner", "delivery_expert")
REGIONS = ("华东", "西南", "华南", None)
SCOPES = {
    "account": [
        None,
        "region = :user.region",
        "owner_id = :user.id",
        "owner_id in :user.reports",
        "id in :user.deal_room_accounts",
        "grade in ('A', 'B')",
        "region = :user.region and (grade in ('A', 'B') or owner_id = :user.id)",
        "owner.region = :user.region",
        "owner.team_id in :user.teams",
        "phone is null or region <> :user.region",
    ],
    "contact": [
        None,
        "account.region = :user.region",
        "owner_id = :user.id",
        "account_id in :user.deal_room_accounts",
        "account.owner_id in :user.reports",
        "account.region = :user.region and account.grade in ('A', 'B')",
        "account.owner.region = :user.region or owner_id = :user.id",
    ],
}
RULED_FIELDS = {
    "account": ("name", "grade", "phone", "credit_limit", "supply_chain_notes", "description"),
    "contact": ("name", "title", "phone", "email", "wecom_id", "account", "last_contacted_at"),
}
OPERATIONS = ("read", "create", "update", "delete", "export", "import")


def policy_specs(role: str) -> st.SearchStrategy[list[dict]]:
    def one(object_name: str) -> st.SearchStrategy[dict]:
        return st.fixed_dictionaries(
            {
                "role": st.just(role),
                "object_name": st.just(object_name),
                # Mostly readable: a policy without read is refused outright, once is enough.
                "operations": st.one_of(
                    st.just(["read"]),
                    st.lists(st.sampled_from(OPERATIONS), unique=True, min_size=1, max_size=3),
                    st.just(["read", "update"]),
                ),
                "row_scope": st.sampled_from(SCOPES[object_name]),
                "field_rules": st.dictionaries(
                    st.sampled_from(RULED_FIELDS[object_name]),
                    st.sampled_from(["hidden", "masked", "read_only"]),
                    max_size=3,
                ),
            }
        )

    return st.lists(st.sampled_from(["account", "contact"]), unique=True, min_size=2).flatmap(
        lambda names: st.tuples(*(one(n) for n in names)).map(list)
    )


phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
texts = st.text(alphabet="abz华东", min_size=1, max_size=6)


@st.composite
def scenarios(draw, users: list[int], teams: list[int]):
    roles = draw(st.lists(st.sampled_from(ROLES), unique=True, min_size=1, max_size=2))
    policies = [p for role in roles for p in draw(policy_specs(role))]
    accounts = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": texts,
                    "region": st.sampled_from(REGIONS),
                    "grade": st.sampled_from(["A", "B", "C", None]),
                    "owner": st.sampled_from([*users, None]),
                    "phone": st.one_of(st.none(), phones),
                    "credit_limit": st.one_of(st.none(), st.integers(0, 10**7)),
                    "supply_chain_notes": st.one_of(st.none(), texts),
                    "description": st.one_of(st.none(), texts),
                }
            ),
            min_size=1,
            max_size=6,
        )
    )
    contacts = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": texts,
                    "account_index": st.one_of(st.none(), st.integers(0, len(accounts) - 1)),
                    "owner": st.sampled_from([*users, None]),
                    "phone": st.one_of(st.none(), phones),
                    "email": st.one_of(st.none(), st.just("li.lei@example.com")),
                    "wecom_id": st.one_of(st.none(), texts),
                    "title": st.one_of(st.none(), texts),
                    "last_contacted_at": st.just("2026-01-05T09:30:00Z"),
                }
            ),
            max_size=6,
        )
    )
    principal = {
        "user_id": draw(st.sampled_from(users)),
        "region": draw(st.sampled_from(REGIONS)),
        "teams": draw(st.lists(st.sampled_from(teams), unique=True, max_size=2)),
        "reports": draw(st.lists(st.sampled_from(users), unique=True, max_size=3)),
        "room_indexes": draw(st.lists(st.integers(0, len(accounts) - 1), unique=True, max_size=2)),
        "purposes": draw(st.sampled_from([(), ("sales_followup",), ("marketing",)])),
        "sort": draw(st.sampled_from([None, "name", "grade", "phone", "credit_limit"])),
    }
    return roles, policies, accounts, contacts, principal


@pytest.fixture(scope="module")
def users_and_teams(world):
    users = [world.uid(u) for u in ("rep_east", "rep_east2", "rep_southwest", "manager_east")]
    return users, sorted(world.teams.values())


def test_list_records_returns_what_the_policy_allows_in_memory(world, users_and_teams):
    users, teams = users_and_teams
    ws = world.ws

    @settings(
        max_examples=30,
        deadline=None,
        # Each example writes records; shrinking them costs minutes. A failure message names
        # the policies and the rows, which is enough to replay it by hand.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenarios(users, teams))
    def story(scenario):
        roles, specs, accounts, contacts, who = scenario

        # Given the random policies, saved as an admin would
        for spec in specs:
            ws.policies.save(spec, actor_id=None)
        replaced = {(s["role"], s["object_name"]) for s in specs}
        policies = [
            p for p in default_policies() if (p["role"], p["object_name"]) not in replaced
        ] + specs
        oracle = Oracle(world, policies)

        # And a batch of random records
        account_ids = ws.records.bulk_create(SYSTEM, "account", accounts).ids
        rows = []
        for c in contacts:
            row = {k: v for k, v in c.items() if k != "account_index"}
            index = c["account_index"]
            row["account"] = account_ids[index] if index is not None else None
            rows.append(row)
        contact_ids = ws.records.bulk_create(SYSTEM, "contact", rows).ids if rows else []
        batch = {"account": set(account_ids), "contact": set(contact_ids)}

        # And a random principal
        principal = Principal(
            user_id=who["user_id"],
            username="random",
            roles=frozenset(roles),
            team_ids=frozenset(who["teams"]),
            region=who["region"],
            purposes=frozenset(who["purposes"]),
            reports=frozenset(who["reports"]),
            deal_room_accounts=frozenset(account_ids[i] for i in who["room_indexes"]),
        )
        params = principal.expression_params()
        expected_params = {
            "user": {
                "id": who["user_id"],
                "username": "random",
                "region": who["region"],
                "teams": sorted(who["teams"]),
                "reports": sorted({*who["reports"], who["user_id"]}),
                "deal_room_accounts": sorted(account_ids[i] for i in who["room_indexes"]),
            }
        }
        assert params == expected_params

        for object_name in ("account", "contact"):
            raws = {i: world.raw(object_name, i) for i in batch[object_name]}

            # When the principal lists the object
            if not oracle.may(roles, object_name, "read"):
                with pytest.raises(Forbidden) as refused:
                    ws.records.list(principal, object_name, limit=500)
                assert refused.value.code == "operation_denied"
                continue
            got = {}
            cursor = None
            while True:
                page = ws.records.list(principal, object_name, limit=500, cursor=cursor)
                got.update((r["id"], r) for r in page.data if r["id"] in batch[object_name])
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor

            # Then the rows are those the scopes allow, with the fields the rules allow
            want = {
                i
                for i, r in raws.items()
                if oracle.in_scope(roles, object_name, r, expected_params)
            }
            assert set(got) == want, (object_name, specs, sorted(got), sorted(want))
            for record_id, record in got.items():
                check_record_fields(
                    oracle,
                    roles,
                    object_name,
                    record,
                    raws[record_id],
                    who["purposes"],
                    where=f"{sorted(roles)} {object_name}",
                )

        # And sorting accounts by a field is refused unless the field is shown in full
        sort = who["sort"]
        if sort and oracle.may(roles, "account", "read"):
            f = oracle.view.objects["account"].field(sort)
            shown = oracle.level(roles, f, who["purposes"]) == "visible"
            if shown:
                ws.records.list(principal, "account", sort=sort, limit=5)
            else:
                with pytest.raises(InvalidInput) as refused:
                    ws.records.list(principal, "account", sort=sort, limit=5)
                assert refused.value.code == "invalid_sort"

    story()
