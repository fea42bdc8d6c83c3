"""Changing the schema: objects and fields become real tables and columns at once.

DDL runs through Alembic ``Operations`` in the same transaction as the metadata rows, so a
failed change leaves neither a half-made column nor a field without one. Removing a field
archives it: its column and data stay, and it can be restored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

from dealcraft.db import system
from dealcraft.errors import Conflict, DealcraftError, FieldError, NotFound, ValidationFailed
from dealcraft.schema.layout import LAYOUT_OPTIONS, Layout, layout_of, parse_layout
from dealcraft.schema.model import RESERVED_NAMES, FieldDef, ObjectDef, normalise_labels
from dealcraft.schema.registry import SchemaRegistry, SchemaView, base_columns, table_name_for
from dealcraft.schema.types import (
    FIELD_TYPES,
    MAX_OBJECT_NAME,
    check_field_name,
    choice_values,
    handler_for,
)

logger = logging.getLogger(__name__)

FIELD_SPEC_KEYS = frozenset({"name", "type", "label", "labels", "required", "position"})
MUTABLE_FIELD_KEYS = frozenset({"label", "labels", "required", "position"})

# How stored values of a choice type are matched, to count the records using a choice.
CHOICE_USAGE = {
    "choice": lambda column, value: column == value,
    "multi_choice": lambda column, value: column.contains(f"|{value}|", autoescape=True),
}


def index_name(table_name: str, column_name: str) -> str:
    """``ix_<table>_<column>``, shortened with a digest so long names never collide."""
    name = f"ix_{table_name}_{column_name}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[:52]}_{digest}"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, code, message)])


def parse_field_spec(object_name: str, spec: Mapping[str, Any], position: int) -> FieldDef:
    """Turn ``{"name", "type", "label", ...options}`` into an unchecked FieldDef."""
    if not isinstance(spec, Mapping):
        raise _invalid("field", "invalid_field", "a field is an object with name and type")
    try:
        name = check_field_name(spec.get("name"))
    except FieldError as e:
        raise ValidationFailed([e]) from e
    if name in RESERVED_NAMES:
        raise _invalid("name", "reserved_name", f"{name!r} is reserved by the platform")
    type_name = spec.get("type")
    if type_name not in FIELD_TYPES:
        known = ", ".join(sorted(FIELD_TYPES))
        raise _invalid("type", "unknown_field_type", f"{type_name!r} is not a field type: {known}")
    try:
        labels = normalise_labels(spec.get("labels") or spec.get("label"), name)
    except ValueError as e:
        raise _invalid("label", "invalid_label", str(e)) from e
    options = {k: v for k, v in spec.items() if k not in FIELD_SPEC_KEYS}
    if isinstance(spec.get("options"), Mapping):
        options = {**options.pop("options"), **options}
    return FieldDef(
        object_name=object_name,
        name=name,
        type=str(type_name),
        labels=labels,
        options=options,
        required=bool(spec.get("required", False)),
        position=int(spec.get("position", position)),
    )


def check_field(view: SchemaView, f: FieldDef) -> FieldDef:
    """Validate a field's options against the schema; prefix errors with the field's name."""
    try:
        options = handler_for(f.type).check_options(dict(f.options), view, f)
    except FieldError as e:
        raise ValidationFailed(
            [FieldError(f"{f.name}.{e.field}", e.code, f"{f.name}: {e.message}", e.value)]
        ) from e
    checked = replace(f, options=options)
    keys = set(handler_for(f.type).keys(checked)) | set(handler_for(f.type).expr_refs(checked))
    obj = view.objects.get(f.object_name)
    for other in obj.fields if obj else ():
        if other.name == f.name:
            continue
        taken = set(handler_for(other.type).keys(other)) | set(
            handler_for(other.type).expr_refs(other)
        )
        clash = keys & taken
        if clash:
            raise _invalid(
                "name", "field_exists", f"{sorted(clash)[0]!r} is already used by {other.name}"
            )
    return checked


class SchemaService:
    """Creates objects, adds, changes, archives and restores fields."""

    def __init__(self, engine: Engine, registry: SchemaRegistry) -> None:
        self.engine = engine
        self.registry = registry

    # Objects ------------------------------------------------------------------------------
    def create_object(self, spec: Mapping[str, Any], *, app: str | None = None) -> ObjectDef:
        return self.create_objects([spec], app=app)[0]

    def create_objects(
        self, specs: Iterable[Mapping[str, Any]], *, app: str | None = None
    ) -> list[ObjectDef]:
        """Create several objects at once, so they may refer to each other."""
        specs = list(specs)
        view = self.registry.view()

        # Parse every object and field, refusing duplicates and bad names.
        parsed: list[tuple[ObjectDef, list[FieldDef]]] = []
        for spec in specs:
            try:
                name = check_field_name(spec.get("name"), max_length=MAX_OBJECT_NAME)
            except FieldError as e:
                raise ValidationFailed([e]) from e
            if name in view.objects or any(o.name == name for o, _ in parsed):
                raise Conflict(
                    f"object {name!r} already exists",
                    code="object_exists",
                    details={"field": "name", "value": name},
                )
            try:
                labels = normalise_labels(spec.get("labels") or spec.get("label"), name)
            except ValueError as e:
                raise _invalid("label", "invalid_label", str(e)) from e
            fields = [parse_field_spec(name, f, i) for i, f in enumerate(spec.get("fields") or [])]
            names = [f.name for f in fields]
            duplicates = {n for n in names if names.count(n) > 1}
            if duplicates:
                raise _invalid("fields", "field_exists", f"field {sorted(duplicates)[0]!r} twice")
            obj = ObjectDef(
                name=name,
                labels=labels,
                table_name=table_name_for(name),
                fields=(),
                description=spec.get("description"),
                app=app or spec.get("app"),
                title_field=spec.get("title_field") or (names[0] if names else None),
            )
            parsed.append((obj, fields))

        # Check stored fields first (references can point at any new object), then computed
        # ones in order, each seeing the fields before it.
        for obj, _ in parsed:
            view = view.with_object(obj)
        for computed in (False, True):
            for obj, fields in parsed:
                current = view.objects[obj.name]
                for f in fields:
                    if handler_for(f.type).stored == computed:
                        continue
                    checked = check_field(view, f)
                    current = replace(current, fields=current.fields + (checked,))
                    view = view.with_object(current)
        created = [view.objects[obj.name] for obj, _ in parsed]

        # Write metadata and DDL in one transaction.
        now = utcnow()
        with self.engine.begin() as conn:
            ops = Operations(MigrationContext.configure(conn))
            for obj in created:
                conn.execute(
                    system.objects.insert().values(
                        name=obj.name,
                        labels=obj.labels,
                        description=obj.description,
                        app=obj.app,
                        title_field=obj.title_field,
                        table_name=obj.table_name,
                        created_at=now,
                    )
                )
                columns = base_columns()
                for f in obj.fields:
                    columns.extend(handler_for(f.type).columns(f))
                ops.create_table(obj.table_name, *columns)
                for f in obj.fields:
                    self._index_field(ops, obj, f)
                    self._insert_field(conn, f, now)
            self._bump_version(conn)
        self.registry.invalidate()
        logger.info("objects created", extra={"objects": [o.name for o in created]})
        return created

    # Fields ------------------------------------------------------------------------------
    def add_field(self, object_name: str, spec: Mapping[str, Any]) -> FieldDef:
        view = self.registry.view()
        obj = self._object(view, object_name)
        f = parse_field_spec(object_name, spec, position=len(obj.fields))
        existing = obj.field(f.name, include_archived=True)
        if existing is not None:
            hint = " (archived: restore it instead)" if existing.archived else ""
            raise Conflict(
                f"{object_name}.{f.name} already exists{hint}",
                code="field_exists",
                details={"field": "name", "value": f.name},
            )
        f = check_field(view, f)
        now = utcnow()
        with self.engine.begin() as conn:
            ops = Operations(MigrationContext.configure(conn))
            for column in handler_for(f.type).columns(f):
                ops.add_column(obj.table_name, column)
            self._index_field(ops, obj, f)
            self._insert_field(conn, f, now)
            self._bump_version(conn)
        self.registry.invalidate()
        logger.info("field added", extra={"object": object_name, "field": f.name})
        return f

    def update_field(
        self, object_name: str, field_name: str, changes: Mapping[str, Any]
    ) -> FieldDef:
        """Change labels, required, position or type options; the type itself is fixed."""
        view = self.registry.view()
        obj = self._object(view, object_name)
        f = self._field(obj, field_name)
        if "type" in changes and changes["type"] != f.type:
            raise _invalid(
                "type", "type_change_refused", "a field's type cannot change; add a new field"
            )
        if "name" in changes and changes["name"] != f.name:
            raise _invalid("name", "rename_refused", "a field cannot be renamed; its label can")
        changed_options = {k: v for k, v in changes.items() if k not in FIELD_SPEC_KEYS}
        if isinstance(changed_options.get("options"), Mapping):
            changed_options = {**changed_options.pop("options"), **changed_options}
        for key in sorted(LAYOUT_OPTIONS & set(changed_options)):
            if changed_options[key] == f.options.get(key):
                continue  # a field read and sent back unchanged
            raise _invalid(
                key,
                "layout_option",
                f"{key} is part of the record page layout; change it with the layout",
            )
        handler = handler_for(f.type)
        for key in sorted(handler.fixed_options & set(changed_options)):
            if (changed_options[key] or None) != (f.options.get(key) or None):
                raise _invalid(
                    key,
                    "option_change_refused",
                    f"{key} of a {f.type} field cannot change once it holds data; add a new field",
                )
        options = dict(f.options)
        options.update(changed_options)
        options.pop("result_type", None)
        labels = f.labels
        if "label" in changes or "labels" in changes:
            labels = normalise_labels(changes.get("labels") or changes.get("label"), f.name)
        updated = replace(
            f,
            labels=labels,
            options=options,
            required=bool(changes.get("required", f.required)),
            position=int(changes.get("position", f.position)),
        )
        updated = check_field(view, updated)
        widened = self._widened_columns(f, updated)
        with self.engine.begin() as conn:
            self._refuse_removing_used_choices(conn, obj, f, updated)
            self._widen(conn, obj, widened)
            conn.execute(
                system.fields.update()
                .where(system.fields.c.object_name == object_name, system.fields.c.name == f.name)
                .values(
                    labels=updated.labels,
                    options=updated.options,
                    required=updated.required,
                    position=updated.position,
                )
            )
            self._bump_version(conn)
        self.registry.invalidate()
        return updated

    def reorder_fields(self, object_name: str, names: Iterable[str]) -> list[FieldDef]:
        """Put the named fields first, in the order given; the others follow as they were.

        Positions are renumbered 0, 1, 2... over every field, archived ones last.
        """
        view = self.registry.view()
        obj = self._object(view, object_name)
        names = list(names)
        for i, name in enumerate(names):
            self._field(obj, name)
            if name in names[:i]:
                raise _invalid(f"fields[{i}]", "duplicate_field", f"{name!r} is given twice")
        by_position = sorted(obj.fields, key=lambda f: (f.archived, f.position))
        ordered = [obj.field(n) for n in names] + [f for f in by_position if f.name not in names]
        with self.engine.begin() as conn:
            for position, f in enumerate(ordered):
                if f is not None and f.position != position:
                    self._set_field_row(conn, f, position=position)
            self._bump_version(conn)
        self.registry.invalidate()
        logger.info("fields reordered", extra={"object": object_name, "fields": names})
        current = self.registry.view().objects[object_name]
        return sorted(current.active_fields, key=lambda f: f.position)

    # Layout ------------------------------------------------------------------------------
    def layout(self, object_name: str) -> Layout:
        """The record page layout of an object (the default one until a layout is saved)."""
        view = self.registry.view()
        return layout_of(view.objects, self._object(view, object_name))

    def save_layout(self, object_name: str, spec: Mapping[str, Any]) -> Layout:
        """Store a layout: each field's section and position, each reference's related list.

        The layout is checked first (``parse_layout``); the rows change in one transaction.
        """
        view = self.registry.view()
        obj = self._object(view, object_name)
        layout = parse_layout(view.objects, obj, spec)
        ordered = [name for s in layout.sections for name in s.fields]
        archived = sorted((f for f in obj.fields if f.archived), key=lambda f: f.position)
        with self.engine.begin() as conn:
            for section in layout.sections:
                for name in section.fields:
                    f = obj.field(name)
                    assert f is not None  # parse_layout placed active fields only
                    section_spec = {"key": section.key, "labels": section.labels}
                    self._set_field_row(
                        conn,
                        f,
                        options={**f.options, "section": section_spec},
                        position=ordered.index(name),
                    )
            for i, f in enumerate(archived):
                self._set_field_row(conn, f, position=len(ordered) + i)
            for related in layout.related_lists:
                other = view.objects[related.object_name].field(related.field)
                shown_now = other is not None and other.options.get("related_list") is not False
                if other is None or shown_now is related.shown:
                    continue
                options = {k: v for k, v in other.options.items() if k != "related_list"}
                if not related.shown:
                    options["related_list"] = False
                self._set_field_row(conn, other, options=options)
            self._bump_version(conn)
        self.registry.invalidate()
        logger.info(
            "layout saved",
            extra={"object": object_name, "sections": [s.key for s in layout.sections]},
        )
        return self.layout(object_name)

    def archive_field(self, object_name: str, field_name: str) -> FieldDef:
        """Hide a field from reads, writes and expressions; keep its column and data."""
        view = self.registry.view()
        obj = self._object(view, object_name)
        f = self._field(obj, field_name)
        users = view.dependents(object_name, f.name)
        if users:
            raise Conflict(
                f"{object_name}.{f.name} is used by {', '.join(users)}; archive those first",
                code="field_in_use",
                details={"field": f.name, "used_by": users},
            )
        return self._set_archived(obj, f, utcnow())

    def restore_field(self, object_name: str, field_name: str) -> FieldDef:
        view = self.registry.view()
        obj = self._object(view, object_name)
        f = obj.field(field_name, include_archived=True)
        if f is None or not f.archived:
            raise NotFound(
                f"no archived field {field_name!r} on {object_name}",
                code="field_not_found",
                details={"field": field_name},
            )
        # What a formula or roll-up reads may have been archived meanwhile.
        check_field(view, replace(f, archived_at=None))
        return self._set_archived(obj, f, None)

    # Helpers ------------------------------------------------------------------------------
    @staticmethod
    def _set_field_row(conn: Connection, f: FieldDef, **values: Any) -> None:
        conn.execute(
            system.fields.update()
            .where(system.fields.c.object_name == f.object_name, system.fields.c.name == f.name)
            .values(**values)
        )

    @staticmethod
    def _refuse_removing_used_choices(
        conn: Connection, obj: ObjectDef, old: FieldDef, new: FieldDef
    ) -> None:
        """A choice that live records hold cannot be removed: they would hold a non-choice.

        Renaming its labels, reordering or adding choices is always allowed.
        """
        matches = CHOICE_USAGE.get(old.type)
        removed = [v for v in choice_values(old) if v not in set(choice_values(new))]
        if matches is None or not removed:
            return
        table = sa.table(obj.table_name, sa.column(old.name), sa.column("deleted_at"))
        for value in removed:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(matches(table.c[old.name], value), table.c.deleted_at.is_(None))
            ).scalar_one()
            if count:
                raise Conflict(
                    f"{obj.name}.{old.name}: {count} record(s) use the choice {value!r}; "
                    "a choice in use cannot be removed — move those records to another "
                    "choice first",
                    code="choice_in_use",
                    details={"field": old.name, "value": value, "count": count},
                )

    def _set_archived(self, obj: ObjectDef, f: FieldDef, when: datetime | None) -> FieldDef:
        with self.engine.begin() as conn:
            conn.execute(
                system.fields.update()
                .where(system.fields.c.object_name == obj.name, system.fields.c.name == f.name)
                .values(archived_at=when)
            )
            self._bump_version(conn)
        self.registry.invalidate()
        logger.info(
            "field %s",
            "archived" if when else "restored",
            extra={"object": obj.name, "field": f.name},
        )
        return replace(f, archived_at=when)

    @staticmethod
    def _object(view: SchemaView, name: str) -> ObjectDef:
        obj = view.objects.get(name)
        if obj is None:
            raise NotFound(
                f"no object named {name!r}", code="object_not_found", details={"object": name}
            )
        return obj

    @staticmethod
    def _field(obj: ObjectDef, name: str) -> FieldDef:
        f = obj.field(name)
        if f is None:
            raise NotFound(
                f"no field {name!r} on {obj.name}", code="field_not_found", details={"field": name}
            )
        return f

    @staticmethod
    def _widened_columns(old: FieldDef, new: FieldDef) -> list[sa.Column]:
        """Columns whose type changes with new options; only a longer text is allowed."""
        handler = handler_for(old.type)
        before = {c.name: c.type for c in handler.columns(old)}
        widened = []
        for column in handler.columns(new):
            was = before.get(column.name)
            if was is None or repr(was) == repr(column.type):
                continue
            if not (isinstance(was, sa.String) and isinstance(column.type, sa.String)):
                raise _invalid(
                    column.name,
                    "option_change_refused",
                    f"{old.name}: the change would alter how stored values are kept",
                )
            widened.append(column)
        return widened

    @staticmethod
    def _widen(conn: Connection, obj: ObjectDef, columns: list[sa.Column]) -> None:
        """Make text columns long enough for a raised max_length (SQLite does not enforce it)."""
        if not columns or conn.dialect.name == "sqlite":
            return
        actual = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(obj.table_name)}
        ops = Operations(MigrationContext.configure(conn))
        for column in columns:
            have = getattr(actual.get(column.name), "length", None)
            want = getattr(column.type, "length", None)
            if have is not None and (want is None or want > have):
                ops.alter_column(obj.table_name, column.name, type_=column.type)

    @staticmethod
    def _index_field(ops: Operations, obj: ObjectDef, f: FieldDef) -> None:
        handler = handler_for(f.type)
        if not handler.indexed:
            return
        for column in handler.columns(f):
            if column.name.endswith("_currency"):
                continue
            ops.create_index(index_name(obj.table_name, column.name), obj.table_name, [column.name])

    @staticmethod
    def _insert_field(conn: Connection, f: FieldDef, now: datetime) -> None:
        conn.execute(
            system.fields.insert().values(
                object_name=f.object_name,
                name=f.name,
                type=f.type,
                labels=f.labels,
                options=f.options,
                required=f.required,
                position=f.position,
                created_at=now,
            )
        )

    @staticmethod
    def _bump_version(conn: Connection) -> None:
        meta = system.meta
        updated = conn.execute(
            meta.update()
            .where(meta.c.key == "schema_version")
            .values(value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.String))
        )
        if updated.rowcount == 0:
            conn.execute(meta.insert().values(key="schema_version", value="1"))


__all__ = ["SchemaService", "DealcraftError", "parse_field_spec", "check_field"]
