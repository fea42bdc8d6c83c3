"""Watermarked, traceable exports.

Every export is registered (who, when, filter, purpose, rows, the file's hash) and its file
carries a visible notice and an invisible fingerprint: each data row's first text cell ends
with the export's number and a keyed checksum written in zero-width characters. The marks
survive a spreadsheet re-saving the file, a conversion between CSV and XLSX, re-sorting and
cutting the file down, because every row carries the whole mark. If the marks were
stripped, ``trace`` falls back to matching the file's record ids against registered exports.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dealcraft.db.system import exports
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)


ZERO, ONE, FRAME = "\u200b", "\u200c", "\u2060"
INVISIBLE = frozenset({ZERO, ONE, FRAME, "\u200d", "\ufeff"})
ID_BITS, CHECK_BITS = 32, 16


def strip_marks(text: str) -> str:
    """Remove fingerprint characters, so a re-imported export stores clean values."""
    return "".join(c for c in text if c not in INVISIBLE)


def _checksum(secret: str, export_id: int) -> int:
    digest = hmac.new(secret.encode(), str(export_id).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:2], "big")


def mark(secret: str, export_id: int) -> str:
    """The invisible mark of an export: framed bits of its id and a keyed checksum."""
    value = (export_id << CHECK_BITS) | _checksum(secret, export_id)
    bits = format(value, f"0{ID_BITS + CHECK_BITS}b")
    return FRAME + "".join(ONE if b == "1" else ZERO for b in bits) + FRAME


def read_marks(secret: str, text: str) -> list[int]:
    """Export ids whose valid marks appear in ``text``."""
    found = []
    parts = text.split(FRAME)
    for part in parts[1::2]:
        if len(part) != ID_BITS + CHECK_BITS or set(part) - {ZERO, ONE}:
            continue
        value = int("".join("1" if c == ONE else "0" for c in part), 2)
        export_id, check = value >> CHECK_BITS, value & ((1 << CHECK_BITS) - 1)
        if _checksum(secret, export_id) == check:
            found.append(export_id)
    return found


def notice(username: str, export_id: int, when: str, language: str = "zh-CN") -> str:
    return (
        f"# 机密：本文件由 {username} 于 {when} 导出（导出编号 {export_id}），仅限内部使用，"
        f"禁止外传。 Confidential: exported by {username} at {when} (export {export_id}); "
        "internal use only."
    )


@dataclass
class ExportTicket:
    id: int
    username: str
    mark: str
    notice: str


class ExportRegistry:
    def __init__(self, engine: Engine, secret: str) -> None:
        self.engine = engine
        self.secret = secret

    def open(
        self,
        conn: sa.Connection,
        *,
        user_id: int | None,
        username: str,
        object_name: str,
        where: str | None,
        purpose: str | None,
        format: str,
    ) -> ExportTicket:
        now = utcnow()
        export_id = conn.execute(
            exports.insert().values(
                user_id=user_id,
                username=username,
                object_name=object_name,
                where=where,
                purpose=purpose,
                format=format,
                created_at=now,
            )
        ).inserted_primary_key[0]
        when = now.strftime("%Y-%m-%d %H:%M UTC")
        return ExportTicket(
            export_id, username, mark(self.secret, export_id), notice(username, export_id, when)
        )

    def close(
        self, conn: sa.Connection, ticket: ExportTicket, path: Path, record_ids: list[int]
    ) -> str:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        conn.execute(
            exports.update()
            .where(exports.c.id == ticket.id)
            .values(row_count=len(record_ids), sha256=digest, record_ids=record_ids)
        )
        return digest

    def trace(self, headers: list[str], rows: Iterable[list[Any]]) -> dict[str, Any]:
        """Name the export (and exporter) a file came from."""
        votes: dict[int, int] = {}
        ids: set[int] = set()
        id_column = headers.index("id") if "id" in headers else None
        total = 0
        for row in rows:
            total += 1
            for cell in row:
                if isinstance(cell, str) and FRAME in cell:
                    for export_id in set(read_marks(self.secret, cell)):
                        votes[export_id] = votes.get(export_id, 0) + 1
            if id_column is not None and id_column < len(row):
                try:
                    ids.add(int(float(str(row[id_column]).strip())))
                except ValueError:
                    pass
        with self.engine.connect() as conn:
            if votes:
                best = max(votes, key=lambda k: votes[k])
                entry = (
                    conn.execute(sa.select(exports).where(exports.c.id == best)).mappings().first()
                )
                if entry is not None:
                    return _traced(entry, "fingerprint", votes[best], total)
            if ids:
                candidates = (
                    conn.execute(sa.select(exports).order_by(exports.c.id.desc()).limit(5000))
                    .mappings()
                    .all()
                )
                scored = []
                for entry in candidates:
                    exported = set(entry["record_ids"] or [])
                    if exported and ids <= exported:
                        scored.append((len(exported), -entry["id"], entry))
                if scored:
                    # The smallest export containing every id is the most specific match.
                    entry = sorted(scored, key=lambda s: (s[0], s[1]))[0][2]
                    return _traced(entry, "record ids", len(ids), total)
        return {"found": False, "rows": total}


def _traced(entry: Any, method: str, matched: int, total: int) -> dict[str, Any]:
    return {
        "found": True,
        "method": method,
        "matched_rows": matched,
        "rows": total,
        "export_id": entry["id"],
        "username": entry["username"],
        "user_id": entry["user_id"],
        "object": entry["object_name"],
        "where": entry["where"],
        "purpose": entry["purpose"],
        "format": entry["format"],
        "row_count": entry["row_count"],
        "sha256": entry["sha256"],
        "exported_at": entry["created_at"].isoformat() + "Z",
    }
