"""Engine and sessions for SQLite (default, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Delete, Engine, Update, create_engine, event, make_url
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from core.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000  # three processes share one file; wait for a writer rather than fail
PRIVATE_FILE_MODE = 0o600  # records, users and secrets: readable by the service's own user only
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_file(path: Path) -> None:
    """Create an SQLite file readable by its owner only, before SQLite opens it (SQLite creates its
    -wal and -shm files with the database file's mode), and tighten one made earlier with a wider mode.
    Best effort: a folder or file we cannot write is left for SQLite to report in its own words."""
    path = Path(path)
    with suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    for each in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        with suppress(OSError):  # absent, or another owner's file: leave it as it is
            if stat.S_IMODE(each.stat().st_mode) & 0o077:
                each.chmod(PRIVATE_FILE_MODE)


def make_engine(settings: Settings, *, url: str | None = None, **kwargs: Any) -> Engine:
    url = url or settings.sqlalchemy_url
    # a failed statement's message must not carry its parameters: they are record payloads and secrets
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            make_private_file(Path(database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def changed_rows(session: Session, stmt: Update | Delete) -> int:
    """Run an UPDATE or DELETE without RETURNING; the rows it changed. (Its result is a cursor result, whatever
    ``Session.execute`` is typed as: SQLAlchemy 2.1 types it as a plain ``Result``.)"""
    return cast(CursorResult[Any], session.execute(stmt)).rowcount or 0
