"""mem0's own SQLite file, and taking a forgotten memory's text out of it.

mem0 keeps a ``history`` table (every ADD/UPDATE/DELETE with the old and new text: a deleted memory's text
stays there) and a ``messages`` table (the last 10 messages of each scope, read back as context when an LLM
extracts facts). Sophia turns history writes off (``mem0_bridge``), and every forget here deletes whatever
rows still name a forgotten memory or its scope, so what a user asked to forget is gone from every store.
This module uses ``sqlite3`` only: forgetting and the retention job do not import mem0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.config import Settings
from core.db.batches import in_batches

SCOPE_KEYS = ("agent_id", "run_id", "user_id")  # mem0's _build_session_scope: sorted, "k=v" joined by "&"


def mem0_dir(settings: Settings) -> Path:
    return settings.data_dir / "mem0"


def history_db_path(settings: Settings) -> Path:
    return mem0_dir(settings) / "history.db"


def session_scope(scope: Mapping[str, str | None]) -> str:
    """mem0's session scope key of a memory's scope (``user_id``, ``agent_id``, ``run_id``)."""
    return "&".join(f"{k}={_escape(scope[k])}" for k in SCOPE_KEYS if scope.get(k))


def _escape(value: str | None) -> str:
    return str(value).replace("%", "%25").replace("&", "%26").replace("=", "%3D")


def _parse(scope: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in scope.split("&"):
        key, _, value = part.partition("=")
        out[key] = value.replace("%3D", "=").replace("%26", "&").replace("%25", "%")
    return out


def purge_mem0_copies(
    settings: Settings,
    *,
    memory_ids: Iterable[str] = (),
    scopes: Iterable[Mapping[str, str | None]] = (),
    within: Mapping[str, str] | None = None,
) -> int:
    """Delete mem0's history rows of these memories and its kept messages of these scopes (exactly), or of
    every scope ``within`` a user (and agent). Returns the rows deleted; nothing when mem0 never ran here."""
    path = history_db_path(settings)
    if not path.exists():
        return 0
    ids = list(dict.fromkeys(memory_ids))
    exact = {session_scope(s) for s in scopes}
    deleted = 0
    with sqlite3.connect(path, timeout=30) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "history" in tables:
            for batch in in_batches(ids):
                marks = ",".join("?" * len(batch))
                deleted += db.execute(f"DELETE FROM history WHERE memory_id IN ({marks})", batch).rowcount
        if "messages" in tables and (exact or within):
            known = [r[0] for r in db.execute("SELECT DISTINCT session_scope FROM messages")]
            doomed = [
                s for s in known if s in exact or (within and all(_parse(s).get(k) == v for k, v in within.items()))
            ]
            for batch in in_batches(doomed):
                marks = ",".join("?" * len(batch))
                deleted += db.execute(f"DELETE FROM messages WHERE session_scope IN ({marks})", batch).rowcount
    db.close()
    return deleted
