"""Another process's hold on an SQLite database's write lock, as a test makes the database refuse writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_WAIT_S = 60.0  # how long taking the lock may wait for a writer that holds it now


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Hold ``db``'s write lock (``BEGIN EXCLUSIVE``): readers go on (WAL); every writer waits out its busy
    timeout and then fails, as under a lock held too long (the same as a read-only or full disk to them)."""
    conn = sqlite3.connect(db, timeout=LOCK_WAIT_S, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()
