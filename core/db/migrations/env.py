"""Alembic environment: the engine is handed in by core.db.migrate (never read from a file)."""

from __future__ import annotations

from alembic import context

from core.db.migrate import include_object
from core.db.models import Base

target_metadata = Base.metadata
engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite goes through batch mode
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
