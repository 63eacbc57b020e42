"""Helpers of the memory tests: users to own memories, and what mem0's own SQLite file holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.auth import STAND_IN_HASH
from core.clock import ManualClock
from core.db.models import User
from core.memory.history import history_db_path
from core.runtime import Runtime

USERS = ("vera", "omar")


def add_users(rt: Runtime) -> Runtime:
    rt.clock = ManualClock()
    with rt.session() as s:
        for name in USERS:  # rows, not create_user: no password is checked here, and bcrypt costs 0.3 s each
            s.add(User(username=name, password_hash=STAND_IN_HASH, role="viewer"))
    return rt


def mem0_file_text(rt: Runtime) -> str:
    """Everything mem0's own SQLite file holds, as one string (every table, every column)."""
    path: Path = history_db_path(rt.settings)
    if not path.exists():
        return ""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        text = "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))
    db.close()
    return text
