"""The inbox page: my messages from flows, unread first, each linking to its record."""

from __future__ import annotations

import logging

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.inbox import Inbox
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext
from dealcraft.web.shell import signed_in_page
from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

PAGE_MESSAGES = 100

add_strings(
    {
        "inbox.title": {"en": "Inbox", "zh-CN": "收件箱"},
        "inbox.empty": {"en": "No messages.", "zh-CN": "暂无消息。"},
        "inbox.unread": {"en": "{count} unread", "zh-CN": "{count} 条未读"},
        "inbox.mark_read": {"en": "Mark read", "zh-CN": "标为已读"},
        "inbox.mark_all_read": {"en": "Mark all read", "zh-CN": "全部标为已读"},
        "inbox.open": {"en": "Open the record", "zh-CN": "打开记录"},
        "inbox.marked": {
            "en": "{count} messages marked read",
            "zh-CN": "已将 {count} 条消息标为已读",
        },
    }
)


def inbox_page(ctx: PageContext) -> None:
    box = Inbox(ctx.workspace.engine)

    @ui.refreshable
    def messages() -> None:
        found = box.messages(ctx.principal, unread_first=True, limit=PAGE_MESSAGES)
        unread = sum(1 for m in found if m["read_at"] is None)
        with ui.row().classes("w-full items-center"):
            ui.label(ctx.t("inbox.title")).classes("text-h5")
            ui.label(ctx.t("inbox.unread", count=unread)).classes("text-grey-7").props(
                "data-testid=inbox-count"
            ).mark("inbox-count")
            ui.space()
            ui.button(ctx.t("inbox.mark_all_read"), icon="done_all", on_click=read_all).props(
                "flat data-testid=mark-all-read"
            ).mark("mark-all-read").set_enabled(unread > 0)
        if not found:
            ui.label(ctx.t("inbox.empty")).props("data-testid=inbox-empty").mark("inbox-empty")
            return
        with ui.column().classes("w-full gap-2").props("data-testid=inbox").mark("inbox"):
            for message in found:
                card(message)

    def card(message: dict) -> None:
        unread = message["read_at"] is None
        with (
            ui.card()
            .classes("w-full" + (" bg-blue-1" if unread else ""))
            .props(f"flat bordered data-message={message['id']}")
            .mark(f"message-{message['id']}")
        ):
            with ui.row().classes("w-full items-center gap-2"):
                if unread:
                    ui.icon("fiber_manual_record", color="primary").classes("text-xs")
                ui.label(message["title"]).classes("text-weight-bold" if unread else "")
                ui.space()
                ui.label(message["created_at"].replace("T", " ").removesuffix("Z")[:16]).classes(
                    "text-grey-7 text-xs"
                )
            if message["body"]:
                ui.label(message["body"]).classes("whitespace-pre-wrap")
            with ui.row().classes("gap-2"):
                if message["object_name"] and message["record_id"] is not None:
                    target = f"/o/{message['object_name']}/{message['record_id']}"
                    ui.link(ctx.t("inbox.open"), target).props(
                        f"data-testid=open-{message['id']}"
                    ).mark(f"open-{message['id']}")
                if unread:
                    ui.button(
                        ctx.t("inbox.mark_read"), on_click=lambda m=message: read(m["id"])
                    ).props(f"flat dense data-testid=read-{message['id']}").mark(
                        f"read-{message['id']}"
                    )

    def read(message_id: int) -> None:
        try:
            box.mark_read(ctx.principal, message_id)
        except DealcraftError as e:
            ui.notify(e.message, type="negative")
        messages.refresh()

    def read_all() -> None:
        count = box.mark_all_read(ctx.principal)
        ui.notify(ctx.t("inbox.marked", count=count), type="positive")
        messages.refresh()

    messages()


def register(workspace: Workspace) -> None:
    signed_in_page(workspace, "/inbox", "inbox.title")(inbox_page)
