"""Parameter values and the clock, resolved the same way for SQL and for memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .check import is_missing, lookup_parameter
from .errors import ExprError


def utc_now(now: dt.datetime | None) -> dt.datetime:
    """Naive UTC, the storage convention for date-times."""
    if now is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return normalise(now)


def normalise(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, list | tuple | set | frozenset):
        return [normalise(item) for item in value]
    return value


def parameter_value(params: Mapping[str, Any] | None, name: str, source: str) -> Any:
    value = lookup_parameter(params, name)
    if is_missing(value) or isinstance(value, Mapping):
        raise ExprError(
            "expr_unknown_parameter",
            f'parameter ":{name}" was checked but no value was given for it',
            token=f":{name}",
            source=source,
        )
    return normalise(value)
