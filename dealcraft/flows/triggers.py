"""The built-in trigger types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dealcraft.events.outbox import EVENT_NAME, OutboxEvent
from dealcraft.flows import templates
from dealcraft.flows.registry import CheckContext, Spec, TriggerType, register_trigger
from dealcraft.schema.types import handler_for

_OBJECT = Spec("object", required=True, help="the object whose records start the flow")


def _check_values(mapping: Any, location: str, ctx: CheckContext) -> None:
    """Field names of ``changed_to``/``changed`` exist on the object; values fit the type."""
    if ctx.object_name is None or not isinstance(mapping, Mapping | list):
        return
    obj = ctx.view.objects[ctx.object_name]
    names = mapping if isinstance(mapping, list) else list(mapping)
    for name in names:
        f = obj.field(name)
        if f is None:
            ctx.error(
                f"{location}.{name}", "unknown_field", f"{obj.name} has no field {name!r}", name
            )
            continue
        if isinstance(mapping, Mapping):
            check_field_value(f, mapping[name], f"{location}.{name}", ctx)


def check_field_value(f: Any, value: Any, location: str, ctx: CheckContext) -> None:
    """A literal value must be one the field accepts (templates are checked when they run)."""
    if templates.is_template(value):
        templates.check(value, location, ctx)
        return
    if not handler_for(f.type).stored:
        ctx.error(location, "read_only_field", f"{f.name} is computed and cannot be set")
        return
    try:
        handler_for(f.type).write(f, {f.name: value})
    except Exception as e:  # a FieldError from the field type, stating its rule
        message = getattr(e, "message", str(e))
        ctx.error(location, getattr(e, "code", "invalid_value"), message, value)


class _RecordTrigger(TriggerType):
    event_type = ""

    def matches(self, trigger: Mapping[str, Any], event: OutboxEvent) -> bool:
        return event.event_type == self.event_type and event.object_name == trigger["object"]


@register_trigger
class RecordCreated(_RecordTrigger):
    type = "record.created"
    event_type = "record.created"
    label = "A record is created"
    fields = {"object": _OBJECT}


@register_trigger
class RecordUpdated(_RecordTrigger):
    """``changed``: any of these fields changed; ``changed_to``: each field changed to a value."""

    type = "record.updated"
    event_type = "record.updated"
    label = "A record is changed"
    fields = {"object": _OBJECT, "changed": Spec("list"), "changed_to": Spec("mapping")}

    def check(self, trigger: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        _check_values(trigger.get("changed"), f"{location}.changed", ctx)
        _check_values(trigger.get("changed_to"), f"{location}.changed_to", ctx)

    def matches(self, trigger: Mapping[str, Any], event: OutboxEvent) -> bool:
        if not super().matches(trigger, event):
            return False
        changes = event.payload.get("changes") or {}
        changed = trigger.get("changed")
        if changed and not any(name in changes for name in changed):
            return False
        for name, wanted in (trigger.get("changed_to") or {}).items():
            if name not in changes or not _same(changes[name][1], wanted):
                return False
        return True


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, int | float) and isinstance(wanted, int | float):
        return float(actual) == float(wanted)
    return actual == wanted


@register_trigger
class RecordDeleted(_RecordTrigger):
    type = "record.deleted"
    event_type = "record.deleted"
    label = "A record is deleted"
    fields = {"object": _OBJECT}


@register_trigger
class NamedEvent(TriggerType):
    """A named event from ``dealcraft.events.publish`` (metrics, segments, the assistant)."""

    type = "event"
    label = "A named event is raised"
    fields = {"name": Spec("event", required=True), "object": Spec("object")}

    def check(self, trigger: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        name = trigger.get("name")
        if isinstance(name, str) and (not EVENT_NAME.match(name) or name.startswith("record.")):
            ctx.error(
                f"{location}.name",
                "invalid_event_name",
                f"an event name is dotted lowercase words such as 'segment.entered' (not "
                f"record.*), got {name!r}",
                name,
            )

    def matches(self, trigger: Mapping[str, Any], event: OutboxEvent) -> bool:
        if event.event_type != trigger["name"]:
            return False
        return trigger.get("object") in (None, event.object_name)


@register_trigger
class Manual(TriggerType):
    """A button on a record (or ``dealcraft flow run``)."""

    type = "manual"
    label = "Started by hand"
    fields = {"object": Spec("object")}


@register_trigger
class Schedule(TriggerType):
    """A five-field cron expression in UTC: minute hour day-of-month month day-of-week."""

    type = "schedule"
    label = "On a schedule"
    fields = {"cron": Spec("text", required=True)}

    def object_name(self, trigger: Mapping[str, Any]) -> str | None:
        return None

    def check(self, trigger: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        cron = trigger.get("cron")
        if isinstance(cron, str):
            try:
                Cron(cron)
            except ValueError as e:
                ctx.error(f"{location}.cron", "invalid_cron", str(e), cron)


@register_trigger
class DateReached(TriggerType):
    """A date field is reached: ``offset_days: -3`` starts a run three days before it."""

    type = "date"
    label = "A date is reached"
    fields = {"object": _OBJECT, "field": Spec("field", required=True), "offset_days": Spec("int")}

    def check(self, trigger: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        if ctx.object_name is None or not isinstance(trigger.get("field"), str):
            return
        f = ctx.view.objects[ctx.object_name].field(trigger["field"])
        if f is None:
            ctx.error(
                f"{location}.field",
                "unknown_field",
                f"{ctx.object_name} has no field {trigger['field']!r}",
                trigger["field"],
            )
        elif f.type != "date":
            ctx.error(
                f"{location}.field",
                "wrong_field_type",
                f"{f.name} is a {f.type} field; a date trigger needs a date field",
                f.name,
            )


@register_trigger
class InboundWebhook(TriggerType):
    """POST /api/v1/flows/{name}/webhook, signed with the flow's secret (see docs/flows.md)."""

    type = "webhook"
    label = "An inbound webhook"
    fields = {"object": Spec("object")}


class Cron:
    """A parsed cron expression; ``matches`` tells whether a minute is one of its ticks."""

    RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
    NAMES = ("minute", "hour", "day of month", "month", "day of week")

    def __init__(self, text: str) -> None:
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(
                f"a cron expression has 5 fields (minute hour day month weekday), got {text!r}"
            )
        self.sets = [
            self._field(p, lo, hi, name)
            for p, (lo, hi), name in zip(parts, self.RANGES, self.NAMES, strict=True)
        ]

    @staticmethod
    def _field(part: str, lo: int, hi: int, name: str) -> frozenset[int]:
        values: set[int] = set()
        for item in part.split(","):
            step = 1
            if "/" in item:
                item, step_text = item.split("/", 1)
                if not step_text.isdigit() or int(step_text) == 0:
                    raise ValueError(f"bad step {step_text!r} in the {name} field")
                step = int(step_text)
            if item == "*":
                start, end = lo, hi
            elif "-" in item:
                a, b = item.split("-", 1)
                if not (a.isdigit() and b.isdigit()):
                    raise ValueError(f"bad range {item!r} in the {name} field")
                start, end = int(a), int(b)
            elif item.isdigit():
                start = end = int(item)
            else:
                raise ValueError(f"bad value {item!r} in the {name} field")
            if name == "day of week" and end == 7:
                end = 6 if start != 7 else 0
                start = 0 if start == 7 else start
                values.add(0)
            if start < lo or end > hi or start > end:
                raise ValueError(f"{item!r} is outside {lo}-{hi} in the {name} field")
            values.update(range(start, end + 1, step))
        return frozenset(values)

    def matches(self, when: dt.datetime) -> bool:
        minute, hour, day, month, weekday = self.sets
        return (
            when.minute in minute
            and when.hour in hour
            and when.day in day
            and when.month in month
            and (when.isoweekday() % 7) in weekday
        )
