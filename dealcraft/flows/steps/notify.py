"""Notify: the in-app inbox, e-mail, WeCom, DingTalk, Feishu; and a generic signed webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dealcraft.connectors.channels import CHANNELS, ChannelError
from dealcraft.db.tx import write_transaction
from dealcraft.flows import templates
from dealcraft.flows.effects import Attempt
from dealcraft.flows.errors import PermanentStepError, TransientStepError
from dealcraft.flows.registry import CheckContext, Spec, StepResult, StepType, register_step
from dealcraft.flows.tables import inbox
from dealcraft.schema.service import utcnow

INBOX_FIELDS = {
    "user": ("template", True),
    "title": ("template", True),
    "text": ("template", False),
}


def _channel_fields(channel: str) -> dict[str, tuple[str, bool]]:
    if channel == "inbox":
        return INBOX_FIELDS
    return CHANNELS[channel].fields


def send_once(ctx: Any, name: str, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    """Send ``message`` on ``channel`` once for this step visit (keyed in the ledger)."""

    def perform(attempt: Attempt) -> dict[str, Any]:
        if channel == "inbox":
            return _to_inbox(ctx, message, attempt.key)
        try:
            return CHANNELS[channel].send(message, attempt.key, ctx.settings)
        except ChannelError as e:
            error = TransientStepError if e.transient else PermanentStepError
            raise error(e.message, code=e.code) from e

    # Secrets stay out of the ledger and the run history.
    request = {"channel": channel, **{k: v for k, v in message.items() if k != "secret"}}
    return ctx.effect(name, f"notify.{channel}", request, perform)


def _to_inbox(ctx: Any, message: Mapping[str, Any], key: str) -> dict[str, Any]:
    user = message["user"]
    if isinstance(user, str) and not user.isdigit():
        found = ctx.workspace.identity.find_user(user)
        if found is None:
            raise PermanentStepError(f"no user named {user!r}", code="unknown_user")
        user = found["id"]
    if user in (None, ""):
        raise PermanentStepError("the inbox message has no recipient", code="no_recipient")
    with write_transaction(ctx.workspace.engine) as conn:
        existing = conn.execute(sa.select(inbox.c.id).where(inbox.c.effect_key == key)).scalar()
        if existing is None:
            existing = conn.execute(
                inbox.insert().values(
                    user_id=int(user),
                    title=str(message["title"])[:255],
                    body=message.get("text"),
                    object_name=ctx.object_name,
                    record_id=ctx.record_id,
                    flow_run_id=ctx.run_id,
                    effect_key=key,
                    created_at=utcnow(),
                )
            ).inserted_primary_key[0]
    return {"inbox_id": existing, "user_id": int(user)}


@register_step
class Notify(StepType):
    """Send a message on one ``channel``: inbox, email, wecom, dingtalk, feishu or webhook."""

    type = "notify"
    label = "Notify"
    fields = {
        "channel": Spec("text", required=True),
        "to": Spec("template"),
        "user": Spec("template"),
        "subject": Spec("template"),
        "title": Spec("template"),
        "text": Spec("template"),
        "url": Spec("template"),
        "body": Spec("any"),
        "secret": Spec("text"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        channel = step.get("channel")
        known = ["inbox", *sorted(CHANNELS)]
        if channel not in known:
            ctx.error(
                f"{location}.channel",
                "unknown_channel",
                f"unknown channel {channel!r} (known: {', '.join(known)})",
                channel if isinstance(channel, str) else None,
            )
            return
        used = _channel_fields(channel)
        for name in self.fields:
            if name == "channel":
                continue
            if name in used and used[name][1] and step.get(name) in (None, ""):
                ctx.error(f"{location}.{name}", "required", f"{name} is required for {channel}")
            if name not in used and step.get(name) is not None:
                ctx.error(
                    f"{location}.{name}",
                    "unused_field",
                    f"{name} is not used by the {channel} channel (it uses "
                    f"{', '.join(sorted(used))})",
                )
            templates.check(step.get(name), f"{location}.{name}", ctx)

    def run(self, ctx: Any) -> StepResult:
        channel = ctx.config["channel"]
        message = {
            name: ctx.render(ctx.config[name])
            for name in _channel_fields(channel)
            if ctx.config.get(name) is not None
        }
        return StepResult(send_once(ctx, "send", channel, message))


@register_step
class CallWebhook(StepType):
    """POST JSON ``body`` to ``url``, signed with ``secret`` (HMAC-SHA256) when given."""

    type = "webhook"
    label = "Call a webhook"
    fields = {
        "url": Spec("template", required=True),
        "body": Spec("any"),
        "secret": Spec("text"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        for name in ("url", "body"):
            templates.check(step.get(name), f"{location}.{name}", ctx)

    def run(self, ctx: Any) -> StepResult:
        message = {
            "url": ctx.render(ctx.config["url"]),
            "body": ctx.render(ctx.config.get("body") or {}),
            "secret": ctx.config.get("secret"),
        }
        return StepResult(send_once(ctx, "post", "webhook", message))
