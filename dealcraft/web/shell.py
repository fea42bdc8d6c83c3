"""The shell around every page: header with search and language, the navigation rail,
sign-in and sign-out, and the error pages."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from dealcraft.access.policies import PolicyEngine, PolicySet
from dealcraft.errors import DealcraftError, NotFound, Unauthorized
from dealcraft.inbox import Inbox
from dealcraft.schema.model import ObjectDef
from dealcraft.web.fields import record_title, title_field
from dealcraft.web.i18n import LANGUAGES, add_strings, t
from dealcraft.web.session import PageContext, current_language, page_context, sign_in, sign_out
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

# A page body: builds inside the frame, given the page context and the path/query values.
PageBuilder = Callable[..., None]

# Objects that belong to the organisation rather than to selling; listed last in the rail.
ORGANISATION_OBJECTS = ("user", "team", "region")
SEARCH_PER_OBJECT = 5
# Who may read the audit trail, as the API's ``/api/v1/audit`` decides.
AUDIT_READERS = frozenset({"admin", "legal_counsel"})

add_strings(
    {
        "inbox.bell": {"en": "Inbox: {count} unread", "zh-CN": "收件箱：{count} 条未读"},
    }
)


class _OneSnapshot:
    """A policy store that answers from one snapshot, so a page's checks cost one read."""

    def __init__(self, snapshot: PolicySet) -> None:
        self._snapshot = snapshot

    def snapshot(self) -> PolicySet:
        return self._snapshot


def page_policy(ctx: PageContext) -> PolicyEngine:
    """The access policy as of one snapshot, for the many checks a page makes at once."""
    return PolicyEngine(_OneSnapshot(ctx.workspace.policies.snapshot()))  # type: ignore[arg-type]


def readable_objects(ctx: PageContext, policy: PolicyEngine | None = None) -> list[ObjectDef]:
    """The installed objects the principal may read, selling objects first.

    Every object is checked against one policy snapshot (the rail checks them all on every
    page; asking the store each time would re-read the policy version per object).
    """
    view = ctx.workspace.registry.view()
    policy = policy or page_policy(ctx)
    objects = []
    for obj in view.objects.values():
        try:
            policy.check_operation(ctx.principal, obj, "read")
        except DealcraftError:
            continue
        objects.append(obj)
    return sorted(objects, key=lambda o: (o.name in ORGANISATION_OBJECTS, o.label(ctx.language)))


def require_context(workspace: Workspace, request: Request) -> PageContext | None:
    """The page's context, or None for an anonymous visitor (answer with ``to_login``)."""
    return page_context(workspace, request)


def signed_in_page(
    workspace: Workspace, path: str, title: str | Callable[..., str]
) -> Callable[[PageBuilder], PageBuilder]:
    """Register ``build(ctx, **params)`` as the page at ``path`` for signed-in users.

    An anonymous visitor is sent to sign in and back; otherwise the page builds inside
    ``frame``, titled by the string key ``title`` or by ``title(ctx, **params)``. The path
    and query parameters are those of ``build`` after ``ctx``, typed as NiceGUI and FastAPI
    read them.
    """

    def decorate(build: PageBuilder) -> PageBuilder:
        signature = inspect.signature(build)
        params = list(signature.parameters.values())[1:]

        def page(request: Request, **values: Any) -> RedirectResponse | None:
            ctx = require_context(workspace, request)
            if ctx is None:
                return to_login(request)
            heading = ctx.t(title) if isinstance(title, str) else title(ctx, **values)
            with frame(ctx, heading):
                build(ctx, **values)
            return None

        request_param = inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
        )
        page.__signature__ = signature.replace(parameters=[request_param, *params])  # type: ignore[attr-defined]
        page.__name__ = build.__name__
        page.__doc__ = build.__doc__
        ui.page(path)(page)
        return build

    return decorate


def allowed_or_notice(ctx: PageContext, allowed: bool, message_key: str) -> bool:
    """``allowed``, after telling anyone who is not why the page stays empty."""
    if not allowed:
        ui.label(ctx.t(message_key)).props("data-testid=admin-only").mark("admin-only")
    return allowed


def to_login(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}")


def _set_language(language: str) -> None:
    app.storage.user["language"] = language
    ui.navigate.reload()


@contextmanager
def frame(ctx: PageContext, title: str, objects: list[ObjectDef] | None = None) -> Iterator[None]:
    """Header, navigation rail and a content column; the page builds inside it.

    ``objects`` are the page's ``readable_objects(ctx)`` when it has worked them out already.
    """
    ui.page_title(f"{title} · Dealcraft")
    with ui.header().classes("items-center gap-3 bg-primary"):
        ui.button(icon="menu", on_click=lambda: drawer.toggle()).props("flat color=white dense")
        ui.link(t("app.name", ctx.language), "/").classes("text-white text-lg no-underline")
        ui.space()
        search = (
            ui.input(placeholder=t("search.placeholder", ctx.language))
            .props('dense dark standout="bg-white text-black" clearable data-testid=search')
            .mark("search")
            .classes("w-64")
        )
        search.on(
            "keydown.enter",
            lambda: ui.navigate.to(f"/search?q={quote(search.value or '')}"),
        )
        ui.select(LANGUAGES, value=ctx.language, on_change=lambda e: _set_language(e.value)).props(
            "dense dark borderless options-dense data-testid=language"
        ).mark("language").classes("w-24")
        _inbox_bell(ctx)
        ui.label(ctx.user.get("name") or ctx.user["username"]).classes("text-white")
        ui.button(t("logout", ctx.language), on_click=_logout).props(
            "flat color=white dense data-testid=logout"
        ).mark("logout")
    with ui.left_drawer().classes("bg-grey-1").props("width=220 breakpoint=700") as drawer:
        _navigation(ctx, objects)
    with ui.column().classes("w-full max-w-screen-xl mx-auto p-2 gap-3"):
        yield


def _nav_link(text: str, target: str, icon: str) -> None:
    with ui.link(target=target).classes("no-underline text-black w-full"):
        with ui.row().classes("items-center gap-2 py-1 px-2 rounded hover:bg-grey-3 w-full"):
            ui.icon(icon).classes("text-grey-7")
            ui.label(text)


def _inbox_bell(ctx: PageContext) -> None:
    """The bell with the unread count (one indexed count query per page)."""
    unread = Inbox(ctx.workspace.engine).unread_count(ctx.principal)
    with (
        ui.button(icon="notifications", on_click=lambda: ui.navigate.to("/inbox"))
        .props("flat round dense color=white data-testid=inbox-bell")
        .mark("inbox-bell")
        .tooltip(ctx.t("inbox.bell", count=unread))
    ):
        if unread:
            ui.badge(str(unread), color="red").props("floating data-testid=inbox-unread").mark(
                "inbox-unread"
            )


def _navigation(ctx: PageContext, objects: list[ObjectDef] | None = None) -> None:
    _nav_link(ctx.t("nav.home"), "/", "today")
    if ctx.is_manager:
        _nav_link(ctx.t("nav.team"), "/team", "insights")
    _nav_link(ctx.t("nav.kanban"), "/kanban/opportunity", "view_kanban")
    ui.separator()
    ui.label(ctx.t("nav.objects")).classes("text-xs text-grey-7 px-2 pt-2")
    for obj in objects if objects is not None else readable_objects(ctx):
        _nav_link(obj.label(ctx.language), f"/o/{obj.name}", "folder_open")
    if ctx.is_admin:
        ui.separator()
        _nav_link(ctx.t("nav.builder"), "/admin/objects", "construction")
        _nav_link(ctx.t("nav.users"), "/admin/users", "group")
        _nav_link(ctx.t("nav.teams"), "/admin/teams", "groups")
        _nav_link(ctx.t("nav.regions"), "/admin/regions", "map")
        _nav_link(ctx.t("nav.roles"), "/admin/roles", "badge")
        _nav_link(ctx.t("nav.policies"), "/admin/policies", "policy")
        _nav_link(ctx.t("nav.flows"), "/flows", "account_tree")
    if ctx.is_admin or ctx.principal.roles & AUDIT_READERS:
        _nav_link(ctx.t("nav.audit"), "/admin/audit", "history_edu")
    ui.separator()
    _nav_link(ctx.t("nav.tokens"), "/me/tokens", "key")


def _logout() -> None:
    sign_out()
    ui.navigate.to("/login")


def not_found(ctx: PageContext | None, language: str = "en") -> None:
    """The page for a missing record or one the principal may not see (the same page)."""
    language = ctx.language if ctx else language
    with (
        ui.column()
        .classes("items-center w-full p-8 gap-2")
        .props("data-testid=not-found")
        .mark("not-found")
    ):
        ui.icon("search_off").classes("text-6xl text-grey-6")
        ui.label(t("error.not_found", language)).classes("text-h5")
        ui.label(t("error.not_found.text", language))
        ui.link(t("error.back_home", language), "/")


def error_banner(error: DealcraftError, language: str) -> None:
    with (
        ui.card().classes("w-full bg-red-1").props("flat bordered data-testid=error").mark("error")
    ):
        ui.label(error.message).classes("text-negative")


def register(workspace: Workspace) -> None:
    @ui.page("/login")
    def login_page(request: Request, next: str = "/"):  # noqa: A002 - a query name
        language = current_language(request)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        ui.page_title(t("login.title", language) + " · Dealcraft")

        def submit() -> None:
            try:
                sign_in(workspace, username.value.strip(), password.value)
            except Unauthorized:
                failure.text = t("login.failed", language)
                failure.set_visibility(True)
                return
            ui.navigate.to(target)

        with ui.card().classes("absolute-center w-80"):
            ui.label(t("app.name", language)).classes("text-h5")
            ui.label(t("login.title", language)).classes("text-grey-7")
            username = ui.input(t("login.username", language)).classes("w-full")
            username.props("data-testid=username autofocus").mark("username")
            password = ui.input(t("login.password", language), password=True).classes("w-full")
            password.props("data-testid=password").mark("password")
            password.on("keydown.enter", submit)
            failure = ui.label("").classes("text-negative")
            failure.set_visibility(False)
            ui.button(t("login.submit", language), on_click=submit).classes("w-full").props(
                "data-testid=login"
            ).mark("login")
            with ui.row().classes("gap-2"):
                for code, name in LANGUAGES.items():
                    ui.button(name, on_click=lambda c=code: _set_language(c)).props(
                        "flat dense size=sm"
                    )

    @ui.page("/search")
    def search_page(request: Request, q: str = ""):
        ctx = require_context(workspace, request)
        if ctx is None:
            return to_login(request)
        query = q.strip()
        with frame(ctx, ctx.t("search.title", q=query)):
            ui.label(ctx.t("search.title", q=query)).classes("text-h6")
            found = 0
            if query:
                for obj in readable_objects(ctx):
                    name = title_field(obj)
                    if name is None:
                        continue
                    # "like" has no escape clause: a % or _ typed by the user is a wildcard.
                    try:
                        page = workspace.records.list(
                            ctx.principal,
                            obj.name,
                            where=f"{name} like :q",
                            params={"q": f"%{query}%"},
                            limit=SEARCH_PER_OBJECT,
                        )
                    except DealcraftError as e:
                        logger.debug("search skipped %s: %s", obj.name, e.code)
                        continue
                    if not page.data:
                        continue
                    found += len(page.data)
                    ui.label(obj.label(ctx.language)).classes("text-subtitle1 text-grey-8")
                    for record in page.data:
                        ui.link(record_title(obj, record), f"/o/{obj.name}/{record['id']}")
            if not found:
                ui.label(ctx.t("search.none", q=query))

    @app.on_page_exception
    def error_page(exception: Exception) -> None:
        if isinstance(exception, NotFound):
            not_found(None)
            return
        logger.error("web page failed", exc_info=exception)
        with (
            ui.column()
            .classes("items-center w-full p-8 gap-2")
            .props("data-testid=error-page")
            .mark("error-page")
        ):
            ui.icon("error_outline").classes("text-6xl text-negative")
            ui.label(t("error.unexpected", "en") + " / " + t("error.unexpected", "zh-CN"))
            ui.label(t("error.unexpected.text", "en"))
            ui.label(t("error.unexpected.text", "zh-CN"))
            ui.link(t("error.back_home", "en"), "/")
