"""Flow definitions: YAML in and out, and the checks every save runs.

A definition is plain data::

    name: proposal_deck
    run_as: flow_bot            # the service account the flow acts as
    trigger: {type: record.updated, object: opportunity, changed_to: {stage: proposal}}
    condition: amount > 100000  # optional, on the trigger's record
    steps:
      - {id: deck, type: generate_deck, title: "{{record.name}}"}
      - {id: tell, type: notify, channel: wecom, url: "...", text: "Deck ready"}

Steps run in list order unless a step names ``next`` (or ``end``), or branches. Saving
refuses unknown fields, wrong types, unknown record fields, unreachable steps and cycles
that contain no pausing step, each with its location (``steps.tell.text``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from dealcraft.errors import FieldError, InvalidInput
from dealcraft.flows.conditions import check_condition
from dealcraft.flows.errors import FlowDefinitionInvalid
from dealcraft.flows.registry import (
    END,
    STEP_TYPES,
    TRIGGER_TYPES,
    CheckContext,
    Spec,
    check_fields,
    load_builtins,
)
from dealcraft.schema.registry import SchemaView

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Names the web app's own flow pages use (``/flows/runs``), so no flow may take them.
RESERVED_NAMES = frozenset({"runs", "new"})

TOP_FIELDS = {
    "name": Spec("text", required=True),
    "label": Spec("any"),
    "description": Spec("text"),
    "enabled": Spec("bool"),
    "run_as": Spec("user", required=True),
    "trigger": Spec("mapping", required=True),
    "condition": Spec("expression"),
    "steps": Spec("list", required=True),
}
# Fields every step may carry besides its type's own.
STEP_COMMON = frozenset({"id", "type", "next", "label", "retry"})
RETRY_FIELDS = {"max_attempts": Spec("int"), "backoff": Spec("duration")}


def load_yaml(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInput(
            f"the flow file is not valid YAML{where}: {getattr(e, 'problem', e)}",
            code="invalid_yaml",
            details={"field": "definition"},
        ) from e
    if not isinstance(data, dict):
        raise InvalidInput(
            "a flow file holds one mapping (name, run_as, trigger, steps)",
            code="invalid_definition",
            details={"field": "definition"},
        )
    return data


def dump_yaml(definition: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(definition), allow_unicode=True, sort_keys=False, width=100)


def step_ids(definition: Mapping[str, Any]) -> list[str]:
    steps = definition.get("steps") or []
    return [s.get("id") for s in steps if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


def successors(definition: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each step's possible next steps (``end`` left out)."""
    steps = [s for s in definition["steps"] if isinstance(s, Mapping)]
    graph: dict[str, list[str]] = {}
    for i, step in enumerate(steps):
        handler = STEP_TYPES.get(step.get("type"))
        out: list[str] = []
        explicit = step.get("next")
        if handler is None or handler.falls_through(step):
            if explicit:
                out.append(explicit)
            elif i + 1 < len(steps):
                out.append(steps[i + 1]["id"])
        if handler is not None:
            out.extend(handler.branches(step))
        graph[step["id"]] = [s for s in out if s and s != END]
    return graph


def default_next(definition: Mapping[str, Any], step_id: str) -> str | None:
    steps = definition["steps"]
    for i, step in enumerate(steps):
        if step["id"] == step_id:
            if step.get("next"):
                return None if step["next"] == END else step["next"]
            return steps[i + 1]["id"] if i + 1 < len(steps) else None
    return None


def find_step(definition: Mapping[str, Any], step_id: str) -> dict[str, Any]:
    for step in definition["steps"]:
        if step["id"] == step_id:
            return step
    raise KeyError(step_id)


def validate(
    definition: Mapping[str, Any], view: SchemaView, user_exists: Callable[[str], bool]
) -> dict[str, Any]:
    """The definition, checked; raises FlowDefinitionInvalid with every problem located."""
    load_builtins()
    if not isinstance(definition, Mapping):
        raise FlowDefinitionInvalid(
            [FieldError("definition", "invalid_definition", "a flow is a mapping")]
        )
    ids = step_ids(definition)
    ctx = CheckContext(view, None, frozenset(ids), user_exists)

    # The top level, then the trigger (which decides the record steps may refer to).
    check_fields(definition, TOP_FIELDS, "flow", ctx)
    name = definition.get("name")
    if isinstance(name, str) and not NAME.match(name):
        ctx.error(
            "flow.name",
            "invalid_name",
            f"a flow name is lowercase letters, digits and '_', starting with a letter; got "
            f"{name!r}",
            name,
        )
    elif name in RESERVED_NAMES:
        ctx.error(
            "flow.name",
            "reserved_name",
            f"the flow name {name!r} is reserved for the app's own pages; choose another",
            name,
        )
    trigger = definition.get("trigger")
    if isinstance(trigger, Mapping):
        _check_trigger(trigger, ctx)
    if isinstance(definition.get("condition"), str):
        check_condition(definition["condition"], "flow.condition", ctx, ctx.object_name)

    # Each step: an id, a known type, its fields.
    steps = definition.get("steps")
    if isinstance(steps, list):
        if not steps:
            ctx.error("flow.steps", "no_steps", "a flow needs at least one step")
        seen: set[str] = set()
        for i, step in enumerate(steps):
            _check_step(step, i, seen, ctx)

    # The graph: every step reachable from the first, every cycle through a pausing step.
    if not ctx.errors and isinstance(steps, list) and steps:
        _check_graph(definition, ctx)
    if ctx.errors:
        raise FlowDefinitionInvalid(ctx.errors)
    return dict(definition)


def _check_trigger(trigger: Mapping[str, Any], ctx: CheckContext) -> None:
    kind = trigger.get("type")
    handler = TRIGGER_TYPES.get(kind) if isinstance(kind, str) else None
    if handler is None:
        ctx.error(
            "trigger.type",
            "unknown_trigger_type",
            f"unknown trigger type {kind!r} (known: {', '.join(sorted(TRIGGER_TYPES))})",
            kind if isinstance(kind, str) else None,
        )
        return
    check_fields(trigger, handler.fields, "trigger", ctx, reserved=frozenset({"type"}))
    obj = handler.object_name(trigger)
    if obj in ctx.view.objects:
        ctx.object_name = obj
    handler.check(trigger, "trigger", ctx)


def _check_step(step: Any, index: int, seen: set[str], ctx: CheckContext) -> None:
    where = f"steps[{index}]"
    if not isinstance(step, Mapping):
        ctx.error(where, "wrong_type", "a step is a mapping with an id and a type")
        return
    step_id = step.get("id")
    if not isinstance(step_id, str) or not NAME.match(step_id) or step_id == END:
        ctx.error(
            f"{where}.id",
            "invalid_step_id",
            "every step needs an id of lowercase letters, digits and '_' (not 'end'); got "
            f"{step_id!r}",
        )
        return
    where = f"steps.{step_id}"
    if step_id in seen:
        ctx.error(f"{where}.id", "duplicate_step_id", f"two steps have the id {step_id!r}")
    seen.add(step_id)
    kind = step.get("type")
    handler = STEP_TYPES.get(kind) if isinstance(kind, str) else None
    if handler is None:
        ctx.error(
            f"{where}.type",
            "unknown_step_type",
            f"unknown step type {kind!r} (known: {', '.join(sorted(STEP_TYPES))})",
            kind if isinstance(kind, str) else None,
        )
        return
    common = {"next": Spec("step"), "label": Spec("any"), "retry": Spec("mapping")}
    check_fields(step, {**handler.fields, **common}, where, ctx, reserved=frozenset({"id", "type"}))
    if isinstance(step.get("retry"), Mapping):
        check_fields(step["retry"], RETRY_FIELDS, f"{where}.retry", ctx)
    handler.check(step, where, ctx)


def _check_graph(definition: Mapping[str, Any], ctx: CheckContext) -> None:
    graph = successors(definition)
    order = [s["id"] for s in definition["steps"]]

    reachable: set[str] = set()
    frontier = [order[0]]
    while frontier:
        node = frontier.pop()
        if node in reachable:
            continue
        reachable.add(node)
        frontier.extend(graph.get(node, []))
    for step_id in order:
        if step_id not in reachable:
            ctx.error(
                f"steps.{step_id}",
                "unreachable_step",
                f"step {step_id!r} can never run: no step leads to it",
                step_id,
            )

    pausing = {s["id"] for s in definition["steps"] if STEP_TYPES[s["type"]].pauses}
    for component in _cycles(graph, order):
        if not component & pausing:
            path = " -> ".join(s for s in order if s in component)
            first = next(s for s in order if s in component)
            ctx.error(
                f"steps.{first}",
                "cycle_without_wait",
                f"steps {path} form a loop with no wait, approval or other pausing step; "
                "it would spin forever",
                first,
            )


def _cycles(graph: Mapping[str, list[str]], order: list[str]) -> list[set[str]]:
    """Strongly connected components that are loops (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    for root in order:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    found.append(component)
    return found
