"""The schema as one immutable snapshot (``SchemaView``) and the registry that keeps it fresh.

A view knows every object and field, the SQLAlchemy table of each object, and how each
field reads in the expression language. Every schema change bumps ``schema_version`` in
``dc_meta``; other processes notice within ``schema_refresh_seconds`` and reload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dealcraft import expr
from dealcraft.db import system
from dealcraft.errors import FieldError
from dealcraft.expr import ExprType, FieldRef
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.types import ROLLUP_AGGREGATES, handler_for

logger = logging.getLogger(__name__)

SYSTEM_REFS = {
    "id": FieldRef("id", ExprType.NUMBER),
    "version": FieldRef("version", ExprType.NUMBER),
    "created_at": FieldRef("created_at", ExprType.DATETIME),
    "updated_at": FieldRef("updated_at", ExprType.DATETIME),
    "created_by": FieldRef("created_by", ExprType.NUMBER, target="user"),
    "updated_by": FieldRef("updated_by", ExprType.NUMBER, target="user"),
}


def table_name_for(object_name: str) -> str:
    return f"obj_{object_name}"


def base_columns() -> list[sa.Column]:
    """The columns of every record table, before its fields."""
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("updated_by", sa.BigInteger),
        sa.Column("deleted_at", sa.DateTime),
    ]


class _Tables(Mapping[str, sa.Table]):
    """The SQLAlchemy table of each object of a view, built when first asked for."""

    def __init__(self, view: SchemaView) -> None:
        self._view = view
        self._built: dict[str, sa.Table] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> sa.Table:
        table = self._built.get(name)
        if table is None:
            obj = self._view.objects[name]
            with self._lock:
                table = self._built.get(name)
                if table is None:
                    table = self._built[name] = self._view._build_table(obj)
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._view.objects)

    def __len__(self) -> int:
        return len(self._view.objects)


class SchemaView:
    """An immutable snapshot of all objects and fields, with their tables."""

    def __init__(self, objects: Mapping[str, ObjectDef], version: int = 0) -> None:
        self.objects: dict[str, ObjectDef] = dict(objects)
        self.version = version
        self.metadata = sa.MetaData()
        # Built on first use: views are made for every step of a schema change.
        self.tables: Mapping[str, sa.Table] = _Tables(self)
        self._formulas: dict[tuple[str, str], expr.Checked] = {}
        self._name_cache: dict[str, tuple[dict[str, FieldRef], dict[str, FieldDef]]] = {}
        self._stored_cache: dict[str, list[tuple[FieldDef, Any, tuple[str, ...]]]] = {}
        self._keys_cache: dict[str, dict[str, FieldDef]] = {}
        self._column_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._paths_cache: dict[tuple[str, str], set[tuple[str, str]]] = {}

    # Tables -----------------------------------------------------------------------------
    def _build_table(self, obj: ObjectDef) -> sa.Table:
        columns = base_columns()
        for f in obj.fields:
            columns.extend(handler_for(f.type).columns(f))
        return sa.Table(obj.table_name, self.metadata, *columns)

    def object(self, name: str) -> ObjectDef:
        return self.objects[name]

    def with_object(self, obj: ObjectDef) -> SchemaView:
        """A view with ``obj`` added or replaced, used to validate a change before saving it."""
        objects = dict(self.objects)
        objects[obj.name] = obj
        return SchemaView(objects, self.version)

    # Expression language: catalog --------------------------------------------------------
    def lookup(self, object_name: str, field_name: str) -> FieldRef | None:
        obj = self.objects.get(object_name)
        if obj is None:
            return None
        if field_name in SYSTEM_REFS:
            return SYSTEM_REFS[field_name]
        return self._names(object_name)[0].get(field_name)

    def field_for_key(self, object_name: str, key: str) -> FieldDef | None:
        """The active field that owns expression name or JSON key ``key``."""
        return self._names(object_name)[1].get(key)

    def _names(self, object_name: str) -> tuple[dict[str, FieldRef], dict[str, FieldDef]]:
        """Expression names and JSON keys of an object's active fields, computed once."""
        cached = self._name_cache.get(object_name)
        if cached is None:
            refs: dict[str, FieldRef] = {}
            owners: dict[str, FieldDef] = {}
            for f in self.objects[object_name].active_fields:
                handler = handler_for(f.type)
                for name, ref in handler.expr_refs(f).items():
                    refs[name] = ref
                    owners[name] = f
                for key in handler.keys(f):
                    owners[key] = f
            cached = self._name_cache[object_name] = (refs, owners)
        return cached

    def json_keys(self, object_name: str) -> dict[str, FieldDef]:
        """The JSON keys a record of the object may carry, with the field owning each."""
        cached = self._keys_cache.get(object_name)
        if cached is None:
            cached = {
                key: f
                for f in self.objects[object_name].active_fields
                for key in handler_for(f.type).keys(f)
            }
            self._keys_cache[object_name] = cached
        return cached

    def column_names(self, f: FieldDef) -> tuple[str, ...]:
        """The stored columns of a field, computed once per view."""
        key = (f.object_name, f.name)
        cached = self._column_cache.get(key)
        if cached is None:
            cached = tuple(c.name for c in handler_for(f.type).columns(f))
            self._column_cache[key] = cached
        return cached

    def stored_columns(self, object_name: str) -> list[tuple[FieldDef, Any, tuple[str, ...]]]:
        """(field, handler, column names) of the active stored fields, computed once."""
        cached = self._stored_cache.get(object_name)
        if cached is None:
            cached = []
            for f in self.objects[object_name].active_fields:
                handler = handler_for(f.type)
                if handler.stored:
                    cached.append((f, handler, tuple(c.name for c in handler.columns(f))))
            self._stored_cache[object_name] = cached
        return cached

    # Expression language: binder ---------------------------------------------------------
    def table(self, object_name: str) -> sa.FromClause:
        return self.tables[object_name].alias()

    def id_column(self, object_name: str, table: sa.FromClause) -> Any:
        return table.c.id

    def column(
        self, object_name: str, field_name: str, table: sa.FromClause, binder: Any = None
    ) -> Any:
        if field_name in SYSTEM_REFS:
            return table.c[field_name]
        f = self.field_for_key(object_name, field_name)
        if f is None:
            raise KeyError(f"{object_name}.{field_name}")
        return handler_for(f.type).sql(f, field_name, table, binder or self)

    # Formulas ------------------------------------------------------------------------------
    def check_formula(self, f: FieldDef, expression: str) -> expr.Checked:
        """Check a formula's expression and refuse a cycle through other computed fields."""
        try:
            checked = expr.check(expression, self, f.object_name)
        except expr.ExprError as e:
            raise FieldError("expression", e.code, e.message, e.token) from e
        self._refuse_cycle(f, self._dependencies(f.object_name, checked.paths))
        return checked

    def formula_sql(self, f: FieldDef, table: sa.FromClause, binder: Any = None) -> Any:
        """The formula as SQL; ``binder`` (default: this view) resolves tables and columns."""
        key = (f.object_name, f.name)
        checked = self._formulas.get(key)
        if checked is None:
            checked = expr.check(f.options["expression"], self, f.object_name)
            self._formulas[key] = checked
        return expr.to_sql(checked, binder or self, table)

    # Roll-ups ------------------------------------------------------------------------------
    def check_rollup(self, f: FieldDef, options: dict[str, Any]) -> dict[str, Any]:
        child_name, via = options.get("object"), options.get("via")
        aggregate = options.get("aggregate", "count")
        child = self.objects.get(child_name) if isinstance(child_name, str) else None
        if child is None:
            raise FieldError("object", "unknown_object", f"no object named {child_name!r}")
        via_field = child.field(via) if isinstance(via, str) else None
        if via_field is None or via_field.type not in ("reference", "user"):
            raise FieldError(
                "via", "invalid_option", f"{child_name}.{via} must be a reference field"
            )
        target = handler_for(via_field.type).expr_refs(via_field)[via_field.name].target
        if target != f.object_name:
            raise FieldError(
                "via", "invalid_option", f"{child_name}.{via} does not refer to {f.object_name}"
            )
        if aggregate not in ROLLUP_AGGREGATES:
            raise FieldError(
                "aggregate", "invalid_option", f"aggregate must be one of {ROLLUP_AGGREGATES}"
            )
        result_type = ExprType.NUMBER
        paths: set[tuple[str, ...]] = set()
        if aggregate != "count":
            ref = self.lookup(child_name, options.get("field") or "")
            if ref is None:
                raise FieldError(
                    "field", "unknown_field", f"no field {options.get('field')!r} on {child_name}"
                )
            allowed = {ExprType.NUMBER} | (
                {ExprType.DATE, ExprType.DATETIME} if aggregate in ("min", "max") else set()
            )
            if ref.type not in allowed:
                raise FieldError(
                    "field", "expr_type_mismatch", f"cannot {aggregate} a {ref.type.name} field"
                )
            result_type = ref.type
            paths.add((ref.name,))
        if options.get("where"):
            try:
                checked = expr.check(options["where"], self, child_name)
            except expr.ExprError as e:
                raise FieldError("where", e.code, e.message, e.token) from e
            if checked.type not in (ExprType.BOOLEAN, ExprType.NULL):
                raise FieldError("where", "expr_type_mismatch", "where must be a condition")
            paths |= checked.paths
        self._refuse_cycle(f, self._dependencies(child_name, paths))
        return {**options, "aggregate": aggregate, "result_type": result_type.name}

    def rollup_sql(self, f: FieldDef, table: sa.FromClause, binder: Any = None) -> Any:
        """The roll-up as a correlated subquery over the child records ``binder`` exposes."""
        binder = binder or self
        o = f.options
        child = binder.table(o["object"])
        via_field = self.objects[o["object"]].field(o["via"])
        assert via_field is not None
        link = handler_for(via_field.type).sql(via_field, via_field.name, child, binder)
        if o["aggregate"] == "count":
            value: Any = sa.func.count()
        else:
            value = getattr(sa.func, o["aggregate"])(binder.column(o["object"], o["field"], child))
        query = sa.select(value).where(link == table.c.id, child.c.deleted_at.is_(None))
        if o.get("where"):
            checked = expr.check(o["where"], self, o["object"])
            query = query.where(expr.to_sql(checked, binder, child, predicate=True))
        result = query.scalar_subquery()
        return sa.func.coalesce(result, 0) if o["aggregate"] in ("count", "sum") else result

    # Dependencies between computed fields -------------------------------------------------
    def _dependencies(self, object_name: str, paths: set[tuple[str, ...]] | frozenset) -> set:
        """The computed fields (object, field) that the given expression paths read."""
        found: set[tuple[str, str]] = set()
        for path in paths:
            current = object_name
            for segment in path:
                f = self.field_for_key(current, segment) if current in self.objects else None
                if f is None:
                    break
                if not handler_for(f.type).stored:
                    found.add((current, f.name))
                ref = self.lookup(current, segment)
                if ref is None or ref.target is None:
                    break
                current = ref.target
        return found

    def _field_dependencies(self, f: FieldDef) -> set[tuple[str, str]]:
        if f.type == "formula":
            checked = expr.check(f.options["expression"], self, f.object_name)
            return self._dependencies(f.object_name, checked.paths)
        if f.type == "rollup":
            o = f.options
            paths: set[tuple[str, ...]] = set()
            if o.get("field"):
                paths.add((o["field"],))
            if o.get("where"):
                paths |= set(expr.check(o["where"], self, o["object"]).paths)
            return self._dependencies(o["object"], paths)
        return set()

    def _refuse_cycle(self, f: FieldDef, direct: set[tuple[str, str]]) -> None:
        start = (f.object_name, f.name)
        pending = list(direct)
        seen: set[tuple[str, str]] = set()
        while pending:
            node = pending.pop()
            if node == start:
                raise FieldError(
                    "expression",
                    "computed_cycle",
                    f"{f.object_name}.{f.name} would depend on itself through other fields",
                )
            if node in seen:
                continue
            seen.add(node)
            other = self.objects[node[0]].field(node[1])
            if other is not None:
                pending.extend(self._field_dependencies(other))

    def dependents(self, object_name: str, field_name: str) -> list[str]:
        """Active computed fields that read ``object_name.field_name``."""
        result = []
        for obj in self.objects.values():
            for f in obj.active_fields:
                if handler_for(f.type).stored or (obj.name, f.name) == (object_name, field_name):
                    continue
                try:
                    deps = self.raw_paths(f)
                except expr.ExprError:
                    continue
                if (object_name, field_name) in deps:
                    result.append(f"{obj.name}.{f.name}")
        return result

    def raw_paths(self, f: FieldDef) -> set[tuple[str, str]]:
        """Every (object, field) a computed field reads, stored or not (computed once)."""
        key = (f.object_name, f.name)
        if key not in self._paths_cache:
            self._paths_cache[key] = self._raw_paths(f)
        return self._paths_cache[key]

    def _raw_paths(self, f: FieldDef) -> set[tuple[str, str]]:
        """Every (object, field) a computed field reads, stored or not."""
        if f.type == "formula":
            base, paths = (
                f.object_name,
                set(expr.check(f.options["expression"], self, f.object_name).paths),
            )
        else:
            o = f.options
            base = o["object"]
            paths = {(o["via"],)} | ({(o["field"],)} if o.get("field") else set())
            if o.get("where"):
                paths |= set(expr.check(o["where"], self, base).paths)
        found = set()
        for path in paths:
            current = base
            for segment in path:
                owner = self.field_for_key(current, segment)
                if owner is None:
                    break
                found.add((current, owner.name))
                ref = self.lookup(current, segment)
                if ref is None or ref.target is None:
                    break
                current = ref.target
        return found


class SchemaRegistry:
    """Loads the schema from the database and keeps the current view fresh."""

    def __init__(self, engine: Engine, refresh_seconds: float = 1.0) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._view: SchemaView | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def view(self) -> SchemaView:
        now = time.monotonic()
        view = self._view
        if view is None or now - self._checked_at > self.refresh_seconds:
            with self._lock:
                if self._view is None or self._stored_version() != self._view.version:
                    self._view = self.load()
                self._checked_at = now
            view = self._view
        return view

    def invalidate(self) -> None:
        with self._lock:
            self._view = None

    def _stored_version(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(system.meta.c.value).where(system.meta.c.key == "schema_version")
            ).scalar()
        return int(value or 0)

    def load(self) -> SchemaView:
        with self.engine.connect() as conn:
            version = conn.execute(
                sa.select(system.meta.c.value).where(system.meta.c.key == "schema_version")
            ).scalar()
            object_rows = conn.execute(sa.select(system.objects)).mappings().all()
            field_rows = (
                conn.execute(
                    sa.select(system.fields).order_by(
                        system.fields.c.object_name, system.fields.c.position, system.fields.c.id
                    )
                )
                .mappings()
                .all()
            )
        by_object: dict[str, list[FieldDef]] = {}
        for row in field_rows:
            by_object.setdefault(row["object_name"], []).append(
                FieldDef(
                    object_name=row["object_name"],
                    name=row["name"],
                    type=row["type"],
                    labels=row["labels"],
                    options=row["options"] or {},
                    required=bool(row["required"]),
                    position=row["position"],
                    archived_at=row["archived_at"],
                )
            )
        objects = {
            row["name"]: ObjectDef(
                name=row["name"],
                labels=row["labels"],
                table_name=row["table_name"],
                fields=tuple(by_object.get(row["name"], [])),
                description=row["description"],
                app=row["app"],
                title_field=row["title_field"],
            )
            for row in object_rows
        }
        logger.debug("schema loaded", extra={"schema_version": version})
        return SchemaView(objects, int(version or 0))
