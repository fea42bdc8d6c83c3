"""Policies as data, and the engine that applies them.

A policy grants one role, on one object (or ``*`` for every object), a set of operations,
a row scope (an expression with principal parameters) and field rules (``hidden``,
``read_only``, ``masked``). Anything not granted is denied. Saving a policy validates it
against the schema, stores it as a new version, and is audited by the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dealcraft import expr
from dealcraft.access.principal import Principal
from dealcraft.access.roles import DEFAULT_CATEGORY_PURPOSES, ROLES, default_policies
from dealcraft.access.tables import category_rules, policies
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import FieldError, Forbidden, NotFound, Unauthorized, ValidationFailed
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.registry import SchemaRegistry
from dealcraft.schema.service import utcnow

logger = logging.getLogger(__name__)

OPERATIONS = frozenset({"read", "create", "update", "delete", "export", "import"})
FIELD_RULES = frozenset({"hidden", "read_only", "masked"})
CATEGORIES = frozenset({"personal", "behavioural", "financial"})

# Values with the right types for checking a scope when it is saved.
SAMPLE_PARAMS = {
    "user": {
        "id": 1,
        "username": "sample",
        "region": "华东",
        "teams": [1],
        "reports": [1],
        "deal_room_accounts": [1],
    }
}

READ_VISIBLE, READ_MASKED, READ_HIDDEN = 2, 1, 0


@dataclass(frozen=True)
class Policy:
    id: int
    role: str
    object_name: str
    version: int
    operations: frozenset[str]
    row_scope: str | None
    field_rules: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "object_name": self.object_name,
            "version": self.version,
            "operations": sorted(self.operations),
            "row_scope": self.row_scope,
            "field_rules": dict(self.field_rules),
        }


@dataclass(frozen=True)
class PolicySet:
    version: int
    by_role: Mapping[str, Mapping[str, Policy]]
    category_purposes: Mapping[str, frozenset[str] | None]

    def for_object(self, principal: Principal, object_name: str) -> list[Policy]:
        found = []
        for role in principal.roles:
            per_object = self.by_role.get(role, {})
            policy = per_object.get(object_name) or per_object.get("*")
            if policy is not None:
                found.append(policy)
        return found


def _bump(conn: sa.Connection) -> None:
    meta = system.meta
    done = conn.execute(
        meta.update()
        .where(meta.c.key == "policy_version")
        .values(value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.String))
    )
    if done.rowcount == 0:
        conn.execute(meta.insert().values(key="policy_version", value="1"))


class PolicyStore:
    """Loads, validates, versions and saves policies; keeps a fresh snapshot in memory."""

    def __init__(self, engine: Engine, registry: SchemaRegistry, refresh_seconds: float = 1.0):
        self.engine = engine
        self.registry = registry
        self.refresh_seconds = refresh_seconds
        self._snapshot: PolicySet | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    # Reading ------------------------------------------------------------------------------
    def snapshot(self) -> PolicySet:
        now = time.monotonic()
        current = self._snapshot
        if current is None or now - self._checked_at > self.refresh_seconds:
            with self._lock:
                if self._snapshot is None or self._stored_version() != self._snapshot.version:
                    self._snapshot = self._load()
                self._checked_at = now
                current = self._snapshot
        return current

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None

    def _stored_version(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(system.meta.c.value).where(system.meta.c.key == "policy_version")
            ).scalar()
        return int(value or 0)

    def _load(self) -> PolicySet:
        with self.engine.connect() as conn:
            version = conn.execute(
                sa.select(system.meta.c.value).where(system.meta.c.key == "policy_version")
            ).scalar()
            rows = conn.execute(sa.select(policies).where(policies.c.active.is_(True))).mappings()
            by_role: dict[str, dict[str, Policy]] = {}
            for row in rows:
                by_role.setdefault(row["role"], {})[row["object_name"]] = _policy(row)
            purposes = {
                row.category: (frozenset(row.purposes) if row.purposes is not None else None)
                for row in conn.execute(sa.select(category_rules))
            }
        return PolicySet(int(version or 0), by_role, purposes)

    def list(self, role: str | None = None) -> list[Policy]:
        snap = self.snapshot()
        found = [
            p
            for r, per_object in snap.by_role.items()
            if role in (None, r)
            for p in per_object.values()
        ]
        return sorted(found, key=lambda p: (p.role, p.object_name))

    def versions(self, role: str, object_name: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(policies)
                    .where(policies.c.role == role, policies.c.object_name == object_name)
                    .order_by(policies.c.version)
                )
                .mappings()
                .all()
            )
        return [
            {
                **_policy(r).as_dict(),
                "active": r["active"],
                "created_by": r["created_by"],
                "created_at": r["created_at"].isoformat() + "Z",
            }
            for r in rows
        ]

    # Validation ---------------------------------------------------------------------------
    def check(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a policy definition against the schema; return it normalised."""
        errors: list[FieldError] = []
        role = spec.get("role")
        if role not in ROLES:
            errors.append(
                FieldError("role", "unknown_role", f"{role!r} is not a role: {', '.join(ROLES)}")
            )
        object_name = spec.get("object_name")
        view = self.registry.view()
        obj = view.objects.get(object_name) if isinstance(object_name, str) else None
        if object_name != "*" and obj is None:
            errors.append(
                FieldError("object_name", "unknown_object", f"no object named {object_name!r}")
            )
        operations = spec.get("operations", [])
        if not isinstance(operations, list) or not set(operations) <= OPERATIONS:
            errors.append(
                FieldError(
                    "operations",
                    "invalid_operation",
                    f"operations are a list of: {', '.join(sorted(OPERATIONS))}",
                )
            )
            operations = []
        scope = spec.get("row_scope") or None
        if scope is not None:
            if not isinstance(scope, str) or object_name == "*":
                errors.append(
                    FieldError(
                        "row_scope", "invalid_scope", "a row scope is an expression on one object"
                    )
                )
            elif obj is not None:
                try:
                    checked = expr.check(scope, view, obj.name, SAMPLE_PARAMS)
                    if checked.type not in (expr.ExprType.BOOLEAN, expr.ExprType.NULL):
                        errors.append(
                            FieldError(
                                "row_scope", "expr_type_mismatch", "a row scope must be a condition"
                            )
                        )
                except expr.ExprError as e:
                    errors.append(FieldError("row_scope", e.code, e.message, e.token))
        rules = spec.get("field_rules") or {}
        if not isinstance(rules, Mapping):
            errors.append(
                FieldError("field_rules", "invalid_field_rule", "field_rules is an object")
            )
            rules = {}
        for name, rule in rules.items():
            if rule not in FIELD_RULES:
                errors.append(
                    FieldError(
                        f"field_rules.{name}",
                        "invalid_field_rule",
                        f"{rule!r} is not one of hidden, read_only, masked",
                    )
                )
            elif obj is not None and obj.field(name) is None:
                errors.append(
                    FieldError(
                        f"field_rules.{name}", "unknown_field", f"{obj.name} has no field {name!r}"
                    )
                )
        if errors:
            raise ValidationFailed(errors)
        return {
            "role": role,
            "object_name": object_name,
            "operations": sorted(set(operations)),
            "row_scope": scope,
            "field_rules": dict(rules),
        }

    # Writing ------------------------------------------------------------------------------
    def save(
        self, spec: Mapping[str, Any], *, actor_id: int | None, conn: sa.Connection | None = None
    ) -> Policy:
        """Store a new version of the (role, object) policy; the previous one is kept."""
        clean = self.check(spec)
        if conn is None:
            with write_transaction(self.engine) as c:
                policy = self._save(c, clean, actor_id)
        else:
            policy = self._save(conn, clean, actor_id)
        self.invalidate()
        return policy

    def _save(self, conn: sa.Connection, clean: dict[str, Any], actor_id: int | None) -> Policy:
        key = (policies.c.role == clean["role"], policies.c.object_name == clean["object_name"])
        latest = conn.execute(sa.select(sa.func.max(policies.c.version)).where(*key)).scalar()
        conn.execute(policies.update().where(*key).values(active=False))
        new_id = conn.execute(
            policies.insert().values(
                **clean,
                version=(latest or 0) + 1,
                active=True,
                created_by=actor_id,
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
        _bump(conn)
        row = conn.execute(sa.select(policies).where(policies.c.id == new_id)).mappings().one()
        return _policy(row)

    def save_audited(self, spec: Mapping[str, Any], *, actor_id: int | None, audit: Any) -> Policy:
        """Save a policy version and its ``policy.change`` audit entry in one transaction."""
        with write_transaction(self.engine) as conn:
            policy = self.save(spec, actor_id=actor_id, conn=conn)
            audit.record(
                conn,
                action="policy.change",
                category="admin",
                actor_id=actor_id,
                data={"policy": policy.as_dict()},
            )
        self.invalidate()
        return policy

    def remove(self, role: str, object_name: str, *, conn: sa.Connection) -> None:
        """Withdraw a grant (the versions stay for the record)."""
        done = conn.execute(
            policies.update()
            .where(
                policies.c.role == role,
                policies.c.object_name == object_name,
                policies.c.active.is_(True),
            )
            .values(active=False)
        )
        if done.rowcount == 0:
            raise NotFound(
                f"no policy for {role} on {object_name}",
                code="policy_not_found",
                details={"role": role, "object_name": object_name},
            )
        _bump(conn)
        self.invalidate()

    def install_defaults(self) -> int:
        """Write the built-in policies into a workspace that has none."""
        with self.engine.connect() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(policies)).scalar():
                return 0
        specs = default_policies()
        with write_transaction(self.engine) as conn:
            for spec in specs:
                self._save(conn, self.check(spec), None)
            now = utcnow()
            for category, purposes in DEFAULT_CATEGORY_PURPOSES.items():
                conn.execute(
                    category_rules.insert().values(
                        category=category, purposes=purposes, updated_at=now
                    )
                )
        self.invalidate()
        logger.info("default policies installed", extra={"count": len(specs)})
        return len(specs)


def _policy(row: Mapping[str, Any]) -> Policy:
    return Policy(
        id=row["id"],
        role=row["role"],
        object_name=row["object_name"],
        version=row["version"],
        operations=frozenset(row["operations"]),
        row_scope=row["row_scope"],
        field_rules=dict(row["field_rules"] or {}),
    )


class PolicyEngine:
    """The AccessPolicy the record service consults, backed by the policy store."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store

    def version(self) -> int:
        """Changes whenever a policy changes (callers cache per version)."""
        return self.store.snapshot().version

    def _policies(self, principal: Principal, obj_name: str) -> list[Policy]:
        return self.store.snapshot().for_object(principal, obj_name)

    def check_operation(self, principal: Principal, obj: ObjectDef, operation: str) -> None:
        if principal.is_system:
            return
        if principal.user_id is None:
            raise Unauthorized("sign in to work with records")
        needed = "records:read" if operation in ("read", "export") else "records:write"
        if "*" not in principal.scopes and needed not in principal.scopes:
            raise Forbidden(
                f"this token's scopes ({', '.join(sorted(principal.scopes))}) do not allow "
                f"{operation}; it needs {needed}",
                code="token_scope",
                details={"operation": operation, "needed": needed},
            )
        if not any(operation in p.operations for p in self._policies(principal, obj.name)):
            raise Forbidden(
                f"your role may not {operation} {obj.name} records",
                code="operation_denied",
                details={"object": obj.name, "operation": operation},
            )

    def row_scope(self, principal: Principal, obj: ObjectDef) -> str | None:
        if principal.is_system:
            return None
        found = self._policies(principal, obj.name)
        if not found:
            return "1 = 0"
        if any(p.row_scope is None for p in found):
            return None
        return " or ".join(f"({p.row_scope})" for p in found)

    def read_level(self, principal: Principal, f: FieldDef) -> int:
        """How much of a field the principal may see: visible, masked or hidden."""
        if principal.is_system:
            return READ_VISIBLE
        snap = self.store.snapshot()
        category = f.options.get("category")
        allowed = snap.category_purposes.get(category) if category else None
        if allowed is not None and not (principal.purposes & allowed):
            return READ_HIDDEN
        best = READ_HIDDEN
        for p in snap.for_object(principal, f.object_name):
            rule = p.field_rules.get(f.name)
            level = {"hidden": READ_HIDDEN, "masked": READ_MASKED}.get(rule or "", READ_VISIBLE)
            best = max(best, level)
        return best

    def readable(self, principal: Principal, f: FieldDef) -> bool:
        return self.read_level(principal, f) > READ_HIDDEN

    def masked(self, principal: Principal, f: FieldDef) -> bool:
        return self.read_level(principal, f) == READ_MASKED

    def writable(self, principal: Principal, f: FieldDef) -> bool:
        if principal.is_system:
            return True
        return any(
            p.field_rules.get(f.name) in (None, "masked")
            for p in self._policies(principal, f.object_name)
            if p.operations & {"create", "update", "import"}
        )

    def check_schema_change(self, principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden(
                "only an admin may change objects and fields", code="schema_admin_required"
            )
