"""The in-app inbox: messages for one user, written by the flows' notify step (``dc_inbox``).

A user only ever reads and marks their own messages (``principal.user_id``); a message of
someone else's does not exist for them (404, as for records). Service principals (the
system, the flows' service account acting without a user id) have no inbox.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dealcraft.access.principal import Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import InvalidInput, NotFound
from dealcraft.flows.tables import inbox
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)

MAX_MESSAGES = 200


def _message(row: Any) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value is not None else None

    return {
        "id": row.id,
        "title": row.title,
        "body": row.body,
        "object_name": row.object_name,
        "record_id": row.record_id,
        "flow_run_id": row.flow_run_id,
        "created_at": stamp(row.created_at),
        "read_at": stamp(row.read_at),
    }


def _not_found(message_id: int) -> NotFound:
    return NotFound(
        f"no inbox message with id {message_id}",
        code="inbox_message_not_found",
        details={"id": message_id},
    )


class Inbox:
    """Reading and marking the signed-in user's messages."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def messages(
        self,
        principal: Principal,
        *,
        unread_only: bool = False,
        unread_first: bool = False,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The principal's messages, newest first (unread ones first with ``unread_first``)."""
        if not 1 <= limit <= MAX_MESSAGES:
            raise InvalidInput(
                f"limit must be between 1 and {MAX_MESSAGES}, got {limit}",
                code="invalid_limit",
                details={"field": "limit", "value": limit},
            )
        if principal.user_id is None:
            return []
        query = sa.select(inbox).where(inbox.c.user_id == principal.user_id)
        if unread_only:
            query = query.where(inbox.c.read_at.is_(None))
        order = [inbox.c.created_at.desc(), inbox.c.id.desc()]
        if unread_first:
            order.insert(0, sa.case((inbox.c.read_at.is_(None), 0), else_=1))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit)).all()
        return [_message(r) for r in rows]

    def unread_count(self, principal: Principal) -> int:
        """How many of the principal's messages are unread: one indexed query."""
        if principal.user_id is None:
            return 0
        query = (
            sa.select(sa.func.count())
            .select_from(inbox)
            .where(inbox.c.user_id == principal.user_id, inbox.c.read_at.is_(None))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def mark_read(self, principal: Principal, message_id: int) -> dict[str, Any]:
        """Mark one of the principal's messages read (already read ones keep their time)."""
        if principal.user_id is None:
            raise _not_found(message_id)
        mine = sa.and_(inbox.c.id == message_id, inbox.c.user_id == principal.user_id)
        with write_transaction(self.engine) as conn:
            conn.execute(
                inbox.update().where(mine, inbox.c.read_at.is_(None)).values(read_at=utcnow())
            )
            row = conn.execute(sa.select(inbox).where(mine)).first()
        if row is None:
            raise _not_found(message_id)
        return _message(row)

    def mark_all_read(self, principal: Principal) -> int:
        """Mark every unread message of the principal read; returns how many were marked."""
        if principal.user_id is None:
            return 0
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                inbox.update()
                .where(inbox.c.user_id == principal.user_id, inbox.c.read_at.is_(None))
                .values(read_at=utcnow())
            )
        logger.info("inbox read", extra={"user_id": principal.user_id, "marked": result.rowcount})
        return int(result.rowcount or 0)

    def post(
        self,
        user_id: int,
        title: str,
        body: str | None = None,
        *,
        object_name: str | None = None,
        record_id: int | None = None,
    ) -> int:
        """Leave a message for a user (the notify step writes its own, with an effect key)."""
        with write_transaction(self.engine) as conn:
            return int(
                conn.execute(
                    inbox.insert().values(
                        user_id=user_id,
                        title=title[:255],
                        body=body,
                        object_name=object_name,
                        record_id=record_id,
                        created_at=utcnow(),
                    )
                ).inserted_primary_key[0]
            )
