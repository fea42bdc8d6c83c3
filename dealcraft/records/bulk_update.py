"""Bulk edit: the same change applied to many records, one ``RecordService.update`` each.

Each record is its own write (its own transaction, history, audit entry and event), so one
refused record (outside the writer's scope, changed by someone else meanwhile, a read-only
field) refuses only itself; the others are changed. The result names every refusal with
its error code and message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dealcraft.access.principal import Principal
from dealcraft.errors import DealcraftError, InvalidInput, NotFound
from dealcraft.records.service import MAX_LIMIT, RecordService

logger = logging.getLogger(__name__)

MAX_IDS = MAX_LIMIT


@dataclass
class Target:
    """A record to change, with the version its editor last saw (None: any version)."""

    id: int
    version: int | None = None


@dataclass
class BulkUpdateResult:
    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "refused": len(self.refused),
            "results": [{"id": i, "status": "changed"} for i in self.changed]
            + [{"id": i, "status": "unchanged"} for i in self.unchanged]
            + [{**r, "status": "refused"} for r in self.refused],
        }


def parse_targets(items: Any) -> list[Target]:
    """``ids`` of a request: record ids, or ``{"id": 1, "version": 3}`` objects."""
    if not isinstance(items, list) or not items:
        raise InvalidInput(
            "ids must be a non-empty list of record ids",
            code="invalid_ids",
            details={"field": "ids"},
        )
    if len(items) > MAX_IDS:
        raise InvalidInput(
            f"a bulk edit changes at most {MAX_IDS} records, got {len(items)}",
            code="too_many_ids",
            details={"field": "ids", "value": len(items)},
        )
    targets = []
    for item in items:
        if isinstance(item, Mapping):
            record_id, version = item.get("id"), item.get("version")
        else:
            record_id, version = item, None
        if not _whole(record_id) or (version is not None and not _whole(version)):
            raise InvalidInput(
                f"each id must be a record id or {{'id', 'version'}}, got {item!r}",
                code="invalid_ids",
                details={"field": "ids", "value": str(item)[:100]},
            )
        targets.append(Target(int(record_id), None if version is None else int(version)))
    return targets


# Ids and versions are 64-bit in every table; a larger number never reaches the driver.
ID_MAX = 2**63 - 1


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= ID_MAX


def update_each(
    records: RecordService,
    principal: Principal,
    object_name: str,
    targets: Iterable[Target],
    values: Mapping[str, Any],
    on_progress: Callable[[int], None] | None = None,
) -> BulkUpdateResult:
    """Apply ``values`` to each target through the record service, collecting refusals.

    ``on_progress(done)`` is called after each record. An unknown object or an operation
    the principal may not perform at all raises before any record is touched.
    """
    if not isinstance(values, Mapping) or not values:
        raise InvalidInput(
            "values must be an object of field values",
            code="invalid_values",
            details={"field": "values"},
        )
    # Refuse the whole request up front when the principal may not update this object
    # (each record's own update then checks its scope, fields and version).
    obj = records.registry.view().objects.get(object_name)
    if obj is None:
        raise NotFound(
            f"no object named {object_name!r}",
            code="object_not_found",
            details={"object": object_name},
        )
    records.policy.check_operation(principal, obj, "update")

    result = BulkUpdateResult()
    for done, target in enumerate(targets, start=1):
        try:
            record = records.update(
                principal, object_name, target.id, values, expected_version=target.version
            )
        except DealcraftError as e:
            result.refused.append({"id": target.id, "code": e.code, "message": e.message})
        else:
            if target.version is not None and record["version"] == target.version:
                result.unchanged.append(target.id)
            else:
                result.changed.append(target.id)
        if on_progress is not None:
            on_progress(done)
    logger.info(
        "bulk edit",
        extra={
            "object_name": object_name,
            "user_id": principal.user_id,
            "changed": len(result.changed),
            "refused": len(result.refused),
        },
    )
    return result
