"""Does the database take a write now? A probe for readiness, and a short lock wait for writes that may be
skipped (a write that is only bookkeeping must never hold a request up behind another writer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from core.db.engine import SQLITE_BUSY_TIMEOUT_MS
from core.db.models import Meta
from core.db.types import utcnow

PROBE_KEY = "readyz-probe"  # written and rolled back: never stored
PROBE_WAIT_MS = 1000  # how long readiness waits for the write lock before it says the database is busy


@contextmanager
def short_lock_wait(conn: Connection, wait_ms: int) -> Iterator[None]:
    """Within this block, a write on ``conn`` waits at most ``wait_ms`` for a lock, then fails
    (``OperationalError``) instead of waiting out the busy timeout. Use inside a transaction."""
    if conn.dialect.name == "sqlite":  # a connection setting: put back before the connection returns to the pool
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait_ms)}ms'")  # ends with the transaction
    yield


def probe_write(*, engine: Engine, wait_ms: int = PROBE_WAIT_MS) -> str:
    """``"ok"`` when the database accepted a row (written in a transaction that is then rolled back); else
    one line saying why not (locked past ``wait_ms``, read-only, disk full, unreachable)."""
    try:
        with engine.connect() as conn, conn.begin() as tx:
            with short_lock_wait(conn, wait_ms):
                conn.execute(insert(Meta).values(key=PROBE_KEY, value={}, updated_at=utcnow()))
            tx.rollback()
    except SQLAlchemyError as exc:
        return f"database does not accept writes: {_first_line(exc)}"
    return "ok"


def _first_line(exc: SQLAlchemyError) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
