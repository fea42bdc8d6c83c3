"""Sort specifications and keyset cursors.

Sorting puts NULL after every value (NULLS LAST ascending, NULLS FIRST descending) on every
backend, so a cursor means the same thing on SQLite and PostgreSQL. A cursor carries the
last row's sort values and id; the next page starts strictly after that row.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from dealcraft.errors import InvalidInput


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool


def parse_sort(text: str | None) -> list[SortKey]:
    if not text:
        return []
    keys = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        keys.append(SortKey(part.lstrip("-+"), descending))
    return keys


def order_clauses(columns: list[tuple[SortKey, Any]]) -> list[Any]:
    clauses = []
    for key, column in columns:
        clauses.append(column.desc().nulls_first() if key.descending else column.asc().nulls_last())
    return clauses


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        raise ValueError("bad cursor value")
    return value


def encode_cursor(sort: str, values: list[Any], last_id: int) -> str:
    payload = {"s": sort, "v": [_encode_value(v) for v in values], "id": last_id}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, n_keys: int) -> tuple[list[Any], int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = [_decode_value(v) for v in payload["v"]]
        last_id = int(payload["id"])
        same_sort = payload["s"] == sort
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInput(
            "the cursor is not one this API issued",
            code="invalid_cursor",
            details={"field": "cursor"},
        ) from e
    if not same_sort or len(values) != n_keys:
        raise InvalidInput(
            "the cursor belongs to a different sort order; start again without a cursor",
            code="invalid_cursor",
            details={"field": "cursor"},
        )
    return values, last_id


def after_condition(
    columns: list[tuple[SortKey, Any]], values: list[Any], last_id: int, id_column: Any
) -> Any:
    """Rows strictly after (values, last_id) in the order built by ``order_clauses``."""
    terms = []
    equal_so_far: list[Any] = []
    for (key, column), value in zip(columns, values, strict=True):
        if value is None:
            # NULL is the largest value: nothing non-null comes after it ascending.
            after = column.is_not(None) if key.descending else sa.false()
            same = column.is_(None)
        else:
            bound = (
                sa.literal(value, type_=column.type)
                if not isinstance(column.type, sa.types.NullType)
                else sa.literal(value)
            )
            after = (column < bound) if key.descending else sa.or_(column > bound, column.is_(None))
            same = column == bound
        terms.append(sa.and_(*equal_so_far, after))
        equal_so_far.append(same)
    terms.append(sa.and_(*equal_so_far, id_column > last_id))
    return sa.or_(*terms)
