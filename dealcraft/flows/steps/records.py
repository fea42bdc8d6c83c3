"""Record steps: create or update a record, create a task, assign an owner. All of them
write through the record service as the flow's service principal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.flows import templates
from dealcraft.flows.effects import Attempt, Done
from dealcraft.flows.errors import PermanentStepError
from dealcraft.flows.registry import (
    CheckContext,
    Spec,
    StepResult,
    StepType,
    parse_duration,
    register_step,
)
from dealcraft.flows.tables import trigger_marks
from dealcraft.flows.triggers import check_field_value
from dealcraft.schema.service import utcnow


def check_values(object_name: Any, values: Any, location: str, ctx: CheckContext) -> None:
    """Each named field exists on the object and each literal value fits its type."""
    if not isinstance(object_name, str) or object_name not in ctx.view.objects:
        return
    if not isinstance(values, Mapping):
        return
    obj = ctx.view.objects[object_name]
    keys = ctx.view.json_keys(object_name)
    for name, value in values.items():
        f = obj.field(name) if name in keys else None
        if f is None:
            ctx.error(
                f"{location}.{name}", "unknown_field", f"{object_name} has no field {name!r}", name
            )
            continue
        check_field_value(f, value, f"{location}.{name}", ctx)


def create_once(ctx: Any, name: str, object_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Create a record as the service principal, once for this step visit."""

    def perform(attempt: Attempt) -> Done:
        if attempt.repeated:
            found = _recover(ctx, object_name, values, attempt)
            if found is not None:
                ctx.log("record found from an earlier attempt", record_id=found)
                return Done({"id": found, "object": object_name}, record=(object_name, found))
        record = ctx.workspace.records.create(ctx.principal, object_name, values)
        return Done({"id": record["id"], "object": object_name}, record=(object_name, record["id"]))

    request = {"object": object_name, "values": values}
    return ctx.effect(name, "record.create", request, perform)


def _recover(ctx: Any, object_name: str, values: Mapping[str, Any], attempt: Attempt) -> int | None:
    """The record an earlier attempt of this effect created, if it committed.

    The record service commits the create in its own transaction, so a worker killed just
    after it leaves the effect pending. The create's outbox row (same transaction) names the
    service account; among those written since the effect was first attempted, the one with
    the requested values that no other effect has claimed is ours. Two identical creates
    racing may swap records, which is harmless: they are identical.
    """
    o = system.outbox
    with ctx.workspace.engine.connect() as conn:
        ids = list(
            conn.execute(
                sa.select(o.c.record_id)
                .where(
                    o.c.id > attempt.watermark,
                    o.c.event_type == "record.created",
                    o.c.object_name == object_name,
                    o.c.actor_id == ctx.principal.user_id,
                )
                .order_by(o.c.id)
            ).scalars()
        )
    claimed = ctx.runner.ledger.claimed_records(object_name, ids)
    for record_id in ids:
        if record_id in claimed:
            continue
        try:
            record = ctx.workspace.records.get(ctx.principal, object_name, record_id)
        except Exception:  # deleted since, or out of scope: not a match
            continue
        if all(_same(record.get(k), v) for k, v in values.items()):
            return record_id
    return None


def _same(stored: Any, wanted: Any) -> bool:
    if stored == wanted:
        return True
    if isinstance(stored, int | float) and not isinstance(wanted, bool):
        try:
            return float(stored) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(stored) == str(wanted)


@register_step
class CreateRecord(StepType):
    type = "create_record"
    label = "Create a record"
    fields = {"object": Spec("object", required=True), "values": Spec("mapping", required=True)}

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        check_values(step.get("object"), step.get("values"), f"{location}.values", ctx)

    def run(self, ctx: Any) -> StepResult:
        values = ctx.render(ctx.config["values"])
        return StepResult(create_once(ctx, "create", ctx.config["object"], values))


@register_step
class UpdateRecord(StepType):
    """Set ``values`` on the run's record (or ``object`` + ``record_id``). Setting the same values
    again changes nothing, so a repeated update is harmless; the ledger skips it anyway."""

    type = "update_record"
    label = "Update a record"
    fields = {
        "object": Spec("object"),
        "record_id": Spec("template"),
        "values": Spec("mapping", required=True),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        obj = step.get("object") or ctx.object_name
        if obj is None:
            ctx.error(f"{location}.object", "required", "object is required: the trigger has none")
        if step.get("object") and step.get("record_id") is None:
            ctx.error(
                f"{location}.record_id", "required", "record_id is required when object is given"
            )
        templates.check(step.get("record_id"), f"{location}.record_id", ctx)
        check_values(obj, step.get("values"), f"{location}.values", ctx)

    def run(self, ctx: Any) -> StepResult:
        object_name = ctx.config.get("object") or ctx.object_name
        record_id = ctx.config.get("record_id")
        record_id = ctx.render(record_id) if record_id is not None else ctx.record_id
        if record_id in (None, ""):
            raise PermanentStepError("update_record found no record id", code="record_unavailable")
        values = ctx.render(ctx.config["values"])

        def perform(attempt: Attempt) -> dict[str, Any]:
            record = ctx.workspace.records.update(
                ctx.principal, object_name, int(record_id), values
            )
            return {"id": record["id"], "version": record["version"]}

        request = {"object": object_name, "id": record_id, "values": values}
        return StepResult(ctx.effect("update", "record.update", request, perform))


@register_step
class CreateTask(StepType):
    """A task about the run's record; ``due`` is a duration from now (``3d``) or a date."""

    type = "create_task"
    label = "Create a task"
    fields = {
        "subject": Spec("template", required=True),
        "assignee": Spec("template"),
        "due": Spec("template"),
        "priority": Spec("text", choices=("high", "normal", "low")),
        "description": Spec("template"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        for name in ("subject", "assignee", "due", "description"):
            templates.check(step.get(name), f"{location}.{name}", ctx)

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        values: dict[str, Any] = {"subject": ctx.render(config["subject"])}
        if config.get("assignee") is not None:
            values["assignee"] = _user_id(ctx, ctx.render(config["assignee"]))
        if config.get("due") is not None:
            due = ctx.render(config["due"])
            delta = parse_duration(due)
            values["due"] = (ctx.now + delta).date().isoformat() if delta is not None else due
        for name in ("priority", "description"):
            if config.get(name) is not None:
                values[name] = ctx.render(config[name])
        if ctx.object_name and ctx.record_id is not None:
            values["related_object"] = ctx.object_name
            values["related_id"] = ctx.record_id
        return StepResult(create_once(ctx, "task", "task", values))


def _user_id(ctx: Any, value: Any) -> int | None:
    """A user given as an id (a record's user field) or a username."""
    if value in (None, ""):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    user = ctx.workspace.identity.find_user(str(value))
    if user is None:
        raise PermanentStepError(f"no user named {value!r}", code="unknown_user")
    return int(user["id"])


@register_step
class AssignOwner(StepType):
    """Set the record's ``field`` (default ``owner``) to the next active member of ``team``
    in turn (round robin), or to the user a ``territory`` map gives for the record's region."""

    type = "assign_owner"
    label = "Assign an owner"
    fields = {
        "team": Spec("text"),
        "field": Spec("field"),
        "territory": Spec("mapping"),
        "territory_field": Spec("field"),
    }

    def check(self, step: Mapping[str, Any], location: str, ctx: CheckContext) -> None:
        if ctx.object_name is None:
            ctx.error(location, "no_record", "assign_owner needs a trigger that is about a record")
            return
        if bool(step.get("team")) == bool(step.get("territory")):
            ctx.error(location, "assign_rule", "give exactly one of team or territory")
        name = step.get("field") or "owner"
        f = ctx.view.objects[ctx.object_name].field(name)
        if f is None or f.type != "user":
            ctx.error(
                f"{location}.field",
                "wrong_field_type",
                f"{ctx.object_name}.{name} must be a user field to hold an owner",
                name,
            )
        for key, username in (step.get("territory") or {}).items():
            if not ctx.user_exists(str(username)):
                ctx.error(
                    f"{location}.territory.{key}", "unknown_user", f"no user named {username!r}"
                )

    def run(self, ctx: Any) -> StepResult:
        config = ctx.config
        field_name = config.get("field") or "owner"

        def perform(attempt: Attempt) -> dict[str, Any]:
            if config.get("team"):
                user_id = _next_in_team(ctx, config["team"])
            else:
                region = (ctx.record or {}).get(config.get("territory_field") or "region")
                username = config["territory"].get(region) or config["territory"].get("default")
                if username is None:
                    raise PermanentStepError(
                        f"the territory map has no user for {region!r} and no default",
                        code="no_territory_match",
                    )
                user_id = _user_id(ctx, username)
            ctx.workspace.records.update(
                ctx.principal, ctx.object_name, ctx.record_id, {field_name: user_id}
            )
            return {"user_id": user_id, "field": field_name}

        request = {"team": config.get("team"), "field": field_name}
        return StepResult(ctx.effect("assign", "record.assign", request, perform))


def _next_in_team(ctx: Any, team: str) -> int:
    records = ctx.workspace.records
    where = "name = :team" if not str(team).isdigit() else "id = :team"
    teams = records.list(ctx.principal, "team", where=where, params={"team": team}, limit=1).data
    if not teams:
        raise PermanentStepError(f"no team {team!r} visible to the flow", code="unknown_team")
    team_id = teams[0]["id"]
    members = records.list(
        ctx.principal,
        "user",
        where="team = :team and active = true",
        params={"team": team_id},
        sort="id",
        limit=500,
    ).data
    if not members:
        raise PermanentStepError(f"team {team!r} has no active members", code="empty_team")

    # The turn counter is shared by every flow assigning within this team.
    kind = f"rr.{team_id}"
    with write_transaction(ctx.workspace.engine) as conn:
        t = trigger_marks
        query = sa.select(t.c.mark).where(t.c.flow_id == 0, t.c.kind == kind)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        current = conn.execute(query).scalar()
        turn = int(current) + 1 if current is not None else 0
        now = utcnow()
        if current is None:
            conn.execute(t.insert().values(flow_id=0, kind=kind, mark=str(turn), updated_at=now))
        else:
            conn.execute(
                t.update()
                .where(t.c.flow_id == 0, t.c.kind == kind)
                .values(mark=str(turn), updated_at=now)
            )
    return int(members[turn % len(members)]["id"])
