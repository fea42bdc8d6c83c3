"""A record's activity timeline: its field history and the work done on it, newest first.

The timeline merges three kinds of entry, all read through the record service with the
page's principal: the record's field history (who changed what, when), the activities that
refer to it (directly, or through a record that refers to it: an account's timeline shows
the visits logged against its contacts and opportunities), and the tasks linked to it.
Each source is one query however many entries it has, so the page's statement count does
not grow with the timeline; "show more" asks each source for one more page.

Known shortcoming: a source is fetched newest ``time_field`` first, and records with an empty
``time_field`` (placed at their creation) come first in that order. Many undated records can
so push a dated one out of the first page until "show more" is pressed; this ends when the
record service can sort by an expression (``coalesce(occurred_at, created_at)``).
The field history is read whole (one query), as ``RecordService.history`` has no paging.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from dealcraft.errors import DealcraftError
from dealcraft.schema.layout import reference_target
from dealcraft.schema.model import ObjectDef
from dealcraft.schema.registry import SchemaView
from dealcraft.web.fields import ReferenceTitles, display, record_title
from dealcraft.web.i18n import add_strings
from dealcraft.web.session import PageContext

logger = logging.getLogger(__name__)

PAGE_SIZE = 20

add_strings(
    {
        "timeline.title": {"en": "Timeline", "zh-CN": "动态"},
        "timeline.none": {"en": "Nothing has happened yet.", "zh-CN": "暂无动态。"},
        "timeline.more": {"en": "Show more", "zh-CN": "显示更多"},
    }
)


@dataclass(frozen=True)
class TimelineSource:
    """An object whose records appear on the timelines of the records they are linked to.

    ``time_field`` places a record in time (its creation when empty); ``link`` names a pair
    of fields (object name, record id) for objects linked to any record, as tasks are. An
    entry reads "<kind>: <title> (<state>)" from ``kind_field`` and ``state_field``.
    """

    object_name: str
    time_field: str
    link: tuple[str, str] | None = None
    kind_field: str | None = None
    state_field: str | None = None


TIMELINE_SOURCES = (
    TimelineSource("activity", "occurred_at", kind_field="type"),
    TimelineSource("task", "due", link=("related_object", "related_id"), state_field="status"),
)


@dataclass(frozen=True)
class TimelineEntry:
    at: str  # ISO date or date-time, UTC, without the "Z"
    kind: str  # "change", or the source object's name
    text: str
    who: int | None
    link: str | None = None


def _moment(value: Any) -> str:
    return str(value or "").replace("Z", "").replace(" ", "T")


def link_conditions(
    objects: dict[str, ObjectDef], source: ObjectDef, target: str
) -> tuple[list[str], list[str]]:
    """Filters on ``source`` for records linked to a ``target`` record ``:id``.

    Returns the direct conditions (a reference to the record) and the indirect ones (a
    reference to a record whose reference points at it: ``contact.account = :id``).
    """
    direct, indirect = [], []
    for f in source.active_fields:
        hop = reference_target(f)
        if hop == target:
            direct.append(f"{f.name} = :id")
        elif hop in objects and f.type == "reference" and hop != source.name:
            for g in objects[hop].active_fields:
                if g.type == "reference" and reference_target(g) == target:
                    indirect.append(f"{f.name}.{g.name} = :id")
    return direct, indirect


def _source_rows(
    ctx: PageContext, source: TimelineSource, obj: ObjectDef, record_id: int, limit: int
) -> tuple[ObjectDef, list[dict[str, Any]], bool] | None:
    """The newest ``limit`` records of a source linked to the record, and whether more exist."""
    objects = ctx.workspace.registry.view().objects
    other = objects.get(source.object_name)
    if other is None or other.field(source.time_field) is None:
        return None
    direct, indirect = link_conditions(dict(objects), other, obj.name)
    if source.link is not None and all(other.field(n) for n in source.link):
        kind, ident = source.link
        direct.append(f"({kind} = :object and {ident} = :id)")
    params = {"id": int(record_id), "object": obj.name}
    # A path through an object the principal may not read is not in their language: the
    # indirect links are then dropped rather than the whole source.
    for conditions in (direct + indirect, direct):
        if not conditions:
            return None
        try:
            page = ctx.workspace.records.list(
                ctx.principal,
                other.name,
                where=" or ".join(conditions),
                params=params,
                sort=f"-{source.time_field}",
                limit=limit + 1,
            )
        except DealcraftError as e:
            logger.debug("timeline source skipped: %s", e.message, extra={"object": other.name})
            continue
        return other, page.data[:limit], len(page.data) > limit
    return None


def timeline_entries(
    ctx: PageContext, obj: ObjectDef, record_id: int, limit: int = PAGE_SIZE
) -> tuple[list[TimelineEntry], bool, ReferenceTitles]:
    """The newest ``limit`` entries, whether more exist, and the users' names they show."""
    records = ctx.workspace.records
    entries: list[TimelineEntry] = []
    more = False

    # Field history: every change the principal may see.
    view = ctx.workspace.registry.view()
    for change in records.history(ctx.principal, obj.name, record_id):
        entries.append(
            TimelineEntry(
                _moment(change["changed_at"]),
                "change",
                history_text(ctx, view, obj, change),
                change["changed_by"],
            )
        )

    # Activities and tasks linked to the record, one query each.
    for source in TIMELINE_SOURCES:
        found = _source_rows(ctx, source, obj, record_id, limit)
        if found is None:
            continue
        other, rows, source_more = found
        more = more or source_more
        for row in rows:
            entries.append(_source_entry(ctx, source, other, row))

    entries.sort(key=lambda e: e.at, reverse=True)
    more = more or len(entries) > limit
    entries = entries[:limit]
    users = ReferenceTitles(records, ctx.principal).load_ids(
        "user", {e.who for e in entries if e.who is not None}
    )
    return entries, more, users


def _source_entry(
    ctx: PageContext, source: TimelineSource, other: ObjectDef, row: dict[str, Any]
) -> TimelineEntry:
    at = _moment(row.get(source.time_field) or row["created_at"])
    title = record_title(other, row)
    who = next(
        (row.get(n) for n in ("owner", "assignee") if isinstance(row.get(n), int)),
        row.get("created_by"),
    )
    kind_field = other.field(source.kind_field) if source.kind_field else None
    kind = display(kind_field, row, ctx.language) if kind_field else ""
    text = f"{kind or other.label(ctx.language)}: {title}"
    state_field = other.field(source.state_field) if source.state_field else None
    state = display(state_field, row, ctx.language) if state_field else ""
    if state:
        text += f" ({state})"
    return TimelineEntry(at, other.name, text, who, f"/o/{other.name}/{row['id']}")


def history_text(ctx: PageContext, view: SchemaView, obj: ObjectDef, entry: dict[str, Any]) -> str:
    """One change in words: "Stage: Qualification → Proposal"."""
    operation = entry["operation"]
    if operation != "update" or entry["field"] is None:
        return ctx.t(
            f"record.history.{operation}d" if operation != "create" else "record.history.created"
        )
    f = view.field_for_key(obj.name, entry["field"])
    if f is None:
        return f"{entry['field']}: {entry['old_value']} → {entry['new_value']}"
    old = display(f, {f.name: entry["old_value"]}, ctx.language) or "—"
    new = display(f, {f.name: entry["new_value"]}, ctx.language) or "—"
    return f"{f.label(ctx.language)}: {old} → {new}"


ICONS = {"change": "edit", "activity": "event", "task": "task_alt"}


def timeline_card(ctx: PageContext, obj: ObjectDef, record_id: int) -> None:
    """The timeline, newest first, with "show more" while older entries remain."""
    state = {"limit": PAGE_SIZE}

    @ui.refreshable
    def body() -> None:
        entries, more, users = timeline_entries(ctx, obj, record_id, state["limit"])
        if not entries:
            ui.label(ctx.t("timeline.none")).classes("text-grey-6")
            return
        with ui.timeline(side="right").classes("w-full"):
            for i, entry in enumerate(entries):
                who = (
                    users.title("user", entry.who)
                    if entry.who is not None
                    else ctx.t("record.system")
                )
                subtitle = f"{entry.at.replace('T', ' ')[:16]} · " + ctx.t("record.by", user=who)
                with (
                    ui.timeline_entry(subtitle=subtitle, icon=ICONS.get(entry.kind, "event"))
                    .props(f"data-timeline={i} data-kind={entry.kind}")
                    .mark(f"timeline-{i}")
                ):
                    if entry.link:
                        ui.link(entry.text, entry.link)
                    else:
                        ui.label(entry.text)
        if more:
            ui.button(ctx.t("timeline.more"), on_click=show_more).props(
                "flat data-testid=timeline-more"
            ).mark("timeline-more")

    def show_more() -> None:
        state["limit"] += PAGE_SIZE
        body.refresh()

    with ui.card().classes("w-full").props("data-testid=timeline").mark("timeline"):
        ui.label(ctx.t("timeline.title")).classes("text-subtitle1")
        body()
