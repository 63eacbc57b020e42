"""Alembic, driven from code: the CLI, `sophia up` and the tests all migrate through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.schema import SchemaItem

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FOREIGN_TABLES = {"apscheduler_jobs"}  # owned by APScheduler's job store, not by our migrations
RAW_SQL_PREFIXES = ("chunks_fts", "ix_chunks_text_tsv")  # the keyword index: raw SQL in a migration, no model


def unmodelled(name: str) -> bool:
    return name in FOREIGN_TABLES or name.startswith(RAW_SQL_PREFIXES)


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """Autogenerate's filter: compare our modelled tables only."""
    return not (type_ in ("table", "index") and name is not None and unmodelled(name))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)
