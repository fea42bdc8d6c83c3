"""Who is using the page: the signed-in user, re-derived on every page from the session.

The browser session (``app.storage.user``, a signed cookie plus server-side storage) holds
only the user id and the chosen language. Each page builds a fresh principal from the user
record, so a changed role or a deactivated user takes effect on the next page load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request
from nicegui import app

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.errors import NotFound
from dealcraft.web.i18n import LANGUAGES, language_from_header, t
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

MANAGER_ROLES = frozenset({"regional_manager", "sales_director", "admin"})


@dataclass
class PageContext:
    """What every page needs: the workspace, the principal and the language."""

    workspace: Workspace
    principal: Principal
    user: dict
    language: str

    def t(self, key: str, **values) -> str:
        return t(key, self.language, **values)

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def is_manager(self) -> bool:
        return bool(self.principal.roles & MANAGER_ROLES)


def current_language(request: Request | None) -> str:
    chosen = app.storage.user.get("language")
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("accept-language") if request is not None else None
    return language_from_header(header)


def sign_in(workspace: Workspace, username: str, password: str) -> Principal:
    """Check the password and remember the user in the browser session."""
    principal = workspace.identity.authenticate(username, password)
    app.storage.user["user_id"] = principal.user_id
    logger.info("web sign-in", extra={"user_id": principal.user_id})
    return principal


def sign_out() -> None:
    app.storage.user.pop("user_id", None)


def page_context(workspace: Workspace, request: Request | None) -> PageContext | None:
    """The signed-in user's context, or None when nobody (or a deactivated user) is signed in."""
    user_id = app.storage.user.get("user_id")
    if user_id is None:
        return None
    try:
        # Reading one's own user record is how identities are resolved (as for API tokens).
        user = workspace.records.get(SYSTEM, "user", int(user_id))
    except NotFound:
        sign_out()
        return None
    if user.get("active") is False:
        sign_out()
        return None
    language = current_language(request)
    principal = workspace.identity.principal_for_user(user, language)
    return PageContext(workspace, principal, user, language)
