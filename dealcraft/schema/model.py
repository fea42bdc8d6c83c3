"""Objects and fields as metadata: the definitions every table, form and filter derives from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Columns every record table has; no field may take these names.
SYSTEM_COLUMNS = ("id", "version", "created_at", "updated_at", "created_by", "updated_by")
RESERVED_NAMES = frozenset(SYSTEM_COLUMNS) | {"deleted_at", "deleted", "cursor", "where", "sort"}

LANGUAGES = ("en", "zh-CN")


def normalise_labels(value: Any, fallback: str) -> dict[str, str]:
    """Accept a plain string or ``{"en": ..., "zh-CN": ...}`` and return the mapping."""
    if value is None or value == "":
        return {"en": fallback.replace("_", " ").capitalize()}
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items() if v}
    raise ValueError("a label is a string or an object of language -> string")


def pick_label(labels: dict[str, str], language: str | None, fallback: str) -> str:
    if language and language in labels:
        return labels[language]
    if language and language.startswith("zh") and "zh-CN" in labels:
        return labels["zh-CN"]
    return labels.get("en") or next(iter(labels.values()), fallback)


@dataclass(frozen=True)
class FieldDef:
    object_name: str
    name: str
    type: str
    labels: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    required: bool = False
    position: int = 0
    archived_at: datetime | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def label(self, language: str | None = None) -> str:
        return pick_label(self.labels, language, self.name)


@dataclass(frozen=True)
class ObjectDef:
    name: str
    labels: dict[str, str]
    table_name: str
    fields: tuple[FieldDef, ...]
    description: str | None = None
    app: str | None = None
    title_field: str | None = None

    def label(self, language: str | None = None) -> str:
        return pick_label(self.labels, language, self.name)

    @cached_property
    def active_fields(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if not f.archived)

    def field(self, name: str, *, include_archived: bool = False) -> FieldDef | None:
        for f in self.fields:
            if f.name == name and (include_archived or not f.archived):
                return f
        return None
