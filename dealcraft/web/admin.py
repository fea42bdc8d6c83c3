"""The admin workbench: users (with their roles), teams, regions, roles and policies, API
tokens, and the audit log.

Policies are checked with ``workspace.policies.check`` (the validation the API's
``PUT /api/v1/access/policies/...`` uses) and saved with the same audit entry. Tokens are the
signed-in user's own, as ``/api/v1/auth/tokens`` lists them. The audit log is for admins and
legal counsel, as ``/api/v1/audit`` is.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from nicegui import ui

from dealcraft.access.policies import FIELD_RULES, OPERATIONS
from dealcraft.access.roles import ROLES
from dealcraft.db import system
from dealcraft.errors import DealcraftError, ValidationFailed
from dealcraft.web.fields import choice_options
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import AUDIT_READERS, allowed_or_notice, error_banner, signed_in_page
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

AUDIT_PAGE = 50
TOKEN_TTL_HOURS = 24 * 30
# The directory pages read at most this many users, teams or regions.
DIRECTORY_LIMIT = 5000
ROLE_HOLDERS_SHOWN = 30

add_strings(
    {
        "nav.teams": {"en": "Teams", "zh-CN": "团队"},
        "nav.regions": {"en": "Regions", "zh-CN": "区域"},
        "nav.roles": {"en": "Roles", "zh-CN": "角色"},
        "admin.more": {"en": "… and {count} more.", "zh-CN": "……另有 {count} 个。"},
        "users.username": {"en": "Username", "zh-CN": "用户名"},
        "users.name": {"en": "Name", "zh-CN": "姓名"},
        "users.role": {"en": "Role", "zh-CN": "角色"},
        "users.region": {"en": "Region", "zh-CN": "区域"},
        "users.team": {"en": "Team", "zh-CN": "团队"},
        "users.email": {"en": "Email", "zh-CN": "邮箱"},
        "users.active": {"en": "Active", "zh-CN": "启用"},
        "users.assign_role": {"en": "Assign role", "zh-CN": "分配角色"},
        "users.role_set": {"en": "{user} is now {role}", "zh-CN": "{user} 的角色已设为{role}"},
        "teams.title": {"en": "Teams", "zh-CN": "团队"},
        "teams.name": {"en": "Team name", "zh-CN": "团队名称"},
        "teams.region": {"en": "Region", "zh-CN": "区域"},
        "teams.lead": {"en": "Team lead", "zh-CN": "团队负责人"},
        "teams.members": {"en": "Members", "zh-CN": "成员"},
        "teams.new": {"en": "New team", "zh-CN": "新建团队"},
        "teams.edit": {"en": "Edit team “{name}”", "zh-CN": "编辑团队“{name}”"},
        "teams.save": {"en": "Save team", "zh-CN": "保存团队"},
        "teams.saved": {"en": "Team “{name}” saved", "zh-CN": "团队“{name}”已保存"},
        "regions.title": {"en": "Regions", "zh-CN": "区域"},
        "regions.name": {"en": "Region name", "zh-CN": "区域名称"},
        "regions.code": {"en": "Code", "zh-CN": "编码"},
        "regions.manager": {"en": "Manager", "zh-CN": "负责人"},
        "regions.users": {"en": "Users", "zh-CN": "用户数"},
        "regions.new": {"en": "New region", "zh-CN": "新建区域"},
        "regions.edit": {"en": "Edit region “{name}”", "zh-CN": "编辑区域“{name}”"},
        "regions.save": {"en": "Save region", "zh-CN": "保存区域"},
        "regions.saved": {"en": "Region “{name}” saved", "zh-CN": "区域“{name}”已保存"},
        "regions.hint": {
            "en": "Users count towards the region whose name matches their Region field; the "
            "values that field offers are edited in the object builder (user → region).",
            "zh-CN": "用户按“区域”字段与区域名称对应计数；该字段的可选值在对象构建器"
            "（用户 → 区域）中修改。",
        },
        "roles.title": {"en": "Roles", "zh-CN": "角色"},
        "roles.holders": {"en": "Held by {count} users", "zh-CN": "{count} 位用户拥有此角色"},
        "roles.nothing": {
            "en": "No policy grants this role anything.",
            "zh-CN": "没有策略授予此角色任何权限。",
        },
        "roles.every_row": {"en": "every row", "zh-CN": "全部记录"},
        "roles.edit_policies": {"en": "Edit the policies", "zh-CN": "编辑策略"},
    }
)


def may_read_audit(ctx: PageContext) -> bool:
    return ctx.is_admin or bool(ctx.principal.roles & AUDIT_READERS)


def _table(header: list[str], rows: list[list[Any]], testid: str, actions=None) -> None:
    """A plain table; ``actions(i)`` builds the last cell of row ``i`` when given."""
    with ui.element("div").classes("w-full overflow-x-auto"):
        with (
            ui.element("table")
            .classes("dc-table w-full text-left text-sm")
            .props(f"data-testid={testid}")
            .mark(testid)
        ):
            with ui.element("thead"), ui.element("tr"):
                for text in [*header, *([""] if actions else [])]:
                    with ui.element("th").classes("p-2 border-b"):
                        ui.label(text)
            with ui.element("tbody"):
                for i, row in enumerate(rows):
                    with ui.element("tr").classes("hover:bg-grey-2"):
                        for value in row:
                            with ui.element("td").classes("p-2 border-b align-top"):
                                ui.label("" if value is None else str(value)).classes(
                                    "whitespace-pre-wrap"
                                )
                        if actions:
                            with ui.element("td").classes("p-2 border-b"):
                                actions(i)


# Policies ------------------------------------------------------------------------------------
def parse_field_rules(text: str) -> dict[str, str]:
    """``field: rule`` lines into a mapping; a line without a colon keeps an empty rule, which
    the policy check refuses with the allowed rules."""
    rules = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, rule = line.partition(":")
        rules[name.strip()] = rule.strip()
    return rules


def save_policy(ctx: PageContext, spec: dict[str, Any]):
    """Validate and store a policy version with its audit entry, as the API does."""
    workspace = ctx.workspace
    policy = workspace.policies.save_audited(
        spec, actor_id=ctx.principal.user_id, audit=workspace.audit
    )
    logger.info(
        "policy saved from the web",
        extra={"role": policy.role, "object": policy.object_name, "version": policy.version},
    )
    return policy


def policies_page(ctx: PageContext) -> None:
    workspace = ctx.workspace
    ui.label(ctx.t("policies.title")).classes("text-h5")
    objects = sorted(workspace.registry.view().objects)

    @ui.refreshable
    def policy_table() -> None:
        found = workspace.policies.list()
        _table(
            [
                ctx.t("policies.role"),
                ctx.t("policies.object"),
                ctx.t("policies.version"),
                ctx.t("policies.operations"),
                ctx.t("policies.row_scope"),
                ctx.t("policies.field_rules"),
            ],
            [
                [
                    p.role,
                    p.object_name,
                    p.version,
                    ", ".join(sorted(p.operations)),
                    p.row_scope or "—",
                    "\n".join(f"{k}: {v}" for k, v in p.field_rules.items()),
                ]
                for p in found
            ],
            "policies",
            actions=lambda i: ui.button(icon="edit", on_click=lambda p=found[i]: load(p)).props(
                f"flat dense data-policy={found[i].role}.{found[i].object_name}"
            ),
        )

    # The editor
    with ui.card().classes("w-full").props("data-testid=policy-editor"):
        ui.label(ctx.t("policies.edit")).classes("text-subtitle1")
        with ui.row().classes("w-full gap-3"):
            role = (
                ui.select(list(ROLES), label=ctx.t("policies.role"))
                .classes("w-48")
                .props("data-testid=policy-role")
                .mark("policy-role")
            )
            object_name = (
                ui.select(["*", *objects], label=ctx.t("policies.object"))
                .classes("w-48")
                .props("data-testid=policy-object")
                .mark("policy-object")
            )
            operations = (
                ui.select(sorted(OPERATIONS), multiple=True, label=ctx.t("policies.operations"))
                .classes("min-w-64")
                .props("use-chips data-testid=policy-operations")
                .mark("policy-operations")
            )
        row_scope = (
            ui.input(ctx.t("policies.row_scope"), placeholder="owner = :user.id")
            .classes("w-full font-mono")
            .props("data-testid=policy-scope")
            .mark("policy-scope")
        )
        rules = (
            ui.textarea(
                ctx.t("policies.field_rules"),
                placeholder=ctx.t(
                    "policies.field_rules.hint", rules=", ".join(sorted(FIELD_RULES))
                ),
            )
            .classes("w-full font-mono")
            .props("data-testid=policy-rules")
            .mark("policy-rules")
        )
        errors = ui.column().classes("w-full")
        ui.button(ctx.t("policies.save"), icon="save", on_click=lambda: save()).props(
            "data-testid=save-policy"
        ).mark("save-policy")

    def load(policy) -> None:
        role.value, object_name.value = policy.role, policy.object_name
        operations.value = sorted(policy.operations)
        row_scope.value = policy.row_scope or ""
        rules.value = "\n".join(f"{k}: {v}" for k, v in policy.field_rules.items())

    def save() -> None:
        errors.clear()
        spec = {
            "role": role.value,
            "object_name": object_name.value,
            "operations": list(operations.value or []),
            "row_scope": (row_scope.value or "").strip() or None,
            "field_rules": parse_field_rules(rules.value or ""),
        }
        try:
            policy = save_policy(ctx, spec)
        except ValidationFailed as e:
            with errors, ui.card().classes("w-full bg-red-1").props("flat").mark("policy-invalid"):
                for item in e.details.get("errors", []):
                    ui.label(f"{item['field']}: {item['message']}").classes("text-negative")
            return
        except DealcraftError as e:
            with errors:
                error_banner(e, ctx.language)
            return
        ui.notify(
            ctx.t("policies.saved", role=policy.role, object=policy.object_name, v=policy.version),
            type="positive",
        )
        policy_table.refresh()

    policy_table()


# Tokens --------------------------------------------------------------------------------------
def user_tokens(ctx: PageContext) -> list[dict[str, Any]]:
    """The signed-in user's tokens, never their secret values (as the API lists them)."""
    t = system.api_tokens
    with ctx.workspace.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.name, t.c.scopes, t.c.created_at, t.c.expires_at, t.c.revoked_at)
            .where(t.c.user_id == ctx.principal.user_id)
            .order_by(t.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def _when(value: Any) -> str:
    return value.isoformat(sep=" ", timespec="minutes") if value is not None else "—"


def tokens_page(ctx: PageContext) -> None:
    ui.label(ctx.t("tokens.title")).classes("text-h5")
    shown = ui.column().classes("w-full")

    with ui.row().classes("items-center gap-2"):
        name = ui.input(ctx.t("tokens.name")).props("data-testid=token-name").mark("token-name")

        def issue() -> None:
            shown.clear()
            if not (name.value or "").strip():
                ui.notify(ctx.t("tokens.name_required"), type="warning")
                return
            token, _expires = ctx.workspace.identity.issue_token(
                ctx.principal,
                name=name.value.strip(),
                scopes=["*"],
                ttl=timedelta(hours=TOKEN_TTL_HOURS),
            )
            with shown, ui.card().classes("w-full bg-green-1").props("flat"):
                ui.label(ctx.t("tokens.shown_once"))
                ui.label(token).classes("font-mono break-all").mark("token-value")
            token_table.refresh()

        ui.button(ctx.t("tokens.issue"), icon="key", on_click=issue).props(
            "data-testid=issue-token"
        ).mark("issue-token")

    @ui.refreshable
    def token_table() -> None:
        tokens = user_tokens(ctx)
        if not tokens:
            ui.label(ctx.t("tokens.none"))
            return

        def revoke(token_id: int) -> None:
            try:
                ctx.workspace.identity.revoke_token_id(ctx.principal, token_id)
            except DealcraftError as e:
                ui.notify(e.message, type="negative")
            token_table.refresh()

        def actions(i: int) -> None:
            if tokens[i]["revoked_at"] is None:
                ui.button(
                    ctx.t("tokens.revoke"), on_click=lambda i=i: revoke(tokens[i]["id"])
                ).props(f"flat dense color=negative data-token={tokens[i]['id']}").mark(
                    f"revoke-{tokens[i]['name']}"
                )

        _table(
            [
                ctx.t("tokens.name"),
                ctx.t("tokens.scopes"),
                ctx.t("tokens.created"),
                ctx.t("tokens.expires"),
                ctx.t("tokens.revoked"),
            ],
            [
                [
                    tk["name"],
                    ", ".join(tk["scopes"] or []),
                    _when(tk["created_at"]),
                    _when(tk["expires_at"]),
                    _when(tk["revoked_at"]),
                ]
                for tk in tokens
            ],
            "tokens",
            actions,
        )

    token_table()


# Audit ---------------------------------------------------------------------------------------
def audit_page(ctx: PageContext) -> None:
    ui.label(ctx.t("audit.title")).classes("text-h5")
    before: list[int | None] = [None]

    with ui.row().classes("items-center gap-2"):
        object_name = ui.input(ctx.t("audit.object")).props("dense").mark("audit-object")
        action = ui.input(ctx.t("audit.action")).props("dense").mark("audit-action")
        record_id = ui.number(ctx.t("audit.record"), format="%d").props("dense")
        ui.button(ctx.t("list.apply"), on_click=lambda: restart()).props(
            "data-testid=audit-apply"
        ).mark("audit-apply")

    def restart() -> None:
        before[:] = [None]
        entries.refresh()

    @ui.refreshable
    def entries() -> None:
        try:
            found = ctx.workspace.audit.query(
                ctx.workspace.engine,
                object_name=(object_name.value or "").strip() or None,
                action=(action.value or "").strip() or None,
                record_id=int(record_id.value) if record_id.value is not None else None,
                limit=AUDIT_PAGE,
                before_id=before[-1],
            )
        except DealcraftError as e:
            error_banner(e, ctx.language)
            return
        if not found:
            ui.label(ctx.t("audit.none"))
        else:
            _table(
                [
                    ctx.t("audit.at"),
                    ctx.t("audit.actor"),
                    ctx.t("audit.action"),
                    ctx.t("audit.object"),
                    ctx.t("audit.record"),
                    ctx.t("audit.data"),
                ],
                [
                    [
                        _when(e["at"]),
                        e["actor_id"],
                        e["action"],
                        e["object_name"],
                        e["record_id"],
                        json.dumps(e.get("data"), ensure_ascii=False, default=str)[:300],
                    ]
                    for e in found
                ],
                "audit",
            )
        with ui.row().classes("gap-2"):

            def newer() -> None:
                before.pop()
                entries.refresh()

            def older() -> None:
                before.append(found[-1]["id"])
                entries.refresh()

            ui.button(ctx.t("list.previous"), on_click=newer).props("flat").set_enabled(
                len(before) > 1
            )
            ui.button(ctx.t("audit.older"), on_click=older).props("flat").mark(
                "audit-older"
            ).set_enabled(len(found) == AUDIT_PAGE)

    entries()


# Users, teams, regions and roles -------------------------------------------------------------
def _every(ctx: PageContext, object_name: str, **query: Any) -> list[dict[str, Any]]:
    """All records of a directory object the admin reads, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = ctx.workspace.records.list(
            ctx.principal, object_name, limit=500, cursor=cursor, **query
        )
        found.extend(page.data)
        cursor = page.next_cursor
        if cursor is None or len(found) >= DIRECTORY_LIMIT:
            return found


def _choices_of(ctx: PageContext, object_name: str, field_name: str) -> dict[str, str]:
    f = ctx.workspace.registry.view().objects[object_name].field(field_name)
    return choice_options(f, ctx.language) if f is not None else {}


def _user_label(user: dict[str, Any]) -> str:
    name = user.get("name")
    return f"{name} ({user['username']})" if name else user["username"]


def _update(ctx: PageContext, object_name: str, record_id: int, data: dict[str, Any]) -> bool:
    """One change through the record service; a refusal is shown to the admin."""
    try:
        ctx.workspace.records.update(ctx.principal, object_name, record_id, data)
    except DealcraftError as e:
        ui.notify(e.message, type="negative")
        return False
    logger.info(
        "directory record changed from the web",
        extra={"object": object_name, "record_id": record_id, "fields": sorted(data)},
    )
    return True


def users_page(ctx: PageContext) -> None:
    ui.label(ctx.t("users.title")).classes("text-h5")
    roles = _choices_of(ctx, "user", "role")
    regions = _choices_of(ctx, "user", "region")

    @ui.refreshable
    def user_table() -> None:
        users = _every(ctx, "user", sort="username")
        teams = {t["id"]: t["name"] for t in _every(ctx, "team")}

        def assign(user: dict[str, Any], role: str) -> None:
            if role == user.get("role"):
                return
            if _update(ctx, "user", user["id"], {"role": role}):
                ui.notify(
                    ctx.t("users.role_set", user=user["username"], role=roles.get(role, role)),
                    type="positive",
                )
            user_table.refresh()

        def role_cell(i: int) -> None:
            user = users[i]
            ui.select(
                roles,
                value=user.get("role"),
                label=ctx.t("users.assign_role"),
                on_change=lambda e, u=user: assign(u, e.value),
            ).props(f"dense options-dense data-testid=role-{user['username']}").classes(
                "min-w-40"
            ).mark(f"role-{user['username']}")

        _table(
            [
                ctx.t("users.username"),
                ctx.t("users.name"),
                ctx.t("users.role"),
                ctx.t("users.region"),
                ctx.t("users.team"),
                ctx.t("users.email"),
                ctx.t("users.active"),
            ],
            [
                [
                    u["username"],
                    u.get("name"),
                    roles.get(u.get("role") or "", u.get("role")),
                    regions.get(u.get("region") or "", u.get("region")),
                    teams.get(u.get("team"), ""),
                    u.get("email"),
                    "✓" if u.get("active") is not False else "✗",
                ]
                for u in users
            ],
            "users",
            role_cell,
        )

    user_table()


def _user_options(ctx: PageContext) -> dict[int, str]:
    users = _every(ctx, "user", sort="username", where="active = true")
    return {u["id"]: _user_label(u) for u in users}


def teams_page(ctx: PageContext) -> None:
    ui.label(ctx.t("teams.title")).classes("text-h5")
    regions = _choices_of(ctx, "team", "region")
    people = _user_options(ctx)
    editing: dict[str, Any] = {"id": None}

    @ui.refreshable
    def team_table() -> None:
        teams = _every(ctx, "team", sort="name")
        users = _every(ctx, "user", sort="username", where="team is not null")
        members: dict[int, list[dict[str, Any]]] = {}
        for u in users:
            members.setdefault(u["team"], []).append(u)
        _table(
            [
                ctx.t("teams.name"),
                ctx.t("teams.region"),
                ctx.t("teams.lead"),
                ctx.t("teams.members"),
            ],
            [
                [
                    t["name"],
                    regions.get(t.get("region") or "", t.get("region")),
                    people.get(t.get("lead"), "—"),
                    ", ".join(u["username"] for u in members.get(t["id"], [])),
                ]
                for t in teams
            ],
            "teams",
            actions=lambda i: (
                ui.button(
                    icon="edit", on_click=lambda t=teams[i]: load(t, members.get(t["id"], []))
                )
                .props(f"flat dense data-team={teams[i]['id']}")
                .mark(f"edit-team-{teams[i]['id']}")
            ),
        )

    # The editor: a new team, or the one chosen in the table.
    with ui.card().classes("w-full").props("data-testid=team-editor").mark("team-editor"):
        heading = ui.label(ctx.t("teams.new")).classes("text-subtitle1")
        with ui.row().classes("w-full gap-3"):
            name = ui.input(ctx.t("teams.name")).props("data-testid=team-name").mark("team-name")
            region = (
                ui.select(regions, label=ctx.t("teams.region"), clearable=True)
                .classes("w-48")
                .props("data-testid=team-region")
                .mark("team-region")
            )
            lead = (
                ui.select(people, label=ctx.t("teams.lead"), with_input=True, clearable=True)
                .classes("w-64")
                .props("data-testid=team-lead")
                .mark("team-lead")
            )
        member_select = (
            ui.select(people, label=ctx.t("teams.members"), multiple=True, with_input=True)
            .classes("w-full")
            .props("use-chips data-testid=team-members")
            .mark("team-members")
        )
        with ui.row().classes("gap-2"):
            ui.button(ctx.t("teams.save"), icon="save", on_click=lambda: save()).props(
                "data-testid=save-team"
            ).mark("save-team")
            ui.button(ctx.t("teams.new"), on_click=lambda: clear()).props("flat").mark("new-team")

    def load(team: dict[str, Any], current: list[dict[str, Any]]) -> None:
        # Inactive members are not offered, so they are left as they are.
        chosen = [u["id"] for u in current if u["id"] in people]
        editing["id"], editing["members"] = team["id"], set(chosen)
        heading.text = ctx.t("teams.edit", name=team["name"])
        name.value, region.value = team["name"], team.get("region")
        lead.value = team.get("lead") if team.get("lead") in people else None
        member_select.value = chosen

    def clear() -> None:
        editing["id"], editing["members"] = None, set()
        heading.text = ctx.t("teams.new")
        name.value, region.value, lead.value, member_select.value = "", None, None, []

    def save() -> None:
        name_text = (name.value or "").strip() or None
        data = {"name": name_text, "region": region.value, "lead": lead.value}
        try:
            if editing["id"] is None:
                team = ctx.workspace.records.create(ctx.principal, "team", data)
            else:
                team = ctx.workspace.records.update(ctx.principal, "team", editing["id"], data)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return

        # Members are users whose team is this one: move the added in, the removed out.
        wanted = set(member_select.value or [])
        before = editing.get("members") or set()
        for user_id in sorted(wanted - before):
            _update(ctx, "user", user_id, {"team": team["id"]})
        for user_id in sorted(before - wanted):
            _update(ctx, "user", user_id, {"team": None})
        logger.info("team saved from the web", extra={"record_id": team["id"]})
        ui.notify(ctx.t("teams.saved", name=team["name"]), type="positive")
        clear()
        team_table.refresh()

    team_table()


def regions_page(ctx: PageContext) -> None:
    ui.label(ctx.t("regions.title")).classes("text-h5")
    people = _user_options(ctx)
    editing: dict[str, Any] = {"id": None}

    @ui.refreshable
    def region_table() -> None:
        found = _every(ctx, "region", sort="name")
        users = _every(ctx, "user", where="region is not null")
        counts: dict[str, int] = {}
        for u in users:
            counts[u["region"]] = counts.get(u["region"], 0) + 1
        _table(
            [
                ctx.t("regions.name"),
                ctx.t("regions.code"),
                ctx.t("regions.manager"),
                ctx.t("regions.users"),
            ],
            [
                [
                    r["name"],
                    r.get("code"),
                    people.get(r.get("manager"), "—"),
                    counts.get(r["name"], 0),
                ]
                for r in found
            ],
            "regions",
            actions=lambda i: (
                ui.button(icon="edit", on_click=lambda r=found[i]: load(r))
                .props(f"flat dense data-region={found[i]['id']}")
                .mark(f"edit-region-{found[i]['id']}")
            ),
        )

    with ui.card().classes("w-full").props("data-testid=region-editor").mark("region-editor"):
        heading = ui.label(ctx.t("regions.new")).classes("text-subtitle1")
        with ui.row().classes("w-full gap-3"):
            name = (
                ui.input(ctx.t("regions.name")).props("data-testid=region-name").mark("region-name")
            )
            code = (
                ui.input(ctx.t("regions.code")).props("data-testid=region-code").mark("region-code")
            )
            manager = (
                ui.select(people, label=ctx.t("regions.manager"), with_input=True, clearable=True)
                .classes("w-64")
                .props("data-testid=region-manager")
                .mark("region-manager")
            )
        with ui.row().classes("gap-2"):
            ui.button(ctx.t("regions.save"), icon="save", on_click=lambda: save()).props(
                "data-testid=save-region"
            ).mark("save-region")
            ui.button(ctx.t("regions.new"), on_click=lambda: clear()).props("flat")
        ui.label(ctx.t("regions.hint")).classes("text-grey-7 text-sm")

    def load(found: dict[str, Any]) -> None:
        editing["id"] = found["id"]
        heading.text = ctx.t("regions.edit", name=found["name"])
        name.value, code.value = found["name"], found.get("code")
        manager.value = found.get("manager") if found.get("manager") in people else None

    def clear() -> None:
        editing["id"] = None
        heading.text = ctx.t("regions.new")
        name.value, code.value, manager.value = "", "", None

    def save() -> None:
        data = {
            "name": (name.value or "").strip() or None,
            "code": (code.value or "").strip() or None,
            "manager": manager.value,
        }
        try:
            if editing["id"] is None:
                saved = ctx.workspace.records.create(ctx.principal, "region", data)
            else:
                saved = ctx.workspace.records.update(ctx.principal, "region", editing["id"], data)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
            return
        logger.info("region saved from the web", extra={"record_id": saved["id"]})
        ui.notify(ctx.t("regions.saved", name=saved["name"]), type="positive")
        clear()
        region_table.refresh()

    region_table()


def roles_page(ctx: PageContext) -> None:
    """Each built-in role: what its policies let it do, and who holds it."""
    ui.label(ctx.t("roles.title")).classes("text-h5")
    labels = _choices_of(ctx, "user", "role")
    holders: dict[str, list[dict[str, Any]]] = {}
    for u in _every(ctx, "user", sort="username"):
        holders.setdefault(u.get("role") or "", []).append(u)
    policies = ctx.workspace.policies.list()
    ui.link(ctx.t("roles.edit_policies"), "/admin/policies")

    for role in ROLES:
        granted = [p for p in policies if p.role == role]
        with ui.card().classes("w-full").props(f"data-testid=role-{role}").mark(f"role-{role}"):
            with ui.row().classes("items-baseline gap-2"):
                ui.label(labels.get(role, role)).classes("text-subtitle1")
                ui.label(role).classes("text-grey-7 font-mono text-sm")
            people = holders.get(role, [])
            ui.label(ctx.t("roles.holders", count=len(people))).classes("text-sm text-grey-8")
            with ui.row().classes("gap-1 flex-wrap"):
                for u in people[:ROLE_HOLDERS_SHOWN]:
                    ui.link(_user_label(u), f"/o/user/{u['id']}").classes("text-sm")
                if len(people) > ROLE_HOLDERS_SHOWN:
                    ui.label(ctx.t("admin.more", count=len(people) - ROLE_HOLDERS_SHOWN))
            if not granted:
                ui.label(ctx.t("roles.nothing")).classes("text-grey-6")
                continue
            _table(
                [
                    ctx.t("policies.object"),
                    ctx.t("policies.operations"),
                    ctx.t("policies.row_scope"),
                    ctx.t("policies.field_rules"),
                ],
                [
                    [
                        p.object_name,
                        ", ".join(sorted(p.operations)),
                        p.row_scope or ctx.t("roles.every_row"),
                        "\n".join(f"{k}: {v}" for k, v in p.field_rules.items()),
                    ]
                    for p in granted
                ],
                f"policies-{role}",
            )


def register(workspace: Workspace) -> None:
    def admins_only(build, allowed=lambda ctx: ctx.is_admin):
        def page(ctx: PageContext) -> None:
            if allowed_or_notice(ctx, allowed(ctx), "admin.refused"):
                build(ctx)

        return page

    signed_in_page(workspace, "/me/tokens", "tokens.title")(tokens_page)
    signed_in_page(workspace, "/admin/policies", "policies.title")(admins_only(policies_page))
    signed_in_page(workspace, "/admin/audit", "audit.title")(
        admins_only(audit_page, allowed=may_read_audit)
    )
    for path, title_key, build in (
        ("/admin/users", "users.title", users_page),
        ("/admin/teams", "teams.title", teams_page),
        ("/admin/regions", "regions.title", regions_page),
        ("/admin/roles", "roles.title", roles_page),
    ):
        signed_in_page(workspace, path, title_key)(admins_only(build))
