"""Flow administration: save and version definitions, start runs by hand or by webhook,
read run history, and retry or cancel parked runs."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.connectors.channels import verify_webhook_signature
from dealcraft.db.tx import write_transaction
from dealcraft.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from dealcraft.events.outbox import publish
from dealcraft.flows import definition as defs
from dealcraft.flows.starter import ActiveFlow, insert_run
from dealcraft.flows.steps.approval import APPROVAL_EVENT, approval_key
from dealcraft.flows.tables import (
    approvals,
    flow_effects,
    flow_logs,
    flow_runs,
    flow_steps,
    flow_versions,
    flows,
)
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)


def _flow_not_found(name: str) -> NotFound:
    return NotFound(f"no flow named {name!r}", code="flow_not_found", details={"flow": name})


def _run_not_found(run_id: int) -> NotFound:
    return NotFound(f"no flow run {run_id}", code="flow_run_not_found", details={"id": run_id})


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may manage flows", code="admin_required")


class FlowService:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.engine = workspace.engine

    # Definitions -------------------------------------------------------------------------
    def check(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Validate without saving; raises FlowDefinitionInvalid."""
        return defs.validate(definition, self.workspace.registry.view(), self._user_exists)

    def _user_exists(self, username: str) -> bool:
        return self.workspace.identity.find_user(username) is not None

    def save(self, definition: dict[str, Any], principal: Principal = SYSTEM) -> dict[str, Any]:
        """Store a new version (none if nothing changed). Runs in progress keep theirs."""
        _require_admin(principal)
        clean = self.check(definition)
        now = utcnow()
        with write_transaction(self.engine) as conn:
            row = conn.execute(sa.select(flows).where(flows.c.name == clean["name"])).first()
            if row is None:
                flow_id = conn.execute(
                    flows.insert().values(
                        name=clean["name"],
                        enabled=bool(clean.get("enabled", False)),
                        current_version=0,
                        webhook_secret=secrets.token_urlsafe(32),
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
                current, enabled = 0, bool(clean.get("enabled", False))
            else:
                flow_id, current, enabled = row.id, row.current_version, row.enabled
                if "enabled" in clean:
                    enabled = bool(clean["enabled"])
                latest = conn.execute(
                    sa.select(flow_versions.c.definition).where(
                        flow_versions.c.flow_id == flow_id, flow_versions.c.version == current
                    )
                ).scalar()
                if latest == clean:
                    conn.execute(
                        flows.update().where(flows.c.id == flow_id).values(enabled=enabled)
                    )
                    return {"name": clean["name"], "version": current, "changed": False}
            version = current + 1
            conn.execute(
                flow_versions.insert().values(
                    flow_id=flow_id,
                    version=version,
                    definition=clean,
                    created_by=principal.user_id,
                    created_at=now,
                )
            )
            conn.execute(
                flows.update()
                .where(flows.c.id == flow_id)
                .values(current_version=version, enabled=enabled, updated_at=now)
            )
            if self.workspace.audit is not None:
                self.workspace.audit.record(
                    conn,
                    action="flow.save",
                    category="automation",
                    actor_id=principal.user_id,
                    data={"flow": clean["name"], "version": version},
                )
        logger.info("flow saved", extra={"flow": clean["name"], "version": version})
        return {"name": clean["name"], "version": version, "changed": True}

    def import_yaml(self, text: str, principal: Principal = SYSTEM) -> dict[str, Any]:
        return self.save(defs.load_yaml(text), principal)

    def export_yaml(self, name: str, version: int | None = None) -> str:
        return defs.dump_yaml(self.definition(name, version))

    def definition(self, name: str, version: int | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flows).where(flows.c.name == name)).first()
            if row is None:
                raise _flow_not_found(name)
            wanted = version or row.current_version
            found = conn.execute(
                sa.select(flow_versions.c.definition).where(
                    flow_versions.c.flow_id == row.id, flow_versions.c.version == wanted
                )
            ).scalar()
        if found is None:
            raise NotFound(
                f"flow {name!r} has no version {wanted}",
                code="flow_version_not_found",
                details={"flow": name, "version": wanted},
            )
        return dict(found)

    def list(self) -> list[dict[str, Any]]:
        r = flow_runs
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(flows).order_by(flows.c.name)).mappings().all()
            counts = {
                (row.flow_id, row.status): row.n
                for row in conn.execute(
                    sa.select(r.c.flow_id, r.c.status, sa.func.count().label("n")).group_by(
                        r.c.flow_id, r.c.status
                    )
                )
            }
        return [
            {
                "name": row["name"],
                "enabled": row["enabled"],
                "version": row["current_version"],
                "runs": {s: n for (fid, s), n in counts.items() if fid == row["id"]},
            }
            for row in rows
        ]

    def manual_flows(self, object_name: str) -> list[dict[str, Any]]:
        """The enabled flows a person may start by hand on a record of ``object_name``."""
        v = flow_versions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(flows.c.name, v.c.definition)
                .join(v, sa.and_(v.c.flow_id == flows.c.id, v.c.version == flows.c.current_version))
                .where(flows.c.enabled.is_(True))
                .order_by(flows.c.name)
            ).all()
        found = []
        for name, definition in rows:
            trigger = definition.get("trigger") or {}
            if trigger.get("type") == "manual" and trigger.get("object") == object_name:
                found.append({"name": name, "label": definition.get("label")})
        return found

    def set_enabled(self, name: str, enabled: bool, principal: Principal = SYSTEM) -> None:
        _require_admin(principal)
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                flows.update()
                .where(flows.c.name == name)
                .values(enabled=enabled, updated_at=utcnow())
            ).rowcount
        if not changed:
            raise _flow_not_found(name)

    def webhook_secret(self, name: str, principal: Principal = SYSTEM) -> str:
        _require_admin(principal)
        return self._flow(name).webhook_secret

    def ensure_service_account(self, username: str, role: str, name: str | None = None) -> int:
        """The user a flow runs as; an admin decides its role and so what it may do."""
        user = self.workspace.identity.find_user(username)
        if user is None:
            user = self.workspace.identity.create_user(
                username, secrets.token_urlsafe(24), role=role, name=name or username
            )
        return int(user["id"])

    # Starting ----------------------------------------------------------------------------
    def _flow(self, name: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flows).where(flows.c.name == name)).first()
        if row is None:
            raise _flow_not_found(name)
        return row

    def _active(self, name: str) -> ActiveFlow:
        row = self._flow(name)
        with self.engine.connect() as conn:
            version = conn.execute(
                sa.select(flow_versions).where(
                    flow_versions.c.flow_id == row.id,
                    flow_versions.c.version == row.current_version,
                )
            ).first()
        return ActiveFlow(row.id, row.name, version.id, version.version, version.definition)

    def start(
        self,
        name: str,
        principal: Principal,
        *,
        record_id: int | None = None,
        key: str | None = None,
        payload: dict[str, Any] | None = None,
        trigger_type: str = "manual",
    ) -> int | None:
        """Start a run by hand (``manual`` trigger); the same ``key`` starts one run only."""
        flow = self._active(name)
        if flow.trigger["type"] != trigger_type:
            raise InvalidInput(
                f"flow {name!r} starts on {flow.trigger['type']}, not by hand",
                code="wrong_trigger",
                details={"flow": name, "trigger": flow.trigger["type"]},
            )
        object_name = flow.trigger.get("object")
        if record_id is not None:
            if object_name is None:
                raise InvalidInput(
                    f"flow {name!r} is not about a record",
                    code="no_record_expected",
                    details={"field": "record_id"},
                )
            # The starter must see the record: a hidden record does not exist for them.
            self.workspace.records.get(principal, object_name, record_id)
        trigger = {"type": trigger_type, "by": principal.user_id, "payload": payload or {}}
        trigger_key = f"v{flow.version_id}:{trigger_type}:{key or uuid.uuid4().hex}"
        with write_transaction(self.engine) as conn:
            return insert_run(
                conn,
                flow,
                trigger_key,
                object_name=object_name,
                record_id=record_id,
                trigger=trigger,
            )

    def receive_webhook(
        self, name: str, body: bytes, signature: str | None, delivery: str | None
    ) -> int | None:
        """An inbound webhook: signed with the flow's secret, idempotent on the delivery id."""
        row = self._flow(name)
        if not row.enabled:
            raise _flow_not_found(name)
        if not signature or not verify_webhook_signature(row.webhook_secret, signature, body):
            raise Unauthorized(
                "the webhook signature is missing, stale or wrong: sign with the flow's secret "
                "as X-Dealcraft-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>",
                code="bad_signature",
                details={"field": "X-Dealcraft-Signature"},
            )
        import json

        try:
            payload = json.loads(body or b"{}")
        except ValueError as e:
            raise InvalidInput(
                "the webhook body is not JSON", code="invalid_json", details={"field": "body"}
            ) from e
        flow = self._active(name)
        key = delivery or hashlib.sha256(body).hexdigest()
        record_id = payload.get("record_id") if isinstance(payload, dict) else None
        with write_transaction(self.engine) as conn:
            return insert_run(
                conn,
                flow,
                f"v{flow.version_id}:webhook:{key}",
                object_name=flow.trigger.get("object") if record_id else None,
                record_id=int(record_id) if record_id is not None else None,
                trigger={"type": "webhook", "payload": payload, "delivery": key},
            )

    # Runs --------------------------------------------------------------------------------
    def runs(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        r = flow_runs
        query = sa.select(r, flows.c.name.label("flow")).join(flows, flows.c.id == r.c.flow_id)
        if name:
            query = query.where(flows.c.name == name)
        if status:
            query = query.where(r.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(r.c.id.desc()).limit(limit)).mappings().all()
        return [_run_json(row) for row in rows]

    def run(self, run_id: int) -> dict[str, Any]:
        """A run with each step visit's input, output, timing, its effects and log lines."""
        r = flow_runs
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(r, flows.c.name.label("flow"), flow_versions.c.version)
                    .join(flows, flows.c.id == r.c.flow_id)
                    .join(flow_versions, flow_versions.c.id == r.c.flow_version_id)
                    .where(r.c.id == run_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise _run_not_found(run_id)
            steps = (
                conn.execute(
                    sa.select(flow_steps)
                    .where(flow_steps.c.run_id == run_id)
                    .order_by(flow_steps.c.seq)
                )
                .mappings()
                .all()
            )
            logs = (
                conn.execute(
                    sa.select(flow_logs)
                    .where(flow_logs.c.run_id == run_id)
                    .order_by(flow_logs.c.id)
                )
                .mappings()
                .all()
            )
            e = flow_effects
            effects = (
                conn.execute(
                    sa.select(e.c.key, e.c.step_id, e.c.kind, e.c.status, e.c.attempts, e.c.result)
                    .where(e.c.run_id == run_id)
                    .order_by(e.c.created_at, e.c.key)
                )
                .mappings()
                .all()
            )
        result = _run_json(row)
        result["version"] = row["version"]
        result["context"] = row["context"]
        result["steps"] = [
            {
                "seq": s["seq"],
                "step": s["step_id"],
                "type": s["step_type"],
                "status": s["status"],
                "attempts": s["attempts"],
                "input": s["input"],
                "output": s["output"],
                "error": s["error"],
                "started_at": _iso(s["started_at"]),
                "finished_at": _iso(s["finished_at"]),
            }
            for s in steps
        ]
        result["logs"] = [
            {
                "at": _iso(g["at"]),
                "level": g["level"],
                "step": g["step_id"],
                "message": g["message"],
            }
            for g in logs
        ]
        result["effects"] = [dict(effect) for effect in effects]
        return result

    def retry(self, run_id: int, principal: Principal = SYSTEM) -> None:
        """A parked run tries its failed step again, now, with a fresh attempt budget."""
        _require_admin(principal)
        self._transition(run_id, ("parked",), status="pending", wake_at=utcnow(), error=None)
        with write_transaction(self.engine) as conn:
            run = conn.execute(sa.select(flow_runs).where(flow_runs.c.id == run_id)).one()
            conn.execute(
                flow_steps.update()
                .where(flow_steps.c.run_id == run_id, flow_steps.c.seq == run.step_seq)
                .values(attempts=0)
            )

    def cancel(self, run_id: int, principal: Principal = SYSTEM) -> None:
        _require_admin(principal)
        self._transition(
            run_id,
            ("pending", "running", "waiting", "retrying", "parked"),
            status="cancelled",
            finished_at=utcnow(),
            lease_owner=None,
            lease_until=None,
        )

    def _transition(self, run_id: int, allowed: tuple[str, ...], **values: Any) -> None:
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                sa.select(flow_runs.c.status).where(flow_runs.c.id == run_id)
            ).first()
            if row is None:
                raise _run_not_found(run_id)
            if row.status not in allowed:
                raise Conflict(
                    f"run {run_id} is {row.status}; this needs a run that is "
                    + " or ".join(allowed),
                    code="flow_run_state",
                    details={"id": run_id, "status": row.status},
                )
            conn.execute(
                flow_runs.update()
                .where(flow_runs.c.id == run_id)
                .values(updated_at=utcnow(), **values)
            )

    # Approvals ---------------------------------------------------------------------------
    def decide(
        self, approval_id: int, principal: Principal, approved: bool, comment: str | None = None
    ) -> None:
        """The approver's decision; the waiting run continues after commit."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).first()
            mine = row is not None and (
                row.approver_user_id == principal.user_id
                or (row.approver_role is not None and row.approver_role in principal.roles)
            )
            if row is None or not (mine or principal.is_admin):
                raise NotFound(
                    f"no approval {approval_id} waiting for you",
                    code="approval_not_found",
                    details={"id": approval_id},
                )
            if row.status != "pending":
                raise Conflict(
                    f"approval {approval_id} is {row.status} already",
                    code="approval_decided",
                    details={"id": approval_id, "status": row.status},
                )
            conn.execute(
                approvals.update()
                .where(approvals.c.id == approval_id)
                .values(
                    status="approved" if approved else "rejected",
                    decided_by=principal.user_id,
                    comment=comment,
                    decided_at=utcnow(),
                )
            )
            publish(
                conn,
                APPROVAL_EVENT,
                {
                    "key": approval_key(row.run_id, row.seq),
                    "approved": approved,
                    "by": principal.user_id,
                    "comment": comment,
                },
                actor_id=principal.user_id,
            )


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def _run_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "flow": row["flow"],
        "status": row["status"],
        "current_step": row["current_step"],
        "object": row["object_name"],
        "record_id": row["record_id"],
        "error": row["error"],
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
    }
