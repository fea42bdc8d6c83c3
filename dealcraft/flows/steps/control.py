"""Control steps: condition, branch, wait."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dealcraft.flows import templates
from dealcraft.flows.conditions import check_condition, evaluate_condition
from dealcraft.flows.errors import PermanentStepError
from dealcraft.flows.registry import (
    END,
    CheckContext,
    Spec,
    StepResult,
    StepType,
    Wait,
    check_fields,
    parse_duration,
    register_step,
)


def holds(ctx: Any, source: str) -> bool:
    """A condition on the run's record, evaluated in memory as the service principal."""
    if ctx.record is None or ctx.object_name is None:
        raise PermanentStepError(
            "the condition needs the run's record, which is missing or not visible to the "
            "flow's service account",
            code="record_unavailable",
        )
    view = ctx.workspace.registry.view()
    params = {**ctx.principal.expression_params(), "today": ctx.now.date()}

    def fetch(object_name: str, record_id: Any) -> Mapping[str, Any] | None:
        try:
            return ctx.workspace.records.get(ctx.principal, object_name, int(record_id))
        except Exception:  # not found or not visible reads as NULL, as in SQL
            return None

    return evaluate_condition(view, ctx.object_name, source, ctx.record, params, fetch)


@register_step
class Condition(StepType):
    """``if`` holds → ``then`` (default: the next step); otherwise ``else`` (default: end)."""

    type = "condition"
    label = "Condition"
    fields = {"if": Spec("expression", required=True), "then": Spec("step"), "else": Spec("step")}

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        check_condition(step.get("if"), f"{location}.if", ctx, ctx.object_name)

    def branches(self, step: Mapping[str, Any]) -> list[str]:
        return [s for s in (step.get("then"), step.get("else")) if s]

    def falls_through(self, step: Mapping[str, Any]) -> bool:
        return not step.get("then")

    def run(self, ctx: Any) -> StepResult:
        result = holds(ctx, ctx.config["if"])
        chosen = ctx.config.get("then") if result else ctx.config.get("else", END)
        return StepResult({"result": result}, next=chosen)


@register_step
class Branch(StepType):
    """The first case whose ``if`` holds decides the next step; else ``default``."""

    type = "branch"
    label = "Branch"
    fields = {"cases": Spec("list", required=True), "default": Spec("step")}
    case_fields = {"if": Spec("expression", required=True), "next": Spec("step", required=True)}

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        for i, case in enumerate(step.get("cases") or []):
            where = f"{location}.cases[{i}]"
            if not isinstance(case, Mapping):
                ctx.error(where, "wrong_type", "a case is a mapping with if and next")
                continue
            check_fields(case, self.case_fields, where, ctx)
            check_condition(case.get("if"), f"{where}.if", ctx, ctx.object_name)

    def branches(self, step: Mapping[str, Any]) -> list[str]:
        cases = [c.get("next") for c in step.get("cases") or [] if isinstance(c, Mapping)]
        return [s for s in [*cases, step.get("default")] if isinstance(s, str)]

    def falls_through(self, step: Mapping[str, Any]) -> bool:
        return not step.get("default")

    def run(self, ctx: Any) -> StepResult:
        for i, case in enumerate(ctx.config["cases"]):
            if holds(ctx, case["if"]):
                return StepResult({"case": i}, next=case["next"])
        return StepResult({"case": None}, next=ctx.config.get("default"))


@register_step
class WaitStep(StepType):
    """Pause for a ``duration``, ``until`` a date or time, or for an ``event`` (matched on
    ``key``, by default the run's record id) with an optional ``timeout`` → ``on_timeout``."""

    type = "wait"
    label = "Wait"
    pauses = True
    fields = {
        "duration": Spec("duration"),
        "until": Spec("template"),
        "event": Spec("event"),
        "key": Spec("template"),
        "timeout": Spec("duration"),
        "on_timeout": Spec("step"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        given = [k for k in ("duration", "until", "event") if step.get(k) is not None]
        if len(given) != 1:
            ctx.error(
                location,
                "wait_kind",
                "a wait needs exactly one of duration, until or event; got "
                + (", ".join(given) or "none"),
            )
        if step.get("timeout") is not None and step.get("event") is None:
            ctx.error(f"{location}.timeout", "timeout_without_event", "timeout is for event waits")
        for name in ("until", "key"):
            templates.check(step.get(name), f"{location}.{name}", ctx)
        until = step.get("until")
        if isinstance(until, str) and not templates.is_template(until) and _moment(until) is None:
            ctx.error(
                f"{location}.until",
                "invalid_date",
                f"until must be an ISO date or time, got {until!r}",
                until,
            )

    def branches(self, step: Mapping[str, Any]) -> list[str]:
        return [step["on_timeout"]] if step.get("on_timeout") else []

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        if ctx.wake is not None:
            if ctx.wake.get("reason") == "event":
                return StepResult({"event": ctx.wake.get("event")})
            if config.get("event"):
                return StepResult({"timed_out": True}, next=config.get("on_timeout"))
            return StepResult({"waited": True})
        if config.get("duration") is not None:
            return StepResult(wait=Wait(until=ctx.now + parse_duration(config["duration"])))
        if config.get("until") is not None:
            moment = _moment(ctx.render(config["until"]))
            if moment is None:
                raise PermanentStepError(
                    f"wait until {config['until']!r} gave no date or time", code="invalid_date"
                )
            if moment <= ctx.now:
                return StepResult({"waited": False})
            return StepResult(wait=Wait(until=moment))
        key = ctx.render(config["key"]) if config.get("key") else ctx.record_id
        timeout = parse_duration(config["timeout"]) if config.get("timeout") else None
        return StepResult(
            wait=Wait(
                until=ctx.now + timeout if timeout else None,
                event=config["event"],
                key=str(key) if key is not None else None,
            )
        )


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None
