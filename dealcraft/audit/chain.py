"""How an audit entry is sealed: canonical JSON, SHA-256, and the link to the previous entry.

An entry's ``hash`` covers its header (shard, seq, prev_hash, at, category, action) and a
``body_hash``, which covers the content (actor_id, object_name, record_id, purpose, data).
Two levels let retention drop the content of an old entry while its header, and so the
chain through it, stays checkable.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

# The prev_hash of the first entry in every shard, and the hash of an empty shard's head.
GENESIS = "0" * 64
VERSION = 1


def canonical(value: Any) -> bytes:
    """The one byte string a JSON value hashes as: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def format_at(at: datetime) -> str:
    return at.isoformat(sep=" ", timespec="microseconds")


def body_hash(
    actor_id: int | None,
    object_name: str | None,
    record_id: int | None,
    purpose: str | None,
    data: Any,
) -> str:
    return sha256(
        {
            "actor_id": actor_id,
            "object_name": object_name,
            "record_id": record_id,
            "purpose": purpose,
            "data": data,
        }
    )


def entry_hash(
    shard: int,
    seq: int,
    prev_hash: str,
    at: datetime,
    category: str,
    action: str,
    body: str,
) -> str:
    return sha256(
        {
            "v": VERSION,
            "shard": shard,
            "seq": seq,
            "prev_hash": prev_hash,
            "at": format_at(at),
            "category": category,
            "action": action,
            "body": body,
        }
    )


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON, so what is hashed is exactly what the database gives back.

    Dates and times become ISO strings, decimals exact strings, sets sorted lists, bytes
    base64, and non-finite floats strings; anything else unknown becomes ``str(value)``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=lambda v: canonical(v))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)
