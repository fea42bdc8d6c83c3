"""Flow conditions: checked against the schema on save, evaluated in memory on one record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from dealcraft import expr
from dealcraft.flows.registry import CheckContext
from dealcraft.schema.registry import SchemaView

Fetch = Callable[[str, Any], Mapping[str, Any] | None]


def check_condition(source: Any, location: str, ctx: CheckContext, object_name: str | None):
    """Refuse an expression that does not parse, names an unknown field or is not a condition."""
    if not isinstance(source, str):
        return None
    if object_name is None:
        ctx.error(location, "no_record", "a condition needs a trigger that is about a record")
        return None
    try:
        checked = expr.check(source, ctx.view, object_name, _sample_params())
    except expr.ExprError as e:
        details = e.to_details()
        where = f" at position {details['position']}" if "position" in details else ""
        ctx.error(location, e.code, f"{e.message}{where}", details.get("token"))
        return None
    if checked.type not in (expr.ExprType.BOOLEAN, expr.ExprType.NULL):
        ctx.error(
            location,
            "expr_type_mismatch",
            f"a condition must be true or false, not a {checked.type.name.lower()}: {source!r}",
        )
        return None
    return checked


def _sample_params() -> dict[str, Any]:
    # The parameters a run provides: the service principal's, plus ``:today``.
    return {
        "user": {"id": 0, "username": "", "region": "", "teams": [], "reports": []},
        "today": dt.date(2000, 1, 1),
    }


def typed_record(view: SchemaView, object_name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the API returns it (JSON), with dates and times back as Python values."""
    typed = dict(record)
    obj = view.objects.get(object_name)
    if obj is None:
        return typed
    for f in obj.fields:
        value = typed.get(f.name)
        if not isinstance(value, str):
            continue
        try:
            if f.type == "date":
                typed[f.name] = dt.date.fromisoformat(value)
            elif f.type == "datetime":
                typed[f.name] = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(
                    tzinfo=None
                )
        except ValueError:
            pass
    return typed


def evaluate_condition(
    view: SchemaView,
    object_name: str,
    source: str,
    record: Mapping[str, Any],
    params: Mapping[str, Any],
    fetch: Fetch | None,
) -> bool:
    checked = expr.check(source, view, object_name, params)

    def typed_fetch(target: str, record_id: Any) -> Mapping[str, Any] | None:
        found = fetch(target, record_id) if fetch else None
        return typed_record(view, target, found) if found is not None else None

    value = expr.evaluate(
        checked, typed_record(view, object_name, record), params=params, fetch=typed_fetch
    )
    return value is True
