"""Masking: show enough of a value to recognise it, never enough to use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def mask_phone(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(value)
    # 13812341234 -> 138****1234, keeping the first three and last four digits.
    return "".join(digits[:3]) + "****" + "".join(digits[-4:])


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_text(value: str) -> str:
    if len(value) <= 1:
        return "*"
    return value[:1] + "*" * min(len(value) - 1, 8)


MASKERS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "email": mask_email,
}


def mask_value(field_type: str, value: Any) -> Any:
    """The masked form of a stored JSON value; numbers and dates become None."""
    if value is None:
        return None
    if isinstance(value, str):
        return MASKERS.get(field_type, mask_text)(value)
    if isinstance(value, list):
        return ["*" for _ in value]
    return None
