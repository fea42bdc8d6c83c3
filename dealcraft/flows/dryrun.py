"""Dry runs: what a flow would do to one record, step by step, without doing any of it.

The real step handlers run, with a context whose ``effect`` notes the effect it was asked to
perform (its kind and the rendered request: the e-mail, the message, the record values) and
returns a plausible simulated result instead of calling ``perform``; ``log`` keeps the
lines in memory. Nothing is written: no run, no step row, no ledger entry, no inbox row, no
record, no file, nothing sent.

A step that would pause (a wait, an approval, the verification gate) is reported with what
it waits for, and the dry run goes on along its default path, as if the time had passed,
the approver had approved or the event had arrived; the outcome says so.

Reads are real: conditions and ``find_record`` read through the record service as the
flow's service account, so a dry run shows what that account can see today.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dealcraft.access.principal import Principal
from dealcraft.errors import DealcraftError, Forbidden, InvalidInput, NotFound
from dealcraft.flows.conditions import evaluate_condition
from dealcraft.flows.definition import default_next, find_step
from dealcraft.flows.effects import Done
from dealcraft.flows.registry import END, STEP_TYPES, StepResult, load_builtins
from dealcraft.flows.runner import Runner, StepContext
from dealcraft.flows.service import FlowService
from dealcraft.flows.settings import get_flow_settings
from dealcraft.flows.tables import flows
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

# A loop through a pausing step never ends in a dry run, where every wait is assumed over.
MAX_VISITS = 50
# Keys of a step's configuration that are about the graph, not about what the step does.
GRAPH_KEYS = frozenset({"id", "type", "label", "next", "retry"})


# Simulated results, one per effect kind: what later steps may refer to ({{steps.x.y}}).
def _simulated_create(request: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": None, "object": request.get("object")}


def _simulated_update(request: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": request.get("id"), "version": None}


def _simulated_deck(request: Mapping[str, Any]) -> dict[str, Any]:
    return {"file_id": None, "name": f"{request.get('title')}.pptx", "size": 0}


def _simulated_assign(request: Mapping[str, Any]) -> dict[str, Any]:
    # Who is next in a team's turn is a write (the turn counter), so it is not worked out.
    return {"user_id": None, "field": request.get("field")}


def _simulated_approval(request: Mapping[str, Any]) -> dict[str, Any]:
    return {"approval_id": None}


SIMULATED: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "record.create": _simulated_create,
    "record.update": _simulated_update,
    "record.assign": _simulated_assign,
    "document.deck": _simulated_deck,
    "approval.request": _simulated_approval,
}


@dataclass
class StepOutcome:
    """One step of a dry run: what it read, what it would do, and where the run goes next."""

    step: str
    type: str
    # "done" (it would finish), "would_wait" (it would pause; the default path is followed),
    # or "would_fail" (the run would retry or park here; the dry run stops).
    status: str
    inputs: dict[str, Any]
    effects: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    next: str | None = None
    wait: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "type": self.type,
            "status": self.status,
            "inputs": self.inputs,
            "effects": self.effects,
            "output": self.output,
            "next": self.next,
            "wait": self.wait,
            "error": self.error,
            "logs": self.logs,
            "notes": self.notes,
        }


@dataclass
class DryRunContext(StepContext):
    """A step context that performs nothing: effects and log lines are only noted."""

    effects: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def effect(
        self,
        name: str,
        kind: str,
        request: Any,
        perform: Callable[[Any], Done | dict[str, Any]],
        **options: Any,
    ) -> dict[str, Any]:
        simulate = SIMULATED.get(kind)
        mapping = request if isinstance(request, Mapping) else {}
        result = simulate(mapping) if simulate else {}
        self.effects.append({"name": name, "kind": kind, "request": request, "result": result})
        return {**result, "simulated": True}

    def log(self, message: str, level: str = "info", **data: Any) -> None:
        self.logs.append({"level": level, "message": message, "data": data or None})


def dry_run(
    workspace: Workspace,
    definition_or_flow_name: str | Mapping[str, Any],
    object_name: str | None,
    record_id: int | None,
    principal: Principal,
) -> dict[str, Any]:
    """What the flow (a saved flow's current version, or an unsaved definition, checked
    first) would do to the record: ``{"flow", "version", "object", "record_id", "starts",
    "notes", "steps": [StepOutcome.as_dict(), ...]}``. Writes nothing.

    Only an admin may dry-run a flow, and only on a record they can see themselves (a
    record they cannot see is reported as not found, as everywhere else).
    """
    if not principal.is_admin:
        raise Forbidden("only an admin may manage flows", code="admin_required")
    load_builtins()
    service = FlowService(workspace)

    # The definition: a saved flow's current version, or a draft checked as a save would.
    version: int | None = None
    if isinstance(definition_or_flow_name, str):
        definition = service.definition(definition_or_flow_name)
        version = _current_version(workspace, definition_or_flow_name)
    else:
        definition = service.check(dict(definition_or_flow_name))
    trigger = definition["trigger"]
    trigger_object = trigger.get("object")

    # The record: the one the trigger is about, visible to the requesting admin.
    if trigger_object is not None and object_name not in (None, trigger_object):
        raise InvalidInput(
            f"flow {definition['name']!r} runs on {trigger_object} records, not {object_name}",
            code="wrong_object",
            details={"field": "object", "expected": trigger_object, "value": object_name},
        )
    if record_id is not None and trigger_object is None:
        raise InvalidInput(
            f"flow {definition['name']!r} is not about a record",
            code="no_record_expected",
            details={"field": "record_id"},
        )
    if trigger_object is not None and record_id is None:
        raise InvalidInput(
            f"a dry run of {definition['name']!r} needs a {trigger_object} record id",
            code="required",
            details={"field": "record_id"},
        )
    if record_id is not None:
        try:
            workspace.records.get(principal, trigger_object, int(record_id))
        except Forbidden as e:
            raise NotFound(
                f"no {trigger_object} {record_id}",
                code="record_not_found",
                details={"object": trigger_object, "id": record_id},
            ) from e

    # The flow's service account reads the record as a run would.
    runner = Runner(workspace, get_flow_settings(), owner="dry-run")
    service_principal = runner.principal_for(definition["run_as"])
    notes: list[str] = []
    record = _record_as(workspace, service_principal, trigger_object, record_id)
    if record_id is not None and record is None:
        notes.append("record_invisible_to_flow")
    now = utcnow()
    run: dict[str, Any] = {
        "id": 0,
        "version": version,
        "object_name": trigger_object,
        "record_id": int(record_id) if record_id is not None else None,
        "context": {"trigger": _simulated_trigger(trigger, record), "steps": {}},
    }

    # The flow-level condition decides whether a run would start at all.
    starts = True
    if definition.get("condition") and trigger_object is not None:
        starts = record is not None and _holds(
            workspace, service_principal, trigger_object, definition["condition"], record
        )
        if not starts:
            notes.append("condition_false")

    # The steps, from the first, along the path the handlers choose.
    outcomes: list[StepOutcome] = []
    current: str | None = definition["steps"][0]["id"] if starts else None
    while current is not None:
        if len(outcomes) >= MAX_VISITS:
            notes.append("visit_limit")
            break
        step = find_step(definition, current)
        ctx = DryRunContext(
            runner=runner,
            run=run,
            definition=definition,
            step=step,
            seq=len(outcomes),
            attempt=1,
            principal=service_principal,
            record=record,
            wake=None,
            now=now,
        )
        outcome, current = _run_step(ctx, definition, step)
        outcomes.append(outcome)
        run["context"]["steps"][step["id"]] = outcome.output
    return {
        "flow": definition["name"],
        "version": version,
        "object": trigger_object,
        "record_id": run["record_id"],
        "starts": starts,
        "notes": notes,
        "steps": [o.as_dict() for o in outcomes],
    }


def _run_step(
    ctx: DryRunContext, definition: Mapping[str, Any], step: Mapping[str, Any]
) -> tuple[StepOutcome, str | None]:
    """One step's outcome and the step the dry run goes to next (None: the run ends)."""
    inputs = {k: ctx.render(v) for k, v in step.items() if k not in GRAPH_KEYS}
    outcome = StepOutcome(step["id"], step["type"], "done", _jsonable(inputs))
    try:
        result: StepResult = STEP_TYPES[step["type"]].run(ctx)
    except Exception as e:  # reported as what the run would do; the dry run stops here
        code = e.code if isinstance(e, DealcraftError) else "step_crashed"
        message = e.message if isinstance(e, DealcraftError) else f"{type(e).__name__}: {e}"
        if not isinstance(e, DealcraftError):
            logger.info("dry run step raised", extra={"step": step["id"]}, exc_info=e)
        outcome.status = "would_fail"
        outcome.error = {"code": code, "message": message}
        outcome.effects, outcome.logs = _jsonable(ctx.effects), _jsonable(ctx.logs)
        return outcome, None
    outcome.effects, outcome.logs = _jsonable(ctx.effects), _jsonable(ctx.logs)
    outcome.output = _jsonable(result.output)
    if result.wait is not None:
        # A pause: report it, then follow the path taken when the wait ends normally.
        outcome.status = "would_wait"
        outcome.wait = {
            "until": result.wait.until.isoformat() + "Z" if result.wait.until else None,
            "event": result.wait.event,
            "key": result.wait.key,
        }
        outcome.notes.append("wait_assumed_over")
        following = default_next(definition, step["id"])
    else:
        following = result.next or default_next(definition, step["id"])
    if following == END:
        following = None
    outcome.next = following
    return outcome, following


def _current_version(workspace: Workspace, name: str) -> int | None:
    with workspace.engine.connect() as conn:
        return conn.execute(sa.select(flows.c.current_version).where(flows.c.name == name)).scalar()


def _record_as(
    workspace: Workspace, principal: Principal, object_name: str | None, record_id: int | None
) -> dict[str, Any] | None:
    if object_name is None or record_id is None:
        return None
    try:
        return workspace.records.get(principal, object_name, int(record_id), include_deleted=True)
    except (NotFound, Forbidden):
        return None


def _holds(
    workspace: Workspace,
    principal: Principal,
    object_name: str,
    source: str,
    record: Mapping[str, Any],
) -> bool:
    params = {**principal.expression_params(), "today": utcnow().date()}

    def fetch(target: str, target_id: Any) -> Mapping[str, Any] | None:
        try:
            return workspace.records.get(principal, target, int(target_id))
        except DealcraftError:  # a missing or invisible record reads as NULL
            return None

    view = workspace.registry.view()
    return evaluate_condition(view, object_name, source, record, params, fetch)


def _simulated_trigger(
    trigger: Mapping[str, Any], record: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The trigger context as if the record had just met the trigger: a ``changed_to``
    field shows as changed to the record's current value."""
    changes = {
        name: {"old": None, "new": (record or {}).get(name)}
        for name in (trigger.get("changed_to") or {})
    }
    return {"type": "dry_run", "of": trigger.get("type"), "changes": changes, "payload": {}}


def _jsonable(value: Any) -> Any:
    """Values as the API shows them (dates as ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


__all__ = ["MAX_VISITS", "SIMULATED", "DryRunContext", "StepOutcome", "dry_run"]
