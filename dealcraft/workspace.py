"""A workspace: one database with its schema, record service and identities, wired together."""

from __future__ import annotations

import logging
from functools import cached_property

from dealcraft.access.identity import Identity
from dealcraft.access.policies import PolicyEngine, PolicyStore
from dealcraft.apps import installer
from dealcraft.apps.builtin import core_sales
from dealcraft.audit import AuditLog
from dealcraft.db import migrate
from dealcraft.db.engine import create_engine
from dealcraft.events import wakeup
from dealcraft.flows.verification import gate_rule
from dealcraft.records.service import RecordService
from dealcraft.records.watermark import ExportRegistry
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
        self.policies = PolicyStore(
            self.engine, self.registry, self.settings.schema_refresh_seconds
        )
        self.policy = PolicyEngine(self.policies)
        self.audit = AuditLog()
        self.records = RecordService(self.engine, self.registry, self.policy, audit=self.audit)
        # The human verification gate: a large proposal goes to "sent" only with its owner's
        # own strategy annotation, whichever way the write comes in.
        self.records.add_write_rule(gate_rule)
        self.records.after_commit = wakeup.waker_for(self).poke  # flows see writes at once
        self.exports = ExportRegistry(self.engine, self.settings.secret_key)

    @cached_property
    def identity(self) -> Identity:
        return Identity(self.engine, self.records, self.settings.token_ttl_hours, audit=self.audit)

    def initialise(self) -> None:
        """Upgrade the system tables and install the core sales app if it is missing."""
        migrate.upgrade(self.engine)
        if installer.install(self.schema, core_sales):
            logger.info("core sales app installed")
        self.policies.install_defaults()

    @property
    def files_dir(self):
        path = self.settings.data_dir / "files"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        self.engine.dispose()
