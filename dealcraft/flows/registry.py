"""Step and trigger types: one registered handler per type.

A plugin adds a step type exactly as the built-in ones do::

    from dealcraft.flows.registry import StepType, Spec, register_step

    @register_step
    class SendFax(StepType):
        type = "send_fax"
        fields = {"number": Spec("template", required=True)}

        def run(self, ctx):
            ctx.effect("fax", "fax", {"to": ctx.render(ctx.config["number"])}, send)
            return StepResult({})
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dealcraft.errors import FieldError

if TYPE_CHECKING:
    from dealcraft.events.outbox import OutboxEvent
    from dealcraft.flows.runner import StepContext
    from dealcraft.schema.registry import SchemaView

DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
END = "end"


def parse_duration(text: Any) -> dt.timedelta | None:
    """``30s``, ``15m``, ``24h``, ``3d``, ``2w``; a bare number is seconds."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return dt.timedelta(seconds=float(text)) if text >= 0 else None
    if not isinstance(text, str):
        return None
    match = DURATION.match(text.strip())
    if not match:
        return None
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


# What a field of a step or trigger holds. ``template`` is text that may contain
# ``{{record.name}}`` placeholders; ``expression`` is a condition in the expression language.
KINDS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "template": (str,),
    "expression": (str,),
    "object": (str,),
    "field": (str,),
    "step": (str,),
    "event": (str,),
    "user": (str, int),
    "duration": (str, int, float),
    "int": (int,),
    "number": (int, float),
    "bool": (bool,),
    "mapping": (dict,),
    "list": (list,),
    "any": (object,),
}


@dataclass(frozen=True)
class Spec:
    kind: str
    required: bool = False
    choices: tuple[str, ...] | None = None
    help: str = ""


@dataclass
class CheckContext:
    """What a definition is checked against; errors are collected, not raised one by one."""

    view: SchemaView
    object_name: str | None
    step_ids: frozenset[str]
    user_exists: Callable[[str], bool]
    errors: list[FieldError] = field(default_factory=list)

    def error(self, location: str, code: str, message: str, value: Any = None) -> None:
        self.errors.append(FieldError(location, code, message, value))


def check_fields(
    config: Mapping[str, Any],
    specs: Mapping[str, Spec],
    location: str,
    ctx: CheckContext,
    reserved: frozenset[str] = frozenset(),
) -> None:
    """Unknown fields, missing required ones, wrong types and bad choices, each located."""
    for key in config:
        if key not in specs and key not in reserved:
            known = ", ".join(sorted(specs)) or "none"
            ctx.error(
                f"{location}.{key}", "unknown_field", f"unknown field {key!r} (known: {known})", key
            )
    for name, spec in specs.items():
        where = f"{location}.{name}"
        if name not in config or config[name] is None:
            if spec.required:
                ctx.error(where, "required", f"{name} is required")
            continue
        value = config[name]
        allowed = KINDS[spec.kind]
        wrong = not isinstance(value, allowed) or (
            spec.kind in ("int", "number") and isinstance(value, bool)
        )
        if wrong:
            ctx.error(
                where,
                "wrong_type",
                f"{name} must be {_kind_text(spec.kind)}, got {type(value).__name__}",
            )
            continue
        if spec.choices is not None and value not in spec.choices:
            ctx.error(
                where,
                "invalid_choice",
                f"{name} must be one of {', '.join(spec.choices)}, got {value!r}",
                value,
            )
        if spec.kind == "duration" and parse_duration(value) is None:
            ctx.error(
                where,
                "invalid_duration",
                f"{name} must be a duration like 30s, 15m, 24h or 3d, got {value!r}",
                value,
            )
        if spec.kind == "object" and value not in ctx.view.objects:
            ctx.error(where, "unknown_object", f"no object named {value!r}", value)
        if spec.kind == "step" and value != END and value not in ctx.step_ids:
            ctx.error(where, "unknown_step", f"no step with id {value!r}", value)
        if spec.kind == "user" and isinstance(value, str) and not value.startswith("{{"):
            if not ctx.user_exists(value):
                ctx.error(where, "unknown_user", f"no user named {value!r}", value)


def _kind_text(kind: str) -> str:
    return {
        "int": "a whole number",
        "number": "a number",
        "bool": "true or false",
        "mapping": "a mapping of names to values",
        "list": "a list",
        "duration": "a duration such as 3d",
        "user": "a username",
    }.get(kind, "text")


@dataclass
class Wait:
    """A step asks to pause: until a time, until a named event arrives, or both (timeout)."""

    until: dt.datetime | None = None
    event: str | None = None
    key: str | None = None


@dataclass
class StepResult:
    output: dict[str, Any] = field(default_factory=dict)
    # The next step's id, "end", or None for the step's default successor.
    next: str | None = None
    wait: Wait | None = None


class StepType:
    """One kind of step. ``fields`` describe its configuration; ``run`` does its work.

    ``run`` may be called again for the same visit after a crash or a retry: every side
    effect must go through ``ctx.effect`` so that it happens once.
    """

    type: ClassVar[str]
    fields: ClassVar[dict[str, Spec]] = {}
    # A step that can pause a run breaks a cycle: a loop through it cannot spin forever.
    pauses: ClassVar[bool] = False
    label: ClassVar[str] = ""

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        """Checks beyond the field specs (expressions, record fields); add errors to ctx."""

    def branches(self, step: Mapping[str, Any]) -> list[str]:
        """Step ids this step may jump to besides its default successor."""
        return []

    def falls_through(self, step: Mapping[str, Any]) -> bool:
        """Whether the default successor is reachable (False when every path branches)."""
        return True

    def run(self, ctx: StepContext) -> StepResult:
        raise NotImplementedError


class TriggerType:
    """One kind of trigger: what starts a run, and which record (if any) it is about."""

    type: ClassVar[str]
    fields: ClassVar[dict[str, Spec]] = {}
    label: ClassVar[str] = ""

    def object_name(self, trigger: Mapping[str, Any]) -> str | None:
        return trigger.get("object")

    def check(self, trigger: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        """Checks beyond the field specs."""

    def matches(self, trigger: Mapping[str, Any], event: OutboxEvent) -> bool:
        """Whether an outbox event starts a run (only event-driven triggers say yes)."""
        return False


STEP_TYPES: dict[str, StepType] = {}
TRIGGER_TYPES: dict[str, TriggerType] = {}


def register_step(cls: type[StepType]) -> type[StepType]:
    if cls.type in STEP_TYPES:
        raise ValueError(f"step type {cls.type!r} is registered already")
    STEP_TYPES[cls.type] = cls()
    return cls


def register_trigger(cls: type[TriggerType]) -> type[TriggerType]:
    if cls.type in TRIGGER_TYPES:
        raise ValueError(f"trigger type {cls.type!r} is registered already")
    TRIGGER_TYPES[cls.type] = cls()
    return cls


def load_builtins() -> None:
    """Import the built-in step and trigger modules (they register themselves)."""
    import dealcraft.flows.steps  # noqa: F401
    import dealcraft.flows.triggers  # noqa: F401
