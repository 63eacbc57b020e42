"""The embedded cache and event bus: one SQLite file shared by every process of an installation.

The Streamlit app, the API sidecar and the scheduler each open ``<data_dir>/bus.sqlite3``; WAL lets
them read while one writes, and the busy timeout makes a writer wait for another rather than fail.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.bus.base import (
    Event,
    check_max_age,
    check_read,
    check_stream,
    check_ttl,
    check_value,
    encode_event,
)
from core.clock import SYSTEM_CLOCK, Clock
from core.db.engine import make_private_file
from core.errors import BackendUnavailable, InvalidInput

BUS_FILE = "bus.sqlite3"
BUSY_TIMEOUT_S = 30.0  # three processes share the file; wait for a writer rather than fail
POLL_INTERVAL_S = 0.05  # a blocking read re-checks this often: SQLite cannot notify another process
ID_WIDTH = 20  # event ids are zero-padded so that string order is publish order

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a trim empties the table
    stream TEXT NOT NULL,
    data TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stream_id ON events (stream, id);
CREATE INDEX IF NOT EXISTS events_stream_at ON events (stream, at);
"""


class BusFile:
    """Lazily opened connections to one bus file: one per thread, reopened after fork."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[tuple[int, sqlite3.Connection]] = []

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        # A connection inherited over fork stays referenced in ``_opened`` but is never used or
        # closed here: SQLite forbids carrying a connection across fork.
        conn = self._open()
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (read-modify-write safe)."""
        conn = self.connection()
        with _available(self.path):
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def ping(self) -> bool:
        try:
            self.connection().execute("SELECT 1").fetchone()
        except (BackendUnavailable, sqlite3.Error):
            return False
        return True

    def close(self) -> None:
        """Close every connection this process opened; the next use opens a fresh one."""
        with self._lock:
            mine = [c for pid, c in self._opened if pid == os.getpid()]
            self._opened = [(pid, c) for pid, c in self._opened if pid != os.getpid()]
        for conn in mine:
            conn.close()
        self._local = threading.local()

    def _open(self) -> sqlite3.Connection:
        with _available(self.path):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            make_private_file(self.path)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
        with self._lock:
            self._opened.append((os.getpid(), conn))
        return conn


@contextmanager
def _available(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        raise BackendUnavailable(f"bus file {path} cannot be used: {exc}") from exc


class EmbeddedCache:
    """The cache on the ``kv`` table; expired rows are invisible and removed by ``purge_expired``.

    Expiry times are read from ``clock`` (every process sharing the file must use the same clock)."""

    def __init__(self, path: Path, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = BusFile(path)
        self._clock = clock

    def get(self, key: str) -> bytes | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, self._clock.time()),
            )
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        check_ttl(ttl_s)
        expires_at = None if ttl_s is None else self._clock.time() + ttl_s
        self._db.connection().execute(
            "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
            (key, check_value(value), expires_at),
        )

    def delete(self, key: str) -> None:
        self._db.connection().execute("DELETE FROM kv WHERE key = ?", (key,))

    def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        check_ttl(ttl_s)
        with self._db.transaction() as conn:
            now = self._clock.time()
            row = conn.execute("SELECT value, expires_at FROM kv WHERE key = ?", (key,)).fetchone()
            current, expires_at = (0, None) if _expired(row, now) else (_as_int(key, row[0]), row[1])
            total = current + amount
            if ttl_s is not None and expires_at is None:
                expires_at = now + ttl_s
            conn.execute(
                "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
                (key, str(total).encode(), expires_at),
            )
        return total

    def ping(self) -> bool:
        return self._db.ping()

    def purge_expired(self) -> int:
        cur = self._db.connection().execute(
            "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (self._clock.time(),)
        )
        return cur.rowcount

    def close(self) -> None:
        self._db.close()


def _expired(row: tuple[Any, Any] | None, now: float) -> bool:
    return row is None or (row[1] is not None and row[1] <= now)


def _as_int(key: str, value: bytes) -> int:
    try:
        return int(bytes(value))
    except ValueError:
        raise InvalidInput(f"cache key {key!r} does not hold an integer") from None


class EmbeddedEventBus:
    """The bus on the ``events`` table; an event id is its row id, zero-padded. Publish times, trims and
    blocking reads go by ``clock``."""

    def __init__(self, path: Path, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = BusFile(path)
        self._clock = clock

    def publish(self, stream: str, event: dict[str, Any]) -> str:
        check_stream(stream)
        cur = self._db.connection().execute(
            "INSERT INTO events (stream, data, at) VALUES (?, ?, ?)",
            (stream, encode_event(event), self._clock.time()),
        )
        return _event_id(cur.lastrowid or 0)

    def read(self, stream: str, after_id: str | None = None, *, count: int = 100, block_s: float = 0) -> list[Event]:
        check_read(stream, count, block_s)
        after = _row_id(after_id)
        deadline = self._clock.monotonic() + block_s
        while True:
            events = self._fetch(stream, after, count)
            if events or self._clock.monotonic() >= deadline:
                return events
            self._clock.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - self._clock.monotonic())))

    def trim(self, stream: str, max_age_s: float) -> int:
        check_stream(stream)
        check_max_age(max_age_s)
        cur = self._db.connection().execute(
            "DELETE FROM events WHERE stream = ? AND at < ?", (stream, self._clock.time() - max_age_s)
        )
        return cur.rowcount

    def ping(self) -> bool:
        return self._db.ping()

    def close(self) -> None:
        self._db.close()

    def _fetch(self, stream: str, after: int, count: int) -> list[Event]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT id, data, at FROM events WHERE stream = ? AND id > ? ORDER BY id LIMIT ?",
                (stream, after, count),
            )
            .fetchall()
        )
        return [
            Event(id=_event_id(i), stream=stream, data=json.loads(d), at=datetime.fromtimestamp(a, UTC))
            for i, d, a in rows
        ]


def _event_id(row_id: int) -> str:
    return str(row_id).zfill(ID_WIDTH)


def _row_id(event_id: str | None) -> int:
    if event_id is None:
        return 0
    if not (isinstance(event_id, str) and event_id.isascii() and event_id.isdigit()):
        raise InvalidInput(f"{event_id!r} is not an event id of the embedded bus")
    return int(event_id)
