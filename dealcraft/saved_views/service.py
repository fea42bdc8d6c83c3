"""Saved views: who sees, saves, changes and deletes them.

A user sees their own views of an object plus the views their teams' members shared with
the team. Only the owner (or an admin) changes or deletes a view. A view holds a filter, a
sort and column names, never rows: applying a shared view runs its filter through the
viewer's own record scope, and a column the viewer may not read is dropped, so sharing a
view shares no data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dealcraft.access.principal import SYSTEM, Principal
from dealcraft.db.tx import write_transaction
from dealcraft.errors import (
    Conflict,
    DealcraftError,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from dealcraft.saved_views.tables import saved_views
from dealcraft.schema.service import utcnow

if TYPE_CHECKING:
    from dealcraft.workspace import Workspace

logger = logging.getLogger(__name__)

NAME_MAX = 127
SORT_MAX = 255
WHERE_MAX = 4000
# The keys a client may set; ``team_id`` null keeps a view private.
KEYS = ("object_name", "name", "columns", "where", "sort", "team_id")


def _stamp(value: Any) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def _not_found(view_id: int) -> NotFound:
    return NotFound(
        f"no saved view with id {view_id}", code="view_not_found", details={"id": view_id}
    )


class SavedViews:
    """Saved views of a workspace, read and written with a principal."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.engine = workspace.engine

    # Reading ------------------------------------------------------------------------------
    def list(self, principal: Principal, object_name: str | None = None) -> list[dict[str, Any]]:
        """My views and my teams' shared views (of ``object_name``), mine first, by name."""
        if principal.user_id is None:
            return []
        t = saved_views
        visible = t.c.owner_id == principal.user_id
        if principal.team_ids:
            visible = sa.or_(visible, t.c.team_id.in_(sorted(principal.team_ids)))
        query = sa.select(t).where(visible)
        if object_name is not None:
            query = query.where(t.c.object_name == object_name)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.name, t.c.id)).mappings().all()
        views = [self._view(principal, r) for r in rows]
        views.sort(key=lambda v: not v["mine"])
        return views

    def get(self, principal: Principal, view_id: int) -> dict[str, Any]:
        return self._view(principal, self._visible_row(principal, view_id))

    # Writing ------------------------------------------------------------------------------
    def create(self, principal: Principal, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Save a new view owned by the principal; a taken name answers 409."""
        clean = self.check(principal, {"columns": [], "where": None, "sort": None, **spec})
        now = utcnow()
        try:
            with write_transaction(self.engine) as conn:
                view_id = conn.execute(
                    saved_views.insert().values(
                        **clean, owner_id=principal.user_id, created_at=now, updated_at=now
                    )
                ).inserted_primary_key[0]
        except IntegrityError as e:
            raise self._taken(clean) from e
        logger.info("saved view created", extra={"view_id": view_id, "user_id": principal.user_id})
        return self.get(principal, int(view_id))

    def update(
        self, principal: Principal, view_id: int, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a view the principal owns (an admin may change anyone's)."""
        row = self._owned_row(principal, view_id)
        merged = {k: row[k] for k in KEYS} | dict(changes)
        if merged["object_name"] != row["object_name"]:
            raise ValidationFailed(
                [
                    FieldError(
                        "object_name",
                        "view_object_fixed",
                        "a saved view stays on the object it was saved for "
                        f"({row['object_name']}); save a new view instead",
                        merged["object_name"],
                    )
                ]
            )
        clean = self.check(principal, merged, owner_id=row["owner_id"])
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    saved_views.update()
                    .where(saved_views.c.id == view_id)
                    .values(**clean, updated_at=utcnow())
                )
        except IntegrityError as e:
            raise self._taken(clean) from e
        return self.get(principal, view_id)

    def delete(self, principal: Principal, view_id: int) -> None:
        self._owned_row(principal, view_id)
        with write_transaction(self.engine) as conn:
            conn.execute(saved_views.delete().where(saved_views.c.id == view_id))
        logger.info("saved view deleted", extra={"view_id": view_id, "user_id": principal.user_id})

    # Checks -------------------------------------------------------------------------------
    def check(
        self, principal: Principal, spec: Mapping[str, Any], *, owner_id: int | None = None
    ) -> dict[str, Any]:
        """A view's values, validated for the principal; raises naming the field and value."""
        if principal.user_id is None:
            raise Forbidden("saved views belong to a signed-in user", code="user_required")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise self._invalid(unknown[0], "unknown_key", f"{unknown[0]} is not a view setting")

        for key in ("object_name", "name", "where", "sort"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise self._invalid(key, "invalid_text", f"{key} must be text")

        # The object: one the principal may read
        object_name = spec.get("object_name")
        obj = self.workspace.registry.view().objects.get(object_name or "")
        if obj is None:
            raise NotFound(
                f"no object named {object_name!r}",
                code="object_not_found",
                details={"object": object_name},
            )
        self.workspace.policy.check_operation(principal, obj, "read")

        # The name
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self._invalid("name", "required", "a saved view needs a name")
        name = name.strip()
        if len(name) > NAME_MAX:
            raise self._invalid(
                "name", "text_too_long", f"a view name has at most {NAME_MAX} characters", name
            )

        # Columns: fields of the object the principal may read
        columns = spec.get("columns") or []
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise self._invalid("columns", "invalid_list", "columns must be a list of field names")
        for column in columns:
            f = obj.field(column)
            if f is None or f.archived or not self.workspace.policy.readable(principal, f):
                raise self._invalid(
                    "columns", "unknown_field", f"{obj.name} has no field {column!r}", column
                )

        # Filter and sort: checked by running them once through the principal's scope
        where = (spec.get("where") or "").strip() or None
        sort = (spec.get("sort") or "").strip() or None
        if where is not None and len(where) > WHERE_MAX:
            raise self._invalid(
                "where", "text_too_long", f"a filter has at most {WHERE_MAX} characters", where
            )
        if sort is not None and len(sort) > SORT_MAX:
            raise self._invalid(
                "sort", "text_too_long", f"a sort has at most {SORT_MAX} characters", sort
            )
        self.workspace.records.list(principal, obj.name, where=where, sort=sort, limit=1)

        # Sharing: only with a team the owner belongs to
        team_id = spec.get("team_id")
        if team_id is not None:
            if isinstance(team_id, bool) or not isinstance(team_id, int):
                raise self._invalid("team_id", "invalid_integer", "team_id must be a team id")
            teams = self._teams_of(owner_id) if owner_id is not None else principal.team_ids
            if team_id not in teams and not (principal.is_admin and owner_id is not None):
                raise Forbidden(
                    f"a view can be shared only with your own team; you are not in team {team_id}",
                    code="not_team_member",
                    details={"field": "team_id", "value": team_id},
                )
        return {
            "object_name": obj.name,
            "name": name,
            "columns": list(columns),
            "where": where,
            "sort": sort,
            "team_id": team_id,
        }

    # Internals ----------------------------------------------------------------------------
    def _visible_row(self, principal: Principal, view_id: int) -> Mapping[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(saved_views).where(saved_views.c.id == view_id))
                .mappings()
                .first()
            )
        if row is None or principal.user_id is None:
            raise _not_found(view_id)
        shared = row["team_id"] is not None and row["team_id"] in principal.team_ids
        if row["owner_id"] != principal.user_id and not shared and not principal.is_admin:
            raise _not_found(view_id)
        return row

    def _owned_row(self, principal: Principal, view_id: int) -> Mapping[str, Any]:
        row = self._visible_row(principal, view_id)
        if row["owner_id"] != principal.user_id and not principal.is_admin:
            raise Forbidden(
                f"only the owner of view {row['name']!r} may change or delete it",
                code="view_owner_required",
                details={"id": view_id},
            )
        return row

    def _teams_of(self, user_id: int) -> frozenset[int]:
        try:
            user = self.workspace.records.get(SYSTEM, "user", user_id)
        except DealcraftError:
            return frozenset()
        return frozenset({user["team"]}) if user.get("team") else frozenset()

    def _view(self, principal: Principal, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "object_name": row["object_name"],
            "name": row["name"],
            "owner_id": row["owner_id"],
            "team_id": row["team_id"],
            "columns": list(row["columns"] or []),
            "where": row["where"],
            "sort": row["sort"],
            "mine": row["owner_id"] == principal.user_id,
            "created_at": _stamp(row["created_at"]),
            "updated_at": _stamp(row["updated_at"]),
        }

    @staticmethod
    def _invalid(field: str, code: str, message: str, value: Any = None) -> ValidationFailed:
        return ValidationFailed([FieldError(field, code, message, value)])

    @staticmethod
    def _taken(clean: Mapping[str, Any]) -> Conflict:
        return Conflict(
            f"you already have a view of {clean['object_name']} named {clean['name']!r}",
            code="view_name_taken",
            details={"field": "name", "value": clean["name"]},
        )
