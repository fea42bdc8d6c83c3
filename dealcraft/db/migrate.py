"""Upgrade the platform's own tables with Alembic, programmatically."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the system tables to ``revision``; safe to run on every start."""
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()
    logger.info("database upgraded to %s", revision)


def autogenerate(engine: Engine, message: str) -> None:
    """Developer helper: write a new migration from the difference to ``system.metadata``."""
    with engine.connect() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
