"""Outbound channels: e-mail over SMTP, signed webhooks, and the WeCom, DingTalk and Feishu
group robots with their own message formats and signing schemes.

Every ``send`` takes an idempotency key. E-mail carries it as the Message-ID, webhooks as
``X-Dealcraft-Delivery`` and ``Idempotency-Key``, so a receiver recognises a message that a
retry sent again. The robots have no such header; their key travels in the message only
as a trace (a robot shows a repeated message twice, which the effect ledger makes rare).

Failures are classified: ``ChannelError(transient=True)`` for network errors, timeouts, 429
and 5xx answers and SMTP 4xx replies; ``transient=False`` for everything retrying cannot fix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    def __init__(self, message: str, *, transient: bool, code: str = "channel_failed") -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code


@dataclass
class HttpAnswer:
    status: int
    body: str


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
    """POST and classify the answer; 2xx returns, anything else raises ChannelError."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpAnswer(response.status, response.read(65536).decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        transient = e.code == 429 or e.code >= 500
        raise ChannelError(
            f"{url} answered {e.code} {e.reason}", transient=transient, code=f"http_{e.code}"
        ) from e
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ChannelError(f"could not reach {url}: {reason}", transient=True) from e


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: what receivers verify."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None
) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not given:
        return False
    if abs((now or time.time()) - int(timestamp)) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


class Channel:
    """One way of sending a message. ``fields`` are the notify step's fields it uses."""

    name: ClassVar[str]
    fields: ClassVar[dict[str, tuple[str, bool]]] = {}  # field -> (kind, required)

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        raise NotImplementedError


CHANNELS: dict[str, Channel] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    if cls.name in CHANNELS:
        raise ValueError(f"channel {cls.name!r} is registered already")
    CHANNELS[cls.name] = cls()
    return cls


@register_channel
class Email(Channel):
    name = "email"
    fields = {"to": ("template", True), "subject": ("template", True), "text": ("template", True)}

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        to = message["to"]
        recipients = [a.strip() for a in (to if isinstance(to, list) else str(to).split(","))]
        recipients = [a for a in recipients if a]
        if not recipients or any("@" not in a for a in recipients):
            raise ChannelError(
                f"not an e-mail address: {to!r}", transient=False, code="bad_address"
            )
        mail = EmailMessage()
        mail["From"] = settings.smtp_from
        mail["To"] = ", ".join(recipients)
        mail["Subject"] = str(message["subject"])
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{key}@dealcraft>"
        mail.set_content(str(message["text"]))
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
            ) as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPResponseException as e:
            raise ChannelError(
                f"the mail server refused the message: {e.smtp_code} {e.smtp_error!r}",
                transient=400 <= e.smtp_code < 500,
                code=f"smtp_{e.smtp_code}",
            ) from e
        except smtplib.SMTPRecipientsRefused as e:
            raise ChannelError(
                f"the mail server refused every recipient: {sorted(e.recipients)}",
                transient=False,
                code="smtp_recipients_refused",
            ) from e
        except (smtplib.SMTPException, OSError) as e:
            raise ChannelError(f"could not send e-mail: {e}", transient=True) from e
        return {"message_id": mail["Message-ID"], "refused": sorted(refused)}


@register_channel
class Webhook(Channel):
    """A JSON POST signed with HMAC-SHA256 (``X-Dealcraft-Signature``)."""

    name = "webhook"
    fields = {"url": ("template", True), "body": ("any", False), "secret": ("text", False)}

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        body = json.dumps(message.get("body") or {}, ensure_ascii=False, default=str).encode()
        headers = {"X-Dealcraft-Delivery": key, "Idempotency-Key": key}
        if message.get("secret"):
            headers["X-Dealcraft-Signature"] = webhook_signature(
                message["secret"], str(int(time.time())), body
            )
        answer = post_json(str(message["url"]), body, headers, settings.http_timeout)
        return {"status": answer.status}


def _robot_answer(answer: HttpAnswer, ok_codes: tuple[str, ...], channel: str) -> dict[str, Any]:
    """The robots answer 200 with an error code in the body; 0 means sent."""
    try:
        data = json.loads(answer.body or "{}")
    except ValueError:
        data = {}
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    if str(code) not in ok_codes:
        # Rate limits are worth retrying; a bad key, signature or message is not.
        limited = str(code) in ("45009", "130101", "9499", "11232")
        raise ChannelError(
            f"the {channel} robot refused the message: {code} "
            f"{data.get('errmsg') or data.get('msg')}",
            transient=limited,
            code=f"{channel}_{code}",
        )
    return {"status": answer.status, "code": code}


@register_channel
class WeCom(Channel):
    """企业微信群机器人: ``url`` is the robot's webhook (``...webhook/send?key=...``)."""

    name = "wecom"
    fields = {"url": ("template", True), "text": ("template", True), "title": ("template", False)}

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        content = str(message["text"])
        if message.get("title"):
            content = f"### {message['title']}\n{content}"
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        answer = post_json(
            str(message["url"]),
            json.dumps(body, ensure_ascii=False).encode(),
            {},
            settings.http_timeout,
        )
        return _robot_answer(answer, ("0",), "wecom")


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")), URL-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(mac.digest()).decode())


@register_channel
class DingTalk(Channel):
    """钉钉群机器人: ``url`` has the access_token; with ``secret`` the request is signed."""

    name = "dingtalk"
    fields = {
        "url": ("template", True),
        "text": ("template", True),
        "title": ("template", False),
        "secret": ("text", False),
    }

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        url = str(message["url"])
        if message.get("secret"):
            timestamp = str(int(time.time() * 1000))
            sign = dingtalk_sign(message["secret"], timestamp)
            url += ("&" if "?" in url else "?") + f"timestamp={timestamp}&sign={sign}"
        title = str(message.get("title") or "Dealcraft")
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": str(message["text"])}}
        answer = post_json(
            url, json.dumps(body, ensure_ascii=False).encode(), {}, settings.http_timeout
        )
        return _robot_answer(answer, ("0",), "dingtalk")


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu: base64(HMAC-SHA256(key="<timestamp>\\n<secret>", message=empty))."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@register_channel
class Feishu(Channel):
    """飞书群机器人: the signature travels in the body (``timestamp``, ``sign``)."""

    name = "feishu"
    fields = {
        "url": ("template", True),
        "text": ("template", True),
        "title": ("template", False),
        "secret": ("text", False),
    }

    def send(self, message: Mapping[str, Any], key: str, settings: Any) -> dict[str, Any]:
        text = str(message["text"])
        if message.get("title"):
            text = f"{message['title']}\n{text}"
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if message.get("secret"):
            timestamp = str(int(time.time()))
            body["timestamp"] = timestamp
            body["sign"] = feishu_sign(message["secret"], timestamp)
        answer = post_json(
            str(message["url"]),
            json.dumps(body, ensure_ascii=False).encode(),
            {},
            settings.http_timeout,
        )
        return _robot_answer(answer, ("0",), "feishu")
