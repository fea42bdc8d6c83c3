"""Placeholders in step fields: ``{{record.name}}``, ``{{steps.deck.file_id}}``, ``{{run.id}}``.

Only dotted look-ups into the run's context; there is no code in a template. A field that is
one placeholder and nothing else keeps the value's type (a number stays a number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dealcraft.flows.registry import CheckContext
from dealcraft.schema.model import SYSTEM_COLUMNS

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*)\s*\}\}")
ROOTS = ("record", "trigger", "steps", "run", "flow", "now", "today")


def lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with its placeholders filled; mappings and lists are rendered throughout."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return lookup(context, whole.group(1))
        return PLACEHOLDER.sub(lambda m: _text(lookup(context, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


def check(value: Any, location: str, ctx: CheckContext) -> None:
    """Every placeholder must start at a known root; ``record.x`` must be a field of the
    trigger's object and ``steps.x`` a step of this flow."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            check(v, f"{location}.{k}", ctx)
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            check(v, f"{location}[{i}]", ctx)
        return
    if not isinstance(value, str):
        return
    for match in PLACEHOLDER.finditer(value):
        path = match.group(1)
        parts = path.split(".")
        root = parts[0]
        if root not in ROOTS:
            ctx.error(
                location,
                "unknown_placeholder",
                f"{{{{{path}}}}} starts with {root!r}; placeholders start with " + ", ".join(ROOTS),
                path,
            )
        elif root == "record":
            if ctx.object_name is None:
                ctx.error(
                    location,
                    "no_record",
                    f"{{{{{path}}}}} refers to a record, but this flow's trigger has none",
                    path,
                )
            elif len(parts) > 1:
                keys = ctx.view.json_keys(ctx.object_name)
                if parts[1] not in keys and parts[1] not in SYSTEM_COLUMNS:
                    ctx.error(
                        location,
                        "unknown_field",
                        f"{ctx.object_name} has no field {parts[1]!r} (in {{{{{path}}}}})",
                        parts[1],
                    )
        elif root == "steps" and len(parts) > 1 and parts[1] not in ctx.step_ids:
            ctx.error(
                location, "unknown_step", f"no step {parts[1]!r} (in {{{{{path}}}}})", parts[1]
            )
