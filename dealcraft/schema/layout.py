"""Record page layouts: ordered sections of fields, and which related lists show.

A layout needs no table of its own. Each field carries its section in its options
(``"section": {"key": "finance", "labels": {...}}``), the order of the sections and of the
fields inside them is the fields' ``position`` (the order lists and forms use too), and a
reference field whose records should not be listed on its target's page carries
``"related_list": false``. An object whose fields name no section has the default layout:
one "Details" section with every field in field order.

A layout places fields; it never hides one. Who sees a field is the access policy's say, and
a field added after the layout was saved joins the section of the field before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dealcraft.errors import FieldError, ValidationFailed
from dealcraft.schema.model import FieldDef, ObjectDef, normalise_labels, pick_label
from dealcraft.schema.types import ReferenceType, check_field_name, handler_for

# The options a layout owns; they are written by ``SchemaService.save_layout`` only.
LAYOUT_OPTIONS = frozenset({"section", "related_list"})

DEFAULT_SECTION_KEY = "details"
DEFAULT_SECTION_LABELS = {"en": "Details", "zh-CN": "详细信息"}


@dataclass(frozen=True)
class Section:
    key: str
    labels: dict[str, str]
    fields: tuple[str, ...]

    def label(self, language: str | None = None) -> str:
        return pick_label(self.labels, language, self.key)


@dataclass(frozen=True)
class RelatedList:
    """The records of ``object_name`` whose reference ``field`` points at the laid-out object."""

    object_name: str
    field: str
    shown: bool

    @property
    def key(self) -> str:
        return f"{self.object_name}.{self.field}"


@dataclass(frozen=True)
class Layout:
    object_name: str
    sections: tuple[Section, ...]
    related_lists: tuple[RelatedList, ...]

    @property
    def saved(self) -> bool:
        """False for the default layout (no field names a section)."""
        return not (len(self.sections) == 1 and self.sections[0].key == DEFAULT_SECTION_KEY)

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        return {
            "object": self.object_name,
            "sections": [
                {
                    "key": s.key,
                    "label": s.label(language),
                    "labels": s.labels,
                    "fields": list(s.fields),
                }
                for s in self.sections
            ],
            "related_lists": [
                {"key": r.key, "object": r.object_name, "field": r.field, "shown": r.shown}
                for r in self.related_lists
            ],
        }


def reference_target(f: FieldDef) -> str | None:
    handler = handler_for(f.type)
    return handler.target(f) if isinstance(handler, ReferenceType) else None


def incoming_references(
    objects: Mapping[str, ObjectDef], object_name: str
) -> list[tuple[ObjectDef, FieldDef]]:
    """Active reference fields, of any object, that point at ``object_name``."""
    return [
        (other, f)
        for other in objects.values()
        for f in other.active_fields
        if reference_target(f) == object_name
    ]


def layout_of(objects: Mapping[str, ObjectDef], obj: ObjectDef) -> Layout:
    """The object's layout as its fields' options describe it."""
    order: list[str] = []
    labels: dict[str, dict[str, str]] = {}
    members: dict[str, list[str]] = {}
    current: str | None = None
    for f in sorted(obj.active_fields, key=lambda f: f.position):
        spec = f.options.get("section")
        if isinstance(spec, Mapping) and isinstance(spec.get("key"), str):
            key = spec["key"]
            labels.setdefault(key, dict(spec.get("labels") or {}) or {"en": key})
            current = key
        else:
            key = current or DEFAULT_SECTION_KEY
            labels.setdefault(key, DEFAULT_SECTION_LABELS)
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(f.name)
    if not order:
        order, members, labels = [DEFAULT_SECTION_KEY], {DEFAULT_SECTION_KEY: []}, {}
    sections = tuple(
        Section(key, labels.get(key) or DEFAULT_SECTION_LABELS, tuple(members[key]))
        for key in order
    )
    related = tuple(
        RelatedList(other.name, f.name, f.options.get("related_list") is not False)
        for other, f in incoming_references(objects, obj.name)
    )
    return Layout(obj.name, sections, related)


def _invalid(field: str, code: str, message: str, value: Any = None) -> ValidationFailed:
    return ValidationFailed([FieldError(field, code, message, value)])


def parse_layout(
    objects: Mapping[str, ObjectDef], obj: ObjectDef, spec: Mapping[str, Any]
) -> Layout:
    """Check a layout given as ``{"sections": [...], "related_lists": [...]}``.

    Each section is ``{"key", "labels" (or "label"), "fields": [names]}``; ``related_lists``
    lists the keys (``contact.account``) of the related lists to show, the others are hidden;
    without it the related lists stay as they are. Active fields the sections leave out
    follow, in field order, in the last section.
    """
    if not isinstance(spec, Mapping):
        raise _invalid("layout", "invalid_layout", "a layout is an object with sections")
    raw = spec.get("sections")
    if not isinstance(raw, list) or not raw:
        raise _invalid("sections", "invalid_layout", "a layout needs a non-empty list of sections")

    # Sections: a unique key, labels, and fields of this object placed once each.
    active = {f.name for f in obj.active_fields}
    placed: dict[str, str] = {}
    sections: list[Section] = []
    for i, item in enumerate(raw):
        where = f"sections[{i}]"
        if not isinstance(item, Mapping):
            raise _invalid(where, "invalid_layout", "a section is an object with key and fields")
        try:
            key = check_field_name(item.get("key"), field=f"{where}.key")
        except FieldError as e:
            raise ValidationFailed([e]) from e
        if any(s.key == key for s in sections):
            raise _invalid(f"{where}.key", "duplicate_section", f"section {key!r} is repeated", key)
        try:
            labels = normalise_labels(item.get("labels") or item.get("label"), key)
        except ValueError as e:
            raise _invalid(f"{where}.labels", "invalid_label", str(e)) from e
        names = item.get("fields") or []
        if not isinstance(names, list) or not names:
            raise _invalid(
                f"{where}.fields",
                "empty_section",
                f"section {key!r} has no fields; a section needs at least one field",
                key,
            )
        for j, name in enumerate(names):
            if name not in active:
                raise _invalid(
                    f"{where}.fields[{j}]",
                    "unknown_field",
                    f"{obj.name} has no active field {name!r} to place in section {key!r}",
                    name,
                )
            if name in placed:
                raise _invalid(
                    f"{where}.fields[{j}]",
                    "field_placed_twice",
                    f"{name!r} is already placed in section {placed[name]!r}; "
                    "a field is in one section",
                    name,
                )
            placed[name] = key
        sections.append(Section(key, labels, tuple(names)))

    # Fields left out are not hidden by a layout: they follow in the last section.
    left_out = tuple(
        f.name for f in sorted(obj.active_fields, key=lambda f: f.position) if f.name not in placed
    )
    if left_out:
        last = sections[-1]
        sections[-1] = Section(last.key, last.labels, last.fields + left_out)

    # Related lists: the keys given are shown, the other references into the object are not.
    current = layout_of(objects, obj).related_lists
    shown_keys = spec.get("related_lists")
    if shown_keys is None:
        related = current
    else:
        if not isinstance(shown_keys, list) or not all(isinstance(k, str) for k in shown_keys):
            raise _invalid(
                "related_lists", "invalid_layout", "related_lists is a list of object.field keys"
            )
        known = {r.key for r in current}
        for j, k in enumerate(shown_keys):
            if k not in known:
                raise _invalid(
                    f"related_lists[{j}]",
                    "unknown_related_list",
                    f"{k!r} is not a reference into {obj.name}; "
                    f"one of: {', '.join(sorted(known)) or 'none'}",
                    k,
                )
        related = tuple(RelatedList(r.object_name, r.field, r.key in shown_keys) for r in current)
    return Layout(obj.name, tuple(sections), related)
