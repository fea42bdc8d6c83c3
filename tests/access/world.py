"""A small sales organisation for access stories, and an oracle of what its policies allow.

The world holds one user per built-in role (named like the demo company's personas), a
teammate of ``rep_east``, a second rep on another team in 华东 and one in 西南, two deal rooms
and, per persona, an account, a contact and an opportunity of their own. Records are
written as the system principal straight through the record service (no password hashing),
so a world is built in about a second.

The oracle reads the policy *data* (``default_policies()``, or whatever a test saved), not
the policy engine: which policies apply to a role, whether a row scope holds for a raw
record (``dealcraft.expr.evaluate``), and how much of each field a role may see. Tests
compare what the API or the record service answers with what the oracle says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dealcraft import expr
from dealcraft.access.principal import SYSTEM
from dealcraft.access.roles import DEFAULT_CATEGORY_PURPOSES, default_policies
from dealcraft.errors import NotFound
from dealcraft.schema.model import FieldDef
from dealcraft.workspace import Workspace

SYSTEM_KEYS = frozenset({"id", "version", "created_at", "updated_at", "created_by", "updated_by"})
COMPUTED_TYPES = frozenset({"formula", "rollup"})

# The acting persona of each built-in role: (username, region, team).
ACTORS: dict[str, tuple[str, str, str | None]] = {
    "admin": ("admin", "华东", None),
    "sales_director": ("director", "华东", None),
    "regional_manager": ("manager_east", "华东", "East-1"),
    "key_account_manager": ("kam_east", "华东", "East-1"),
    "sales_rep": ("rep_east", "华东", "East-1"),
    "solution_architect": ("architect", "华东", None),
    "delivery_expert": ("delivery", "华东", None),
    "legal_counsel": ("legal", "华东", None),
    "analyst": ("analyst", "华东", None),
    "partner": ("partner", "华东", None),
}
# Owners of the records around the actors: username -> (role, region, team, manager).
OTHERS: dict[str, tuple[str, str, str, str | None]] = {
    "mate_east": ("sales_rep", "华东", "East-1", "manager_east"),
    "rep_east2": ("sales_rep", "华东", "East-2", None),
    # Reports to the 华东 manager although they sell in 西南: a manager's reach follows the
    # hierarchy (owner_id in :user.reports), not only the region.
    "rep_southwest": ("sales_rep", "西南", "Southwest", "manager_east"),
}
TEAMS = {"East-1": "华东", "East-2": "华东", "Southwest": "西南"}
# Deal-room roles serve in room_open; room_other is another deal room none of them is in.
ROOM_MEMBERS = ("architect", "delivery", "legal", "partner")

# How a record relates to the acting persona, and the record standing for each relation:
# (owner username or None for the actor, region, grade).
RELATIONS: dict[str, tuple[str | None, str, str]] = {
    "own": (None, "", "C"),  # the actor's own record, in the actor's region
    "same_team": ("mate_east", "华东", "C"),
    "same_region": ("rep_east2", "华东", "B"),
    "other_region": ("rep_southwest", "西南", "A"),
    "deal_room": ("director", "华南", "C"),
    "other_deal_room": ("director", "华北", "A"),
}
OBJECTS = ("account", "contact", "opportunity")
# A harmless change per object, and a change that moves the actor's own record elsewhere.
EDITS = {
    "account": {"description": "checked by the access matrix"},
    "contact": {"title": "checked by the access matrix"},
    "opportunity": {"description": "checked by the access matrix"},
}


@dataclass
class World:
    ws: Workspace
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    rooms: dict[str, int] = field(default_factory=dict)
    # (username or relation, object) -> record id
    records: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def uid(self, username: str) -> int:
        return self.users[username]["id"]

    def actor(self, role: str) -> str:
        return ACTORS[role][0]

    def record_id(self, role: str, object_name: str, relation: str) -> int:
        key = self.actor(role) if relation == "own" else relation
        return self.records[(key, object_name)]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def params(self, username: str) -> dict[str, Any]:
        """Principal parameters from what the world was built with (not from Identity)."""
        user = self.users[username]
        reports = {user["id"]}
        frontier = {user["id"]}
        while frontier:
            frontier = {
                u["id"]
                for u in self.users.values()
                if u.get("manager") in frontier and u["id"] not in reports
            }
            reports |= frontier
        rooms = set()
        if username in ROOM_MEMBERS:
            rooms.add(self.records[("deal_room", "account")])
        if username == "rep_east2":
            rooms.add(self.records[("other_deal_room", "account")])
        return {
            "user": {
                "id": user["id"],
                "username": username,
                "region": user.get("region"),
                "teams": [user["team"]] if user.get("team") else [],
                "reports": sorted(reports),
                "deal_room_accounts": sorted(rooms),
            }
        }

    # Raw records, as the system principal sees them ---------------------------------------
    def raw(self, object_name: str, record_id: int) -> dict[str, Any] | None:
        try:
            return self.ws.records.get(SYSTEM, object_name, record_id)
        except NotFound:
            return None

    def all_raw(self, object_name: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        cursor = None
        while True:
            page = self.ws.records.list(SYSTEM, object_name, limit=500, cursor=cursor)
            found.update((r["id"], r) for r in page.data)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor


def build_world(ws: Workspace) -> World:
    """Write the organisation into an initialised workspace; issue a token per user."""
    w = World(ws)
    rec = ws.records

    # Teams, users and the manager hierarchy.
    for name, region in TEAMS.items():
        w.teams[name] = rec.create(SYSTEM, "team", {"name": name, "region": region})["id"]
    for role, (username, region, team) in ACTORS.items():
        w.users[username] = rec.create(
            SYSTEM,
            "user",
            {
                "username": username,
                "name": username,
                "role": role,
                "region": region,
                "team": w.teams.get(team) if team else None,
                "phone": "13700001111",
            },
        )
    rec.update(SYSTEM, "user", w.uid("rep_east"), {"manager": w.uid("manager_east")})
    w.users["rep_east"] = rec.get(SYSTEM, "user", w.uid("rep_east"))
    for username, (role, region, team, manager) in OTHERS.items():
        w.users[username] = rec.create(
            SYSTEM,
            "user",
            {
                "username": username,
                "name": username,
                "role": role,
                "region": region,
                "team": w.teams[team],
                "manager": w.uid(manager) if manager else None,
            },
        )

    # One account, contact and opportunity per relation, and per acting persona.
    owners: dict[str, tuple[int | None, str, str]] = {}
    for relation, (owner, region, grade) in RELATIONS.items():
        if relation != "own":
            owners[relation] = (w.uid(owner) if owner else None, region, grade)
    for username, region, _team in ACTORS.values():
        owners[username] = (w.uid(username), region, "C")
    for n, (key, (owner_id, region, grade)) in enumerate(sorted(owners.items())):
        account = rec.create(
            SYSTEM,
            "account",
            {
                "name": f"{key} account",
                "region": region,
                "grade": grade,
                "owner": owner_id,
                "phone": f"1380000{n:04d}",
                "credit_limit": 1_000_000 + n,
                "annual_revenue": 50_000_000 + n,
                "supply_chain_notes": f"supplier list of {key}",
                "description": f"account of {key}",
            },
        )
        w.records[(key, "account")] = account["id"]
        contact = rec.create(
            SYSTEM,
            "contact",
            {
                "name": f"{key} contact",
                "account": account["id"],
                "phone": f"1391234{n:04d}",
                "email": f"{key}@example.com",
                "wecom_id": f"wx_{key}",
                "owner": owner_id,
                "last_contacted_at": "2026-01-05T09:30:00Z",
            },
        )
        w.records[(key, "contact")] = contact["id"]
        opportunity = rec.create(
            SYSTEM,
            "opportunity",
            {
                "name": f"{key} deal",
                "account": account["id"],
                "owner": owner_id,
                "amount": 200_000 + n,
                "probability": 40,
                "stage": "proposal",
            },
        )
        w.records[(key, "opportunity")] = opportunity["id"]

        # History with hidden and masked values in it.
        rec.update(SYSTEM, "account", account["id"], {"credit_limit": 2_000_000 + n})
        rec.update(SYSTEM, "contact", contact["id"], {"phone": f"1365678{n:04d}"})

    # Deal rooms: an open one the deal-room personas serve on, another one, a closed one.
    room_open = rec.create(
        SYSTEM,
        "deal_room",
        {"name": "room open", "account": w.records[("deal_room", "account")], "status": "open"},
    )
    room_other = rec.create(
        SYSTEM,
        "deal_room",
        {"name": "room other", "account": w.records[("other_deal_room", "account")]},
    )
    # A closed room grants nothing, although the deal-room personas were members.
    room_closed = rec.create(
        SYSTEM,
        "deal_room",
        {"name": "closed", "account": w.records[("other_region", "account")], "status": "closed"},
    )
    w.rooms = {"open": room_open["id"], "other": room_other["id"], "closed": room_closed["id"]}
    for username in ROOM_MEMBERS:
        for room in (room_open, room_closed):
            rec.create(
                SYSTEM, "deal_room_member", {"deal_room": room["id"], "user": w.uid(username)}
            )
    rec.create(
        SYSTEM, "deal_room_member", {"deal_room": room_other["id"], "user": w.uid("rep_east2")}
    )

    # Tokens last: the principal of a token carries the rooms and reports of this moment.
    for username in w.users:
        principal = ws.identity.principal_for_user(w.users[username])
        w.tokens[username], _ = ws.identity.issue_token(principal, name="access matrix")
    return w


# The oracle ---------------------------------------------------------------------------------

VISIBLE, MASKED, HIDDEN = "visible", "masked", "hidden"


class Oracle:
    """What the policy data allows, evaluated in memory."""

    def __init__(
        self,
        world: World,
        policies: Iterable[Mapping[str, Any]] | None = None,
        category_purposes: Mapping[str, list[str] | None] | None = None,
    ) -> None:
        self.world = world
        self.view = world.ws.registry.view()
        self.policies = list(policies if policies is not None else default_policies())
        self.category_purposes = dict(category_purposes or DEFAULT_CATEGORY_PURPOSES)
        self._checked: dict[tuple[str, str, str], expr.Checked] = {}

    # Policies ----------------------------------------------------------------------------
    def applying(self, roles: Iterable[str], object_name: str) -> list[Mapping[str, Any]]:
        """Per role, its policy on the object, or else its policy on every object."""
        found = []
        for role in roles:
            mine = [p for p in self.policies if p["role"] == role]
            exact = [p for p in mine if p["object_name"] == object_name]
            found += exact or [p for p in mine if p["object_name"] == "*"]
        return found

    def may(self, roles: Iterable[str], object_name: str, operation: str) -> bool:
        return any(operation in p["operations"] for p in self.applying(roles, object_name))

    # Rows --------------------------------------------------------------------------------
    def in_scope(
        self,
        roles: Iterable[str],
        object_name: str,
        record: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> bool:
        found = self.applying(roles, object_name)
        if not found:
            return False
        for p in found:
            scope = p.get("row_scope")
            if not scope:
                return True
            key = (scope, object_name, repr(params))
            checked = self._checked.get(key)
            if checked is None:
                checked = self._checked[key] = expr.check(scope, self.view, object_name, params)
            if expr.evaluate(checked, record, params, fetch=self._fetch) is True:
                return True
        return False

    def _fetch(self, object_name: str, record_id: Any) -> Mapping[str, Any] | None:
        return self.world.raw(object_name, record_id)

    # Fields ------------------------------------------------------------------------------
    def level(self, roles: Iterable[str], f: FieldDef, purposes: Iterable[str] = ()) -> str:
        roles = list(roles)
        category = f.options.get("category")
        allowed = self.category_purposes.get(category) if category else None
        if allowed is not None and not set(purposes) & set(allowed):
            return HIDDEN
        best = HIDDEN
        for p in self.applying(roles, f.object_name):
            rule = (p.get("field_rules") or {}).get(f.name)
            this = {"hidden": HIDDEN, "masked": MASKED}.get(rule or "", VISIBLE)
            if this == VISIBLE or (this == MASKED and best == HIDDEN):
                best = this
        if best == VISIBLE and f.type in COMPUTED_TYPES:
            # A computed field shows only when everything it reads is shown in full.
            for dep in self.dependencies(f):
                if dep.type in COMPUTED_TYPES:
                    continue
                if self.level(roles, dep, purposes) != VISIBLE:
                    return HIDDEN
        return best

    def dependencies(self, f: FieldDef) -> list[FieldDef]:
        """The fields a formula or roll-up reads, found from its definition."""
        if f.type == "formula":
            base = self.view.objects[f.object_name]
            names = set(re.findall(r"[a-z_][a-z0-9_]*", f.options["expression"]))
        else:
            base = self.view.objects[f.options["object"]]
            names = {f.options["via"], f.options.get("field") or ""}
            names |= set(re.findall(r"[a-z_][a-z0-9_]*", f.options.get("where") or ""))
        return [d for d in (base.field(n) for n in sorted(names) if n) if d is not None]

    def writable(self, roles: Iterable[str], f: FieldDef) -> bool:
        return any(
            (p.get("field_rules") or {}).get(f.name) in (None, "masked")
            for p in self.applying(roles, f.object_name)
            if set(p["operations"]) & {"create", "update", "import"}
        )

    def shown(
        self, roles: Iterable[str], object_name: str, purposes: Iterable[str] = ()
    ) -> dict[str, str]:
        """JSON key -> visible or masked, for every field the roles may see."""
        keys: dict[str, str] = {}
        for f in self.view.objects[object_name].active_fields:
            level = self.level(roles, f, purposes)
            if level == HIDDEN:
                continue
            keys[f.name] = level
            if f.type == "money":
                keys[f"{f.name}_currency"] = level
        return keys


def masked(field_type: str, value: Any) -> Any:
    """How the product documents a masked value: 138****1234, z***@example.com, w*****."""
    if value is None:
        return None
    if not isinstance(value, str):
        return ["*" for _ in value] if isinstance(value, list) else None
    if field_type == "phone":
        digits = re.sub(r"\D", "", value)
        return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "*" * len(value)
    if field_type == "email":
        local, _, domain = value.partition("@")
        return local[:1] + "***@" + domain if domain else "***"
    return value[:1] + "*" * min(len(value) - 1, 8) if len(value) > 1 else "*"


def field_types(world: World, object_name: str) -> dict[str, str]:
    obj = world.ws.registry.view().objects[object_name]
    types = {}
    for f in obj.active_fields:
        types[f.name] = f.type
        if f.type == "money":
            types[f"{f.name}_currency"] = "text"
    return types


def check_record_fields(
    oracle: Oracle,
    roles: Iterable[str],
    object_name: str,
    got: Mapping[str, Any],
    raw: Mapping[str, Any],
    purposes: Iterable[str] = (),
    where: str = "",
) -> None:
    """``got`` has exactly the keys the roles may see, stored values in full or masked."""
    shown = oracle.shown(roles, object_name, purposes)
    types = field_types(oracle.world, object_name)
    keys = set(got) - SYSTEM_KEYS - {"deleted_at"}
    assert keys == set(shown), (
        f"{where}: {object_name} {raw['id']} shows {sorted(keys - set(shown))} it must hide "
        f"and lacks {sorted(set(shown) - keys)}"
    )
    for key, level in shown.items():
        if types[key] in COMPUTED_TYPES:
            continue  # computed over the principal's own scope; its presence is the point
        want = raw.get(key) if level == VISIBLE else masked(types[key], raw.get(key))
        assert got[key] == want, f"{where}: {object_name}.{key} is {got[key]!r}, want {want!r}"
