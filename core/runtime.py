"""One process's handle on the product: settings, database engine and sessions, built once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.auth import ensure_first_admin
from core.clock import SYSTEM_CLOCK, Clock
from core.config import Settings, get_settings
from core.db import migrate
from core.db.engine import make_engine, make_session_factory, session_scope
from core.errors import BackendUnavailable, ConfigError


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default=SYSTEM_CLOCK)  # what core code under this runtime reads the time from

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work that commits on success and rolls back on error."""
        with session_scope(self.sessions) as session:
            yield session

    def ping_db(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise BackendUnavailable(f"database unreachable: {exc.orig}") from None


@dataclass(frozen=True)
class Prepared:
    created: bool  # the database had no tables before
    migrated: bool
    admin_user: str | None  # set when the first admin was created just now
    admin_password: str | None  # set only when it was generated (print it once)


def open_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    settings.signing_key()  # generated and stored on first run when unset
    engine = make_engine(settings)
    return Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))


def prepare(runtime: Runtime) -> Prepared:
    """Create or upgrade the schema and make the first admin: what every command that opens the
    database does first, so whichever command runs first creates it."""
    try:
        created = not inspect(runtime.engine).has_table("alembic_version")
        migrated = not migrate.is_up_to_date(runtime.engine)
        if migrated:
            migrate.upgrade(runtime.engine)
    except OperationalError as exc:
        what = "SOPHIA_DATABASE_URL" if runtime.settings.database_url else "SOPHIA_DATA_DIR"
        raise ConfigError(f"{what}: cannot open the database: {exc.orig}") from None
    with runtime.session() as session:
        password = ensure_first_admin(session=session, settings=runtime.settings)
        made = password is not None or (created and bool(runtime.settings.admin_password))
    return Prepared(
        created=created,
        migrated=migrated,
        admin_user=runtime.settings.admin_user if made else None,
        admin_password=password,
    )


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The process-wide runtime for long-running faces (API, app, scheduler)."""
    return open_runtime()
