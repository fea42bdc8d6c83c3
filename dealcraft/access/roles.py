"""Built-in roles and their default policies (least privilege: what is not granted is denied).

Policies are data: these defaults are written into a new workspace, then edited through the
API like any other policy. Scopes are expressions with principal parameters:
``:user.id``, ``:user.region``, ``:user.teams`` (team ids), ``:user.reports`` (the user and
everyone who reports to them, transitively) and ``:user.deal_room_accounts``.
"""

from __future__ import annotations

from typing import Any

ROLES = (
    "admin",
    "sales_director",
    "regional_manager",
    "key_account_manager",
    "sales_rep",
    "solution_architect",
    "delivery_expert",
    "legal_counsel",
    "analyst",
    "partner",
)

ALL = ["read", "create", "update", "delete", "export", "import"]
WORK = ["read", "create", "update", "export"]
READ = ["read"]

SALES_OBJECTS = (
    "account",
    "contact",
    "lead",
    "opportunity",
    "contract",
    "payment",
    "activity",
    "proposal",
    "task",
)
DIRECTORY = ("user", "team", "region", "product")

# Account fields only key-account managers, directors and admins see.
SUPPLY_CHAIN_FIELDS = ("credit_limit", "supply_chain_notes", "annual_revenue")


def _p(role: str, obj: str, ops: list[str], scope: str | None = None, **rules: str) -> dict:
    return {
        "role": role,
        "object_name": obj,
        "operations": ops,
        "row_scope": scope,
        "field_rules": rules,
    }


def _directory(role: str) -> list[dict[str, Any]]:
    # Everyone may look colleagues up; contact details of colleagues are not masked.
    return [_p(role, obj, READ) for obj in DIRECTORY]


def default_policies() -> list[dict[str, Any]]:
    hidden_supply = {f: "hidden" for f in SUPPLY_CHAIN_FIELDS}
    policies: list[dict[str, Any]] = [_p("admin", "*", ALL)]

    # The director sees and works every deal, everywhere.
    policies += [_p("sales_director", obj, ALL) for obj in SALES_OBJECTS]
    policies += _directory("sales_director")

    # A regional manager: their region, and whatever their reports own.
    region_scopes = {
        "account": "region = :user.region",
        "lead": "region = :user.region or assigned_to_id in :user.reports",
        "contact": "account.region = :user.region",
        "opportunity": "account.region = :user.region or owner_id in :user.reports",
        "contract": "account.region = :user.region or owner_id in :user.reports",
        "payment": "contract.account.region = :user.region",
        "activity": "account.region = :user.region or owner_id in :user.reports",
        "proposal": "opportunity.account.region = :user.region",
        "task": "assignee_id in :user.reports",
    }
    policies += [
        _p("regional_manager", obj, ALL if obj != "payment" else WORK, scope)
        for obj, scope in region_scopes.items()
    ]
    policies += _directory("regional_manager")

    # A key-account manager: the A/B accounts of their region, supply chain included.
    kam_scopes = {
        "account": "region = :user.region and (grade in ('A', 'B') or owner_id = :user.id)",
        "contact": "account.region = :user.region and account.grade in ('A', 'B')",
        "opportunity": "owner_id = :user.id or (account.region = :user.region and "
        "account.grade in ('A', 'B'))",
        "activity": "owner_id = :user.id",
        "proposal": "opportunity.owner_id = :user.id",
        "contract": "owner_id = :user.id",
        "task": "assignee_id = :user.id",
        "lead": "assigned_to_id = :user.id",
    }
    policies += [_p("key_account_manager", obj, WORK, scope) for obj, scope in kam_scopes.items()]
    policies += _directory("key_account_manager")

    # A sales rep: basic fields of their region's accounts; their own deals and work.
    rep = "sales_rep"
    policies += [
        _p(rep, "account", WORK, "region = :user.region", **hidden_supply),
        _p(
            rep,
            "contact",
            WORK,
            "account.region = :user.region",
            phone="masked",
            email="masked",
            wecom_id="masked",
        ),
        _p(rep, "lead", WORK, "assigned_to_id = :user.id"),
        _p(rep, "opportunity", WORK, "owner_id = :user.id"),
        _p(rep, "activity", WORK, "owner_id = :user.id"),
        _p(rep, "proposal", WORK, "opportunity.owner_id = :user.id"),
        _p(rep, "task", WORK, "assignee_id = :user.id"),
        _p(rep, "contract", READ, "owner_id = :user.id"),
        _p(rep, "payment", READ, "contract.owner_id = :user.id"),
    ]
    policies += _directory(rep)

    # Deal-room roles: the accounts of the deal rooms they serve on.
    room = "id in :user.deal_room_accounts"
    via_account = "account_id in :user.deal_room_accounts"
    policies += [
        _p("solution_architect", "account", READ, room, **hidden_supply),
        _p("solution_architect", "opportunity", READ, via_account),
        _p(
            "solution_architect",
            "proposal",
            ["read", "create", "update"],
            "opportunity.account_id in :user.deal_room_accounts",
        ),
        _p("solution_architect", "activity", ["read", "create"], via_account),
        _p("delivery_expert", "account", READ, room, **hidden_supply),
        _p("delivery_expert", "contract", READ, via_account),
        _p("delivery_expert", "task", ["read", "create", "update"], "assignee_id = :user.id"),
        _p("legal_counsel", "account", READ, room, **hidden_supply),
        _p("legal_counsel", "contract", ["read", "update"], via_account),
        _p("partner", "account", READ, room, **hidden_supply, phone="hidden"),
        _p("partner", "opportunity", READ, via_account, amount="hidden"),
    ]
    for role in ("solution_architect", "delivery_expert", "legal_counsel", "partner"):
        policies += _directory(role)

    # The analyst reads everything, with people's contact details masked, and exports nothing.
    masked_people = {"phone": "masked", "email": "masked", "wecom_id": "masked"}
    policies += [
        _p("analyst", obj, READ, **masked_people)
        if obj == "contact"
        else _p("analyst", obj, READ, phone="masked", email="masked")
        if obj == "lead"
        else _p("analyst", obj, READ)
        for obj in SALES_OBJECTS
    ]
    policies += _directory("analyst")
    return policies


# Which declared purposes may read fields of each data category (None: any purpose, or none).
DEFAULT_CATEGORY_PURPOSES: dict[str, list[str] | None] = {
    "personal": None,
    "financial": None,
    "behavioural": ["sales_followup", "customer_service"],
}
PURPOSES = ("sales_followup", "customer_service", "marketing", "analytics", "compliance_review")
