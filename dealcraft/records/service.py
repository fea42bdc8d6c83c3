"""The record service: the one gate for every read and write of records.

Every call takes a principal. The access policy is applied inside the SQL built here: the
row scope is a WHERE clause (and every other object a query touches is read through its own
scope), unreadable fields are left out of the SELECT, masked ones are masked as they are
serialised. Every write stores the row, its field history, its audit entry and an outbox
event in one transaction; events are handed on only after it commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dealcraft import expr
from dealcraft.access.masking import mask_value
from dealcraft.access.policy import AccessPolicy, BaselinePolicy
from dealcraft.access.principal import Principal
from dealcraft.db import system
from dealcraft.db.tx import write_transaction
from dealcraft.errors import (
    DealcraftError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from dealcraft.records.cursor import (
    SortKey,
    after_condition,
    decode_cursor,
    encode_cursor,
    order_clauses,
    parse_sort,
)
from dealcraft.records.scoping import ScopedSchema, parse_expression
from dealcraft.schema.model import SYSTEM_COLUMNS, FieldDef, ObjectDef
from dealcraft.schema.registry import SYSTEM_REFS, SchemaRegistry, SchemaView
from dealcraft.schema.service import utcnow
from dealcraft.schema.types import DateTimeType, handler_for

logger = logging.getLogger(__name__)

MAX_LIMIT = 500
SCOPED_CACHE_SIZE = 256
_DT = DateTimeType()
# The one system column an import may set, and only when asked (``keep_created_at``).
CREATED_AT = "created_at"
_CREATED_AT_FIELD = FieldDef(object_name="", name=CREATED_AT, type="datetime", labels={})


@dataclass
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class RowError:
    row: int  # 1-based data row number (the header is row 0)
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [r.as_dict() for r in self.rejected],
        }


class ImportRejected(ValidationFailed):
    """An all-or-nothing bulk write found bad rows; nothing was written."""

    def __init__(self, rejected: list[RowError]) -> None:
        first = rejected[0]
        super().__init__([FieldError(first.field, first.code, first.message)])
        self.code = "import_rejected"
        self.message = (
            f"{len(rejected)} row(s) are invalid, nothing was imported; first: row {first.row}, "
            f"{first.field}: {first.message}"
        )
        self.details = {"rejected": [r.as_dict() for r in rejected[:1000]], "count": len(rejected)}
        self.rejected = rejected


def _object_not_found(name: str) -> NotFound:
    return NotFound(f"no object named {name!r}", code="object_not_found", details={"object": name})


def _record_not_found(obj: ObjectDef, record_id: Any) -> NotFound:
    return NotFound(
        f"no {obj.name} with id {record_id}",
        code="record_not_found",
        details={"object": obj.name, "id": record_id},
    )


# A business rule on writes: (conn, principal, object, before or None, after) -> None.
WriteRule = Callable[
    [Connection, Principal, ObjectDef, "dict[str, Any] | None", dict[str, Any]], None
]


@dataclass
class _WritePlan:
    by_key: dict[str, tuple[FieldDef, Any, bool]]
    defaults: dict[str, dict[str, Any]]
    required: list[tuple[FieldDef, tuple[str, ...]]]


class ScopeViolation(Forbidden):
    """A write would put a record where its writer could not see it."""

    code = "scope_violation"


class RecordService:
    def __init__(
        self,
        engine: Engine,
        registry: SchemaRegistry,
        policy: AccessPolicy | None = None,
        after_commit: Callable[[list[dict[str, Any]]], None] | None = None,
        audit: Any = None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.policy: AccessPolicy = policy or BaselinePolicy()
        self.after_commit = after_commit
        self.audit = audit
        # Recent principals' scoped schemas, for one schema view and policy version each.
        self._scoped: OrderedDict[tuple[Any, ...], ScopedSchema] = OrderedDict()
        self._scoped_lock = threading.Lock()
        self._rules: list[WriteRule] = []

    def add_write_rule(self, rule: WriteRule) -> None:
        """Register a business rule run inside every write's transaction, before it is stored.

        ``rule(conn, principal, obj, before, after)`` gets the stored field values before
        (None on create) and after the write, and raises a DealcraftError to refuse it;
        the transaction then rolls back and nothing is written.
        """
        self._rules.append(rule)

    def _apply_rules(
        self,
        conn: Connection,
        principal: Principal,
        obj: ObjectDef,
        before: dict[str, Any] | None,
        after: dict[str, Any],
    ) -> None:
        for rule in self._rules:
            rule(conn, principal, obj, before, after)

    # Reading ----------------------------------------------------------------------------
    def get(
        self,
        principal: Principal,
        object_name: str,
        record_id: int,
        *,
        include_deleted: bool = False,
        unmask: Iterable[str] = (),
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """One record. ``unmask`` names masked fields to show in full (needs a purpose)."""
        scoped, obj = self._resolve(principal, object_name, "read")
        unmasked = self._check_unmask(scoped, obj, set(unmask))
        table = scoped.view.tables[obj.name]
        query = self._select(scoped, obj, table).where(table.c.id == record_id)
        if not include_deleted:
            query = query.where(table.c.deleted_at.is_(None))
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.engine.connect() as c:
                row = c.execute(query).mappings().first()
        if row is None:
            raise _record_not_found(obj, record_id)
        if unmasked and conn is None:
            self._audit_now(
                principal, "record.unmask", obj, record_id, {"fields": sorted(unmasked)}
            )
        elif conn is None:
            # A record opened with personal data in the clear is a sensitive read.
            shown = [
                f.name
                for f, _handler, masked in scoped.read_plan(obj)
                if not masked and f.options.get("category") == "personal" and row.get(f.name)
            ]
            if shown:
                self._audit_now(
                    principal, "record.read_sensitive", obj, record_id, {"fields": shown}
                )
        return self._serialise(scoped, obj, row, unmasked)

    def list(
        self,
        principal: Principal,
        object_name: str,
        *,
        where: str | None = None,
        sort: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        params: Mapping[str, Any] | None = None,
        operation: str = "read",
        fields: Sequence[str] | None = None,
    ) -> Page:
        """A page of records; ``operation="export"`` also requires the export grant.

        With ``fields``, each record carries only those fields (and its system fields): a
        page that shows the titles of referenced records need not compute their roll-ups.
        """
        scoped, obj = self._resolve(principal, object_name, "read")
        if operation != "read":
            self._check(principal, obj, operation)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(
                f"limit must be between 1 and {MAX_LIMIT}, got {limit}",
                code="invalid_limit",
                details={"field": "limit", "value": limit},
            )
        only = self._only_fields(scoped, obj, fields)
        table = scoped.view.tables[obj.name]
        query = self._select(scoped, obj, table, only).where(table.c.deleted_at.is_(None))
        if where:
            query = query.where(self._condition(scoped, obj, table, where, params))

        # Order by the requested keys, then id, and continue after the cursor's row.
        keys = parse_sort(sort)
        columns = [(key, self._sort_column(scoped, obj, table, key)) for key in keys]
        sort_text = ",".join(("-" if k.descending else "") + k.name for k in keys)
        if cursor:
            values, last_id = decode_cursor(cursor, sort_text, len(keys))
            query = query.where(after_condition(columns, values, last_id, table.c.id))
        query = query.order_by(*order_clauses(columns), table.c.id.asc()).limit(limit + 1)
        for i, (_key, column) in enumerate(columns):
            query = query.add_columns(column.label(f"__sort{i}"))

        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(
                sort_text, [last[f"__sort{i}"] for i in range(len(keys))], last["id"]
            )
        return Page([self._serialise(scoped, obj, row, only=only) for row in rows], next_cursor)

    @staticmethod
    def _only_fields(
        scoped: ScopedSchema, obj: ObjectDef, fields: Sequence[str] | None
    ) -> frozenset[str] | None:
        """The field names a sparse list asks for; a field hidden from the principal is as
        unknown as a missing one (its existence is not revealed)."""
        if fields is None:
            return None
        readable = {f.name for f in scoped.readable_fields(obj)}
        for name in fields:
            if name not in readable:
                raise InvalidInput(
                    f"{obj.name} has no field {name!r} you may read; list fields by name",
                    code="unknown_field",
                    details={"field": "fields", "value": name},
                )
        return frozenset(fields)

    def count(
        self,
        principal: Principal,
        object_name: str,
        *,
        where: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        scoped, obj = self._resolve(principal, object_name, "read")
        table = scoped.view.tables[obj.name]
        query = sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
        scope = scoped.row_scope(obj.name, table)
        if scope is not None:
            query = query.where(scope)
        if where:
            query = query.where(self._condition(scoped, obj, table, where, params))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def history(self, principal: Principal, object_name: str, record_id: int) -> list[dict]:
        """A record's field history, oldest first; needs read access to the record.

        A create entry shows the initial values: the stored row with every later change
        undone (each field's first recorded old value).
        """
        current = self.get(principal, object_name, record_id, include_deleted=True)
        scoped, obj = self._resolve(principal, object_name, "read")
        visible: dict[str, FieldDef] = {}
        for f in obj.fields:
            if f.archived or scoped.readable(f):
                for key in handler_for(f.type).keys(f):
                    visible[key] = f
        h = system.history
        query = (
            sa.select(h)
            .where(h.c.object_name == obj.name, h.c.record_id == record_id)
            .order_by(h.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()

        initial = {k: v for k, v in current.items() if k in visible}
        for row in reversed(rows):
            if row["operation"] == "update" and row["field"] in initial:
                initial[row["field"]] = row["old_value"]

        def shown(key: str | None, value: Any) -> Any:
            f = visible.get(key) if key else None
            if f is not None and scoped.masked(f):
                return mask_value(f.type, value)
            return value

        entries = []
        if not any(row["operation"] == "create" for row in rows):
            # Created in a batch: the creation is the row's own created_at and created_by.
            entries.append(
                {
                    "id": None,
                    "operation": "create",
                    "field": None,
                    "old_value": None,
                    "new_value": {k: shown(k, v) for k, v in initial.items()},
                    "version": 1,
                    "changed_by": current["created_by"],
                    "changed_at": current["created_at"],
                }
            )
        for row in rows:
            # A create entry on created_at is a record imported with its creation date kept.
            back_dated = row["operation"] == "create" and row["field"] == CREATED_AT
            if row["field"] is not None and row["field"] not in visible and not back_dated:
                continue
            new_value = row["new_value"]
            if row["operation"] == "create":
                stored = new_value if isinstance(new_value, dict) and not back_dated else initial
                new_value = {k: shown(k, v) for k, v in stored.items() if k in visible}
            else:
                new_value = shown(row["field"], new_value)
            entry = {
                "id": row["id"],
                "operation": row["operation"],
                "field": None if back_dated else row["field"],
                "old_value": None if back_dated else shown(row["field"], row["old_value"]),
                "new_value": new_value,
                "version": row["version"],
                "changed_by": row["changed_by"],
                "changed_at": _DT.dump(None, row["changed_at"]),  # type: ignore[arg-type]
            }
            if back_dated:
                entry["created_at_supplied"] = row["new_value"]
            entries.append(entry)
        return entries

    # Writing ----------------------------------------------------------------------------
    def create(
        self, principal: Principal, object_name: str, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        scoped, obj = self._resolve(principal, object_name, "create")
        values = self._prepare(scoped, obj, data, creating=True)
        events: list[dict[str, Any]] = []
        with write_transaction(self.engine) as conn:
            self._check_references(conn, scoped, obj, [values])
            record_id = self._insert_many(conn, principal, scoped, obj, [values], events)[0]
            self._check_in_scope(conn, scoped, obj, [record_id], "create")
            record = self.get(principal, obj.name, record_id, conn=conn)
        self._emit(events)
        return record

    def update(
        self,
        principal: Principal,
        object_name: str,
        record_id: int,
        data: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        scoped, obj = self._resolve(principal, object_name, "update")
        data = dict(data)
        if "version" in data:
            body_version = data.pop("version")
            if expected_version is None:
                expected_version = body_version
        values = self._prepare(scoped, obj, data, creating=False)
        events: list[dict[str, Any]] = []
        with write_transaction(self.engine) as conn:
            self._check_references(conn, scoped, obj, [values])
            self._update(conn, principal, scoped, obj, record_id, values, expected_version, events)
            self._check_in_scope(conn, scoped, obj, [record_id], "update")
            record = self.get(principal, obj.name, record_id, conn=conn)
        self._emit(events)
        return record

    def delete(
        self,
        principal: Principal,
        object_name: str,
        record_id: int,
        *,
        expected_version: int | None = None,
    ) -> None:
        """Soft-delete: the row is hidden from reads and can be restored."""
        self._set_deleted(principal, object_name, record_id, True, expected_version)

    def restore(self, principal: Principal, object_name: str, record_id: int) -> dict[str, Any]:
        self._set_deleted(principal, object_name, record_id, False, None)
        return self.get(principal, object_name, record_id)

    def bulk_create(
        self,
        principal: Principal,
        object_name: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        key: str | None = None,
        skip_bad_rows: bool = False,
        batch_size: int = 2000,
        progress: Callable[[int], None] | None = None,
        keep_created_at: bool = False,
    ) -> BulkResult:
        """Create many records in one transaction; with ``key``, update the matching ones.

        All-or-nothing unless ``skip_bad_rows``: a bad row raises ImportRejected and nothing
        is written. ``progress`` is called with the number of rows handled so far.

        With ``keep_created_at`` (admins and the system principal only), a row's
        ``created_at`` becomes the new record's creation date, for history imported from
        another system; the history and audit entries of the create say it was supplied and
        by whom. A row that updates an existing record keeps that record's creation date.
        Without it, ``created_at`` is refused like every other platform column.
        """
        if keep_created_at:
            # First: "only an admin may" is the answer even to someone who may not import.
            self.check_keep_created_at(principal, object_name)
        scoped, obj = self._resolve(principal, object_name, "import")
        self._check(principal, obj, "create")
        key_field = self._key_field(obj, key)
        result = BulkResult()
        now = utcnow()

        # Validate every row first, so a bad file writes nothing.
        prepared: list[tuple[int, dict[str, Any]]] = []
        # Per row number, the columns filled from defaults: an upsert leaves those alone.
        defaults: dict[int, set[str]] = {}
        plan = self._write_plan(scoped, obj)
        for number, data in enumerate(rows, start=1):
            errors: list[FieldError] = []
            created_at = None
            if keep_created_at and isinstance(data, Mapping) and CREATED_AT in data:
                data = dict(data)
                try:
                    created_at = supplied_created_at(data.pop(CREATED_AT), now)
                except FieldError as e:
                    errors.append(e)
            try:
                defaults[number] = set()
                values = self._prepare(
                    scoped, obj, data, creating=True, defaulted=defaults[number], plan=plan
                )
            except ValidationFailed as e:
                errors.extend(e.errors)
            if errors:
                result.rejected.extend(
                    RowError(number, err.field, err.code, err.message) for err in errors
                )
                continue
            if created_at is not None:
                values[CREATED_AT] = created_at
            prepared.append((number, values))
        if result.rejected and not skip_bad_rows:
            raise ImportRejected(result.rejected)

        events: list[dict[str, Any]] = []
        with write_transaction(self.engine) as conn:
            bad_refs = self._check_references(
                conn, scoped, obj, [v for _, v in prepared], collect=True
            )
            if bad_refs:
                rejected = [
                    RowError(prepared[i][0], err.field, err.code, err.message)
                    for i, err in bad_refs
                ]
                if not skip_bad_rows:
                    raise ImportRejected(sorted(result.rejected + rejected, key=lambda r: r.row))
                result.rejected.extend(rejected)
                bad = {i for i, _ in bad_refs}
                prepared = [p for i, p in enumerate(prepared) if i not in bad]

            # With a key, rows matching an existing record update it instead.
            existing: dict[Any, int] = {}
            if key_field is not None:
                existing = self._existing_keys(conn, scoped, obj, key_field, prepared)
            inserts: list[dict[str, Any]] = []
            done = 0
            for number, values in prepared:
                match = existing.get(values.get(key_field)) if key_field else None
                if match is not None:
                    # An update leaves the defaults, and the record's creation date, alone.
                    skipped = defaults[number] | {CREATED_AT}
                    given = {c: v for c, v in values.items() if c not in skipped}
                    changed = self._update(conn, principal, scoped, obj, match, given, None, events)
                    if changed:
                        self._check_in_scope(conn, scoped, obj, [match], "import")
                        result.updated += 1
                    else:
                        result.unchanged += 1
                else:
                    inserts.append(values)
                done += 1
                if len(inserts) >= batch_size:
                    result.ids += self._insert_batch(conn, principal, scoped, obj, inserts, events)
                    inserts = []
                    if progress:
                        progress(done)
            if inserts:
                result.ids += self._insert_batch(conn, principal, scoped, obj, inserts, events)
            if progress:
                progress(done)
            result.created = len(result.ids)
        self._emit(events)
        return result

    def check_keep_created_at(self, principal: Principal, object_name: str) -> None:
        """Refuse ``keep_created_at`` to anyone but an admin or the system principal.

        Setting a creation date back-dates a record: it changes sales-cycle and ageing
        figures, so it is an admin's act (Salesforce's "set audit fields" permission).
        """
        if principal.is_admin:
            return
        obj = self.registry.view().objects.get(object_name)
        if obj is None:
            raise _object_not_found(object_name)
        if principal.user_id is None:
            # Signed out: refused as every other request of theirs is (unauthorized).
            self.policy.check_operation(principal, obj, "import")
        roles = ", ".join(sorted(principal.roles)) or "no role"
        error = Forbidden(
            f"only an admin may keep the created_at of imported records (keep_created_at); "
            f"{principal.username} has {roles}",
            code="audit_fields_not_allowed",
            details={"field": CREATED_AT, "object": obj.name, "operation": "keep_created_at"},
        )
        self._audit_now(
            principal,
            "access.denied",
            obj,
            None,
            {"operation": "keep_created_at", "code": error.code},
            category="access",
        )
        raise error

    # Internals: authorisation ------------------------------------------------------------
    def _resolve(
        self, principal: Principal, object_name: str, operation: str
    ) -> tuple[ScopedSchema, ObjectDef]:
        view = self.registry.view()
        obj = view.objects.get(object_name)
        if obj is None:
            raise _object_not_found(object_name)
        self._check(principal, obj, operation)
        return self._scoped_schema(view, principal), obj

    def _scoped_schema(self, view: SchemaView, principal: Principal) -> ScopedSchema:
        version = getattr(self.policy, "version", None)
        key = (principal, id(view), version() if version else 0)
        with self._scoped_lock:
            scoped = self._scoped.get(key)
            if scoped is not None and scoped.view is view:
                self._scoped.move_to_end(key)
                return scoped
        scoped = ScopedSchema(view, self.policy, principal)
        with self._scoped_lock:
            self._scoped[key] = scoped
            while len(self._scoped) > SCOPED_CACHE_SIZE:
                self._scoped.popitem(last=False)
        return scoped

    def _check(self, principal: Principal, obj: ObjectDef, operation: str) -> None:
        try:
            self.policy.check_operation(principal, obj, operation)
        except Forbidden as e:
            self._audit_now(
                principal,
                "access.denied",
                obj,
                None,
                {"operation": operation, "code": e.code},
                category="access",
            )
            raise

    def _check_unmask(self, scoped: ScopedSchema, obj: ObjectDef, names: set[str]) -> set[str]:
        if not names:
            return set()
        principal = scoped.principal
        if not principal.purposes:
            raise InvalidInput(
                "unmasking a value needs a declared purpose (X-Dealcraft-Purpose)",
                code="purpose_required",
                details={"field": "unmask"},
            )
        for name in names:
            f = obj.field(name)
            if f is None or not scoped.readable(f):
                raise InvalidInput(
                    f"{obj.name} has no field {name!r} to unmask",
                    code="unknown_field",
                    details={"field": "unmask", "token": name},
                )
        return {n for n in names if scoped.masked(obj.field(n))}  # type: ignore[arg-type]

    def _check_in_scope(
        self, conn: Connection, scoped: ScopedSchema, obj: ObjectDef, ids: list[int], op: str
    ) -> None:
        """Check semantics: a write may not leave a record outside its writer's scope."""
        table = scoped.view.tables[obj.name]
        scope = scoped.row_scope(obj.name, table)
        if scope is None or not ids:
            return
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            seen = set(
                conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk), scope)).scalars()
            )
            outside = [i for i in chunk if i not in seen]
            if outside:
                raise ScopeViolation(
                    f"this {op} would put {obj.name} {outside[0]} outside the records you may "
                    "work with; check its owner, region or account",
                    details={"object": obj.name, "id": outside[0], "operation": op},
                )

    # Internals: SQL -----------------------------------------------------------------------
    def _select(
        self,
        scoped: ScopedSchema,
        obj: ObjectDef,
        table: sa.Table,
        only: frozenset[str] | None = None,
    ) -> sa.Select:
        """The principal's SELECT of ``obj``: readable columns, computed fields, row scope
        (with ``only``, just those fields besides the system columns)."""
        cache_key = obj.name if only is None else f"{obj.name}:{','.join(sorted(only))}"
        cached = scoped.statements.get(cache_key)
        if cached is None:
            columns: list[Any] = [table.c[name] for name in SYSTEM_COLUMNS]
            columns.append(table.c.deleted_at)
            for f in scoped.readable_fields(obj):
                if only is not None and f.name not in only:
                    continue
                handler = handler_for(f.type)
                if handler.stored:
                    columns.extend(table.c[c] for c in scoped.view.column_names(f))
                else:
                    columns.append(handler.sql(f, f.name, table, scoped).label(f.name))
            cached = sa.select(*columns)
            scope = scoped.row_scope(obj.name, table)
            if scope is not None:
                cached = cached.where(scope)
            scoped.statements[cache_key] = cached
        return cached

    def _condition(
        self,
        scoped: ScopedSchema,
        obj: ObjectDef,
        table: sa.Table,
        where: str,
        params: Mapping[str, Any] | None,
    ) -> Any:
        merged = {**(params or {}), **scoped.principal.expression_params()}
        try:
            checked = expr.check(parse_expression(where), scoped, obj.name, merged)
        except expr.ExprError as e:
            raise InvalidInput(
                e.message, code=e.code, details={"field": "where", **e.to_details()}
            ) from e
        if checked.type not in (expr.ExprType.BOOLEAN, expr.ExprType.NULL):
            raise InvalidInput(
                f"where must be a condition (true or false), not a {checked.type.name.lower()}",
                code="expr_type_mismatch",
                details={"field": "where", "expression": where, "position": 0},
            )
        return expr.to_sql(checked, scoped, table, merged, predicate=True)

    def _sort_column(
        self, scoped: ScopedSchema, obj: ObjectDef, table: sa.Table, key: SortKey
    ) -> Any:
        if key.name in SYSTEM_REFS:
            return table.c[key.name]
        f = scoped.view.field_for_key(obj.name, key.name)
        # Sorting by a hidden or masked field would leak its order: it does not exist here.
        if f is None or not scoped.readable(f) or scoped.masked(f):
            raise InvalidInput(
                f"cannot sort by {key.name!r}: no such field on {obj.name}",
                code="invalid_sort",
                details={"field": "sort", "token": key.name},
            )
        if not handler_for(f.type).sortable:
            raise InvalidInput(
                f"cannot sort by {key.name!r}: {f.type} fields are not sortable",
                code="invalid_sort",
                details={"field": "sort", "token": key.name},
            )
        return scoped.column(obj.name, key.name, table)

    def _serialise(
        self,
        scoped: ScopedSchema,
        obj: ObjectDef,
        row: Mapping[str, Any],
        unmasked: set[str] | frozenset[str] = frozenset(),
        only: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": row["id"],
            "version": row["version"],
            "created_at": _DT.dump(None, row["created_at"]),  # type: ignore[arg-type]
            "updated_at": _DT.dump(None, row["updated_at"]),  # type: ignore[arg-type]
            "created_by": row["created_by"],
            "updated_by": row["updated_by"],
        }
        if row["deleted_at"] is not None:
            record["deleted_at"] = _DT.dump(None, row["deleted_at"])  # type: ignore[arg-type]
        for f, handler, masked in scoped.read_plan(obj):
            if only is not None and f.name not in only:
                continue
            values = handler.read(f, row)
            if masked and f.name not in unmasked:
                values = {k: mask_value(f.type, v) for k, v in values.items()}
            record.update(values)
        return record

    # Internals: validation ---------------------------------------------------------------
    def _write_plan(self, scoped: ScopedSchema, obj: ObjectDef) -> _WritePlan:
        """What writing a record of ``obj`` takes, worked out once per call."""
        by_key: dict[str, tuple[FieldDef, Any, bool]] = {}
        defaults: dict[str, dict[str, Any]] = {}
        required: list[tuple[FieldDef, tuple[str, ...]]] = []
        for f in obj.active_fields:
            handler = handler_for(f.type)
            writable = self.policy.writable(scoped.principal, f)
            for key in handler.keys(f):
                by_key[key] = (f, handler, writable)
            default = handler.default(f)
            if default:
                defaults[f.name] = default
            if f.required and handler.stored:
                main = tuple(c for c in scoped.view.column_names(f) if not c.endswith("_currency"))
                required.append((f, main))
        return _WritePlan(by_key, defaults, required)

    def _prepare(
        self,
        scoped: ScopedSchema,
        obj: ObjectDef,
        data: Mapping[str, Any],
        *,
        creating: bool,
        defaulted: set[str] | None = None,
        plan: _WritePlan | None = None,
    ) -> dict[str, Any]:
        """Column values from an API payload; every bad field is reported at once.

        The columns filled from field defaults (not from ``data``) are added to ``defaulted``.
        """
        if not isinstance(data, Mapping):
            raise ValidationFailed(
                [FieldError("body", "invalid_body", "a record is a JSON object")]
            )
        plan = plan or self._write_plan(scoped, obj)
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        given: set[str] = set()
        for key in data:
            entry = plan.by_key.get(key)
            if entry is None:
                if key in SYSTEM_COLUMNS or key == "deleted_at":
                    errors.append(
                        FieldError(key, "read_only_field", f"{key} is set by the platform")
                    )
                else:
                    errors.append(
                        FieldError(key, "unknown_field", f"{obj.name} has no field {key!r}", key)
                    )
                continue
            f, handler, writable = entry
            if f.name in given:
                continue
            given.add(f.name)
            if not writable:
                errors.append(FieldError(f.name, "read_only_field", f"{f.name} is read-only"))
                continue
            try:
                values.update(handler.write(f, data))
            except FieldError as e:
                errors.append(e)
        if creating:
            for name, default in plan.defaults.items():
                if name not in given:
                    values.update(default)
                    if defaulted is not None:
                        defaulted.update(default)
        failed = {e.field for e in errors}
        for f, main in plan.required:
            if (creating or f.name in given) and f.name not in failed:
                if all(values.get(c) is None for c in main):
                    errors.append(FieldError(f.name, "required", f"{f.name} is required"))
        if errors:
            # Unknown keys first, then the fields' errors in the object's field order.
            order = {key: i for i, key in enumerate(plan.by_key)}
            errors.sort(key=lambda e: order.get(e.field, -1))
            raise ValidationFailed(errors)
        return values

    def _check_references(
        self,
        conn: Connection,
        scoped: ScopedSchema,
        obj: ObjectDef,
        rows: list[dict[str, Any]],
        *,
        collect: bool = False,
    ) -> list[tuple[int, FieldError]]:
        """Refuse references to records that do not exist, are deleted, or are out of scope."""
        problems: list[tuple[int, FieldError]] = []
        for f in obj.active_fields:
            if f.type not in ("reference", "user"):
                continue
            handler = handler_for(f.type)
            column = handler.column_name(f)  # type: ignore[attr-defined]
            wanted = {r[column] for r in rows if r.get(column) is not None}
            if not wanted:
                continue
            target_name = handler.target(f)  # type: ignore[attr-defined]
            target = scoped.view.tables[target_name]
            scope = scoped.row_scope(target_name, target)
            found: set[int] = set()
            # An id beyond 64 bits names no record (and SQLite cannot even bind it).
            ids = sorted(i for i in wanted if abs(i) < 2**63)
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                query = sa.select(target.c.id).where(
                    target.c.id.in_(chunk), target.c.deleted_at.is_(None)
                )
                found.update(conn.execute(query if scope is None else query.where(scope)).scalars())
            missing = wanted - found
            for i, r in enumerate(rows):
                if r.get(column) in missing:
                    error = FieldError(
                        f.name,
                        "invalid_reference",
                        f"{f.name}: no {target_name} with id {r[column]}",
                        r[column],
                    )
                    if not collect:
                        raise ValidationFailed([error])
                    problems.append((i, error))
        return problems

    def _key_field(self, obj: ObjectDef, key: str | None) -> str | None:
        if key is None:
            return None
        f = obj.field(key)
        if f is None or not handler_for(f.type).stored:
            raise InvalidInput(
                f"cannot de-duplicate on {key!r}: no stored field of that name on {obj.name}",
                code="invalid_key",
                details={"field": "key", "value": key},
            )
        columns = handler_for(f.type).columns(f)
        return columns[0].name

    def _existing_keys(
        self, conn: Connection, scoped: ScopedSchema, obj: ObjectDef, column: str, prepared: list
    ) -> dict[Any, int]:
        table = scoped.view.tables[obj.name]
        wanted = sorted({v[column] for _, v in prepared if v.get(column) is not None}, key=str)
        found: dict[Any, int] = {}
        scope = scoped.row_scope(obj.name, table)
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            query = sa.select(table.c.id, table.c[column]).where(
                table.c[column].in_(chunk), table.c.deleted_at.is_(None)
            )
            if scope is not None:
                query = query.where(scope)
            for row in conn.execute(query):
                found.setdefault(row[1], row[0])
        return found

    # Internals: writes -------------------------------------------------------------------
    def _insert_batch(
        self,
        conn: Connection,
        principal: Principal,
        scoped: ScopedSchema,
        obj: ObjectDef,
        rows: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> list[int]:
        ids = self._insert_many(conn, principal, scoped, obj, rows, events)
        self._check_in_scope(conn, scoped, obj, ids, "import")
        return ids

    def _allocate_ids(self, conn: Connection, table: sa.Table, n: int) -> list[int]:
        """Ids for ``n`` new rows, so a batch inserts with one plain executemany.

        On SQLite the transaction holds the write lock (BEGIN IMMEDIATE), so the next ids
        after the current maximum are ours; on PostgreSQL they come from the id sequence.
        """
        if conn.dialect.name == "postgresql":
            sequence = conn.execute(
                sa.select(sa.func.pg_get_serial_sequence(table.name, "id"))
            ).scalar()
            return list(
                conn.execute(
                    sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, n))
                ).scalars()
            )
        start = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar()
        return list(range(int(start) + 1, int(start) + 1 + n))

    def _insert_many(
        self,
        conn: Connection,
        principal: Principal,
        scoped: ScopedSchema,
        obj: ObjectDef,
        rows: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> list[int]:
        """Insert rows with their history, audit and outbox entries. Assumes checked values.

        The create history entry stores no values: the row itself holds them, and later
        updates record each old value, so ``history`` can show the initial state.
        """
        table = scoped.view.tables[obj.name]
        now = utcnow()
        actor = principal.user_id
        for row in rows if self._rules else ():
            self._apply_rules(conn, principal, obj, None, self._snapshot(scoped.view, obj, row))
        # One row: let the database assign its id; a batch gets its ids first, so it inserts
        # with one plain executemany.
        ids = self._allocate_ids(conn, table, len(rows)) if len(rows) > 1 else [None]
        stamp = {
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": actor,
            "updated_by": actor,
        }
        # Every row gets every column so one executemany statement serves the batch; a
        # created_at supplied by an admin's import replaces the stamp's.
        all_columns = sorted({c for r in rows for c in r})
        full = [
            {**{c: r.get(c) for c in all_columns}, **stamp, "id": rid}
            for rid, r in zip(ids, rows, strict=True)
        ]
        back_dated = [i for i, r in enumerate(rows) if r.get(CREATED_AT) is not None]
        for i in back_dated:
            full[i][CREATED_AT] = rows[i][CREATED_AT]
        if len(rows) == 1:
            del full[0]["id"]
            ids = [conn.execute(table.insert().values(full[0])).inserted_primary_key[0]]
        else:
            conn.execute(table.insert(), full)
        # A back-dated record gets its own create entry naming the date supplied and by
        # whom, dated when it was really written.
        supplied = {
            i: {
                "created_at": _DT.dump(None, rows[i][CREATED_AT]),  # type: ignore[arg-type]
                "supplied_by": principal.username,
            }
            for i in back_dated
        }
        if len(rows) == 1 or supplied:
            conn.execute(
                system.history.insert(),
                [
                    {
                        "object_name": obj.name,
                        "record_id": ids[i],
                        "operation": "create",
                        "field": CREATED_AT if i in supplied else None,
                        "old_value": None,
                        "new_value": supplied.get(i),
                        "version": 1,
                        "changed_by": actor,
                        "changed_at": now,
                    }
                    for i in (supplied if len(rows) > 1 else [0])
                ],
            )
            new_events = [
                {
                    "event_type": "record.created",
                    "object_name": obj.name,
                    "record_id": ids[0],
                    "payload": {"version": 1},
                    "actor_id": actor,
                    "created_at": now,
                }
            ]
        else:
            # A batch is one write: one event naming its records. Their creation (who, when)
            # is in the rows themselves, so history shows it without a row per record.
            new_events = [
                {
                    "event_type": "records.created",
                    "object_name": obj.name,
                    "record_id": None,
                    "payload": {"ids": ids, "version": 1},
                    "actor_id": actor,
                    "created_at": now,
                }
            ]
        conn.execute(system.outbox.insert(), new_events)
        events.extend(new_events)
        if self.audit is not None and len(rows) == 1:
            self.audit.record(
                conn,
                action="record.create",
                category="data",
                actor_id=actor,
                object_name=obj.name,
                record_id=ids[0],
                data={"new": self._snapshot(scoped.view, obj, rows[0]), **_supplied_note(supplied)},
                purpose=_purpose(principal),
            )
        elif self.audit is not None:
            # One entry per batch: the ids, and a digest of exactly what was written.
            digest = hashlib.sha256(
                json.dumps(full, default=str, sort_keys=True, ensure_ascii=False).encode()
            ).hexdigest()
            self.audit.record(
                conn,
                action="record.create",
                category="data",
                actor_id=actor,
                object_name=obj.name,
                record_id=ids[0],
                data={
                    "ids": [ids[0], ids[-1]],
                    "count": len(ids),
                    "sha256": digest,
                    **_supplied_note(supplied),
                },
                purpose=_purpose(principal),
            )
        return ids

    def _update(
        self,
        conn: Connection,
        principal: Principal,
        scoped: ScopedSchema,
        obj: ObjectDef,
        record_id: int,
        values: dict[str, Any],
        expected_version: int | None,
        events: list[dict[str, Any]],
    ) -> bool:
        """Apply changed values under optimistic concurrency. Returns whether anything changed."""
        table = scoped.view.tables[obj.name]
        query = sa.select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        scope = scoped.row_scope(obj.name, table)
        if scope is not None:
            query = query.where(scope)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=table)
        current = conn.execute(query).mappings().first()
        if current is None:
            raise _record_not_found(obj, record_id)
        if expected_version is not None and int(expected_version) != current["version"]:
            raise self._conflict(obj, record_id, expected_version, current["version"])

        view = scoped.view
        before = self._snapshot(view, obj, current)
        changed = {c: v for c, v in values.items() if current[c] != v}
        if not changed:
            return False
        after = self._snapshot(view, obj, {**current, **changed})
        self._apply_rules(
            conn, principal, obj, {**before, "id": record_id}, {**after, "id": record_id}
        )
        now = utcnow()
        version = current["version"] + 1
        result = conn.execute(
            table.update()
            .where(table.c.id == record_id, table.c.version == current["version"])
            .values(**changed, version=version, updated_at=now, updated_by=principal.user_id)
        )
        if result.rowcount != 1:
            raise self._conflict(obj, record_id, current["version"], None)

        diff = {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
        conn.execute(
            system.history.insert(),
            [
                {
                    "object_name": obj.name,
                    "record_id": record_id,
                    "operation": "update",
                    "field": k,
                    "old_value": old,
                    "new_value": new,
                    "version": version,
                    "changed_by": principal.user_id,
                    "changed_at": now,
                }
                for k, (old, new) in diff.items()
            ],
        )
        event = {
            "event_type": "record.updated",
            "object_name": obj.name,
            "record_id": record_id,
            "payload": {"changes": diff, "version": version},
            "actor_id": principal.user_id,
            "created_at": now,
        }
        conn.execute(system.outbox.insert(), [event])
        events.append(event)
        if self.audit is not None:
            self.audit.record(
                conn,
                action="record.update",
                category="data",
                actor_id=principal.user_id,
                object_name=obj.name,
                record_id=record_id,
                data={
                    "old": {k: v[0] for k, v in diff.items()},
                    "new": {k: v[1] for k, v in diff.items()},
                },
                purpose=_purpose(principal),
            )
        return True

    def _set_deleted(
        self,
        principal: Principal,
        object_name: str,
        record_id: int,
        deleted: bool,
        expected_version: int | None,
    ) -> None:
        scoped, obj = self._resolve(principal, object_name, "delete")
        table = scoped.view.tables[obj.name]
        events: list[dict[str, Any]] = []
        with write_transaction(self.engine) as conn:
            query = sa.select(table.c.id, table.c.version).where(
                table.c.id == record_id,
                table.c.deleted_at.is_(None) if deleted else table.c.deleted_at.is_not(None),
            )
            scope = scoped.row_scope(obj.name, table)
            if scope is not None:
                query = query.where(scope)
            current = conn.execute(query).first()
            if current is None:
                raise _record_not_found(obj, record_id)
            if expected_version is not None and int(expected_version) != current.version:
                raise self._conflict(obj, record_id, expected_version, current.version)
            now = utcnow()
            version = current.version + 1
            conn.execute(
                table.update()
                .where(table.c.id == record_id)
                .values(
                    deleted_at=now if deleted else None,
                    version=version,
                    updated_at=now,
                    updated_by=principal.user_id,
                )
            )
            operation = "delete" if deleted else "restore"
            conn.execute(
                system.history.insert().values(
                    object_name=obj.name,
                    record_id=record_id,
                    operation=operation,
                    version=version,
                    changed_by=principal.user_id,
                    changed_at=now,
                )
            )
            event = {
                "event_type": "record.deleted" if deleted else "record.restored",
                "object_name": obj.name,
                "record_id": record_id,
                "payload": {"version": version},
                "actor_id": principal.user_id,
                "created_at": now,
            }
            conn.execute(system.outbox.insert(), [event])
            events.append(event)
            if self.audit is not None:
                self.audit.record(
                    conn,
                    action=f"record.{operation}",
                    category="data",
                    actor_id=principal.user_id,
                    object_name=obj.name,
                    record_id=record_id,
                    data={"version": version},
                    purpose=_purpose(principal),
                )
        self._emit(events)

    @staticmethod
    def _snapshot(view: SchemaView, obj: ObjectDef, row: Mapping[str, Any]) -> dict[str, Any]:
        """JSON values of the stored fields in ``row`` (for history and events)."""
        snap: dict[str, Any] = {}
        for f, handler, columns in view.stored_columns(obj.name):
            if any(c in row for c in columns):
                snap.update(handler.read(f, row))
        return snap

    @staticmethod
    def _conflict(obj: ObjectDef, record_id: int, expected: Any, actual: Any) -> VersionConflict:
        return VersionConflict(
            f"{obj.name} {record_id} was changed by someone else (your version {expected}, "
            f"current {actual}); reload it and apply your change again",
            details={"object": obj.name, "id": record_id, "expected": expected, "current": actual},
        )

    def _audit_now(
        self,
        principal: Principal,
        action: str,
        obj: ObjectDef,
        record_id: int | None,
        data: dict[str, Any],
        category: str = "data",
    ) -> None:
        """An audit entry in its own transaction (reads and refusals write nothing else)."""
        if self.audit is None or principal.is_system:
            return
        try:
            with write_transaction(self.engine) as conn:
                self.audit.record(
                    conn,
                    action=action,
                    category=category,
                    actor_id=principal.user_id,
                    object_name=obj.name,
                    record_id=record_id,
                    data=data,
                    purpose=_purpose(principal),
                )
        except DealcraftError:
            logger.exception("audit entry not written", extra={"action": action})
            raise

    def _emit(self, events: list[dict[str, Any]]) -> None:
        """Called only after commit: wake the dispatcher (the outbox row is the guarantee)."""
        if events and self.after_commit is not None:
            self.after_commit(events)


def _purpose(principal: Principal) -> str | None:
    return next(iter(sorted(principal.purposes)), None)


def supplied_created_at(value: Any, now: datetime) -> datetime | None:
    """A creation date an import supplies, as naive UTC; None when the value is blank.

    ISO 8601 text or a datetime; a date (or a date-time without a zone) is read as UTC, so
    ``2025-03-01`` is midnight UTC. A date after ``now`` is refused: history is in the past.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    try:
        moment = _DT.parse(_CREATED_AT_FIELD, value)
    except FieldError as e:
        raise FieldError(
            CREATED_AT,
            "invalid_datetime",
            f"{CREATED_AT}: {value!r} is not a date-time; write ISO 8601, e.g. 2025-03-01 or "
            "2025-03-01T09:30:00Z",
            str(value),
        ) from e
    if moment > now:
        shown = _DT.dump(None, moment)  # type: ignore[arg-type]
        raise FieldError(
            CREATED_AT,
            "created_at_in_future",
            f"{CREATED_AT} {shown} is in the future; a kept creation date must be before now",
            shown,
        )
    return moment


def _supplied_note(supplied: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """The audit data saying that creation dates were supplied, and by whom."""
    if not supplied:
        return {}
    dates = sorted(s["created_at"] for s in supplied.values())
    by = next(iter(supplied.values()))["supplied_by"]
    return {
        "created_at_supplied": {
            "by": by,
            "count": len(supplied),
            "earliest": dates[0],
            "latest": dates[-1],
        }
    }
