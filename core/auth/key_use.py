"""Recording when an API key was last used, without a write per request.

``last_used_at`` answers "is this key still in use?", so minutes are precise enough: it is written at most
once per ``KEY_USE_EVERY`` per key, in its own short transaction apart from the request's, and skipped when
the database is busy or refuses writes. A request authenticated by a key never waits on the write lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import DBAPIError

from core.db.models import ApiKey
from core.db.probe import short_lock_wait
from core.observability.logging import get_logger

KEY_USE_EVERY = timedelta(minutes=5)
KEY_USE_WAIT_MS = 50  # the longest a request waits for the write lock before it skips the stamp
log = get_logger("auth")


# key id -> the newest stamp this process wrote or read: while it is recent, a request costs no query at all
_seen: dict[str, datetime] = {}
_SEEN_MAX = 10_000  # forgotten all at once past this many keys (the next use of each reads the table again)


def record_api_key_use(*, engine: Engine, key_id: str, now: datetime, every: timedelta = KEY_USE_EVERY) -> bool:
    """Stamp the key's ``last_used_at`` with ``now`` when the stored one is older than ``every``. True when
    written; False when not due yet, or skipped because the database was busy or refused the write."""
    if _recent(_seen.get(key_id), now, every):
        return False
    try:
        with engine.connect() as conn:
            stored = conn.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
            if _recent(stored, now, every):
                _remember(key_id, stored)
                return False
            due = ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - every)
            with short_lock_wait(conn, KEY_USE_WAIT_MS):
                written = conn.execute(update(ApiKey).where(*due).values(last_used_at=now)).rowcount
                conn.commit()
    except DBAPIError as exc:  # bookkeeping only: the request goes on
        log.info("API key use not recorded", key_id=key_id, reason=str(exc.orig).splitlines()[0][:200])
        return False
    _remember(key_id, now)
    return bool(written)


def _recent(stamp: datetime | None, now: datetime, every: timedelta) -> bool:
    return stamp is not None and timedelta(0) <= now - stamp < every


def _remember(key_id: str, stamp: datetime | None) -> None:
    if len(_seen) >= _SEEN_MAX:
        _seen.clear()
    if stamp is not None:
        _seen[key_id] = stamp
