"""Alembic environment for the platform's own tables; run through ``dealcraft db upgrade``."""

from alembic import context

from dealcraft.db.system import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # Record tables are made from metadata at run time, never by these migrations.
    include_name=lambda name, type_, parent: type_ != "table" or name.startswith("dc_"),
)
with context.begin_transaction():
    context.run_migrations()
