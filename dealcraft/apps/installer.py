"""Installs an app's objects and fields into a workspace."""

from __future__ import annotations

import logging
from types import ModuleType

import sqlalchemy as sa

from dealcraft.db import system
from dealcraft.schema.service import SchemaService

logger = logging.getLogger(__name__)


def installed_apps(schema: SchemaService) -> set[str]:
    with schema.engine.connect() as conn:
        return {
            value
            for value in conn.execute(
                sa.select(system.objects.c.app).where(system.objects.c.app.is_not(None))
            ).scalars()
        }


def install(schema: SchemaService, app: ModuleType) -> bool:
    """Install ``app`` unless it is there already. Returns whether anything was installed."""
    if app.NAME in installed_apps(schema):
        return False
    schema.create_objects(app.OBJECTS, app=app.NAME)
    for object_name, spec in getattr(app, "ROLLUPS", []):
        schema.add_field(object_name, spec)
    logger.info("app installed", extra={"app": app.NAME, "version": app.VERSION})
    return True
