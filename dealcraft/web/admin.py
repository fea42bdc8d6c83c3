"""The admin workbench beyond users: roles and policies, API tokens, and the audit log.

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
from fastapi import Request
from nicegui import ui

from dealcraft.access.policies import FIELD_RULES, OPERATIONS
from dealcraft.access.roles import ROLES
from dealcraft.db import system
from dealcraft.errors import DealcraftError, ValidationFailed
from dealcraft.web.session import PageContext
from dealcraft.web.shell import AUDIT_READERS, error_banner, frame, require_context, to_login
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

AUDIT_PAGE = 50
TOKEN_TTL_HOURS = 24 * 30


def may_read_audit(ctx: PageContext) -> bool:
    return ctx.is_admin or bool(ctx.principal.roles & AUDIT_READERS)


def _refused(ctx: PageContext) -> None:
    ui.label(ctx.t("admin.refused")).props("data-testid=admin-only").mark("admin-only")


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


def register(workspace: Workspace) -> None:
    @ui.page("/admin/policies")
    def policies(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("policies.title")):
            if not ctx.is_admin:
                _refused(ctx)
                return
            policies_page(ctx)

    @ui.page("/me/tokens")
    def tokens(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("tokens.title")):
            tokens_page(ctx)

    @ui.page("/admin/audit")
    def audit(request: Request):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        with frame(ctx, ctx.t("audit.title")):
            if not may_read_audit(ctx):
                _refused(ctx)
                return
            audit_page(ctx)
