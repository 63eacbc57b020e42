"""Migrations on SQLite and on the real PostgreSQL: from empty to head, back down, and in step with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from core.db import migrate
from core.db.migrate import include_object, unmodelled
from core.db.models import Base, Role
from core.runtime import Runtime


def _tables(rt: Runtime) -> set[str]:
    return {t for t in inspect(rt.engine).get_table_names() if t != "alembic_version" and not unmodelled(t)}


def test_upgrade_creates_every_table_and_seeds_roles(any_runtime: Runtime) -> None:
    assert _tables(any_runtime) == set(Base.metadata.tables)
    assert migrate.is_up_to_date(any_runtime.engine)
    with any_runtime.session() as s:
        assert {r.name: r.rank for r in s.scalars(select(Role))} == {"viewer": 10, "analyst": 20, "admin": 30}


def test_models_and_migrations_agree(any_runtime: Runtime) -> None:
    with any_runtime.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models differ from migrations; add a revision: {diff}"


def test_downgrade_to_empty_and_back(any_runtime: Runtime) -> None:
    migrate.downgrade(any_runtime.engine, "base")
    assert _tables(any_runtime) == set()
    assert migrate.current_revision(any_runtime.engine) is None
    migrate.upgrade(any_runtime.engine)
    assert _tables(any_runtime) == set(Base.metadata.tables)
