"""A workspace: one database with its schema, record service and identities, wired together."""

from __future__ import annotations

import logging
from functools import cached_property

from dealcraft.access.identity import Identity
from dealcraft.access.policy import BaselinePolicy
from dealcraft.apps import installer
from dealcraft.apps.builtin import core_sales
from dealcraft.db import migrate
from dealcraft.db.engine import create_engine
from dealcraft.records.service import RecordService
from dealcraft.schema.registry import SchemaRegistry
from dealcraft.schema.service import SchemaService
from dealcraft.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class Workspace:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        url = self.settings.resolved_database_url
        if url.startswith("sqlite"):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url)
        self.registry = SchemaRegistry(self.engine, self.settings.schema_refresh_seconds)
        self.schema = SchemaService(self.engine, self.registry)
        self.policy = BaselinePolicy()
        self.records = RecordService(self.engine, self.registry, self.policy)

    @cached_property
    def identity(self) -> Identity:
        return Identity(self.engine, self.records, self.settings.token_ttl_hours)

    def initialise(self) -> None:
        """Upgrade the system tables and install the core sales app if it is missing."""
        migrate.upgrade(self.engine)
        if installer.install(self.schema, core_sales):
            logger.info("core sales app installed")

    @property
    def files_dir(self):
        path = self.settings.data_dir / "files"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        self.engine.dispose()
