"""The write probe and the skippable write (API key use), on SQLite and the real PostgreSQL: they answer at
once when another transaction holds the lock they need, instead of waiting out the busy/lock timeout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import create_engine, text

from core.auth import create_api_key, record_api_key_use
from core.db.models import ApiKey
from core.db.probe import probe_write
from core.runtime import Runtime
from tests.utils.sqlite_lock import write_lock


@contextmanager
def busy(runtime: Runtime) -> Iterator[None]:
    """Another connection holds what a write to ``meta`` and ``api_keys`` needs (reads still go on)."""
    if runtime.engine.dialect.name == "sqlite":
        with write_lock(runtime.settings.data_dir / "sophia.db"):
            yield
        return
    other = create_engine(runtime.engine.url)
    try:
        with other.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE meta, api_keys IN EXCLUSIVE MODE"))
            yield
    finally:
        other.dispose()


def test_probe_says_whether_the_database_takes_a_write(any_runtime: Runtime) -> None:
    assert probe_write(engine=any_runtime.engine) == "ok"
    with busy(any_runtime):
        said = probe_write(engine=any_runtime.engine, wait_ms=100)
    assert said.startswith("database does not accept writes: ")
    assert "locked" in said or "lock timeout" in said
    assert probe_write(engine=any_runtime.engine) == "ok"  # and nothing was left behind
    with any_runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM meta WHERE key = 'readyz-probe'")).scalar() == 0


def test_key_use_is_stamped_when_due_and_skipped_when_busy(any_runtime: Runtime) -> None:
    with any_runtime.session() as s:
        row, _ = create_api_key(session=s, username="admin", actor="test")
    now = any_runtime.clock.now()
    engine = any_runtime.engine
    with busy(any_runtime):
        assert record_api_key_use(engine=engine, key_id=row.id, now=now) is False
    assert record_api_key_use(engine=engine, key_id=row.id, now=now) is True
    assert record_api_key_use(engine=engine, key_id=row.id, now=now + timedelta(minutes=1)) is False
    later = now + timedelta(minutes=6)
    assert record_api_key_use(engine=engine, key_id=row.id, now=later) is True
    with any_runtime.session() as s:
        assert s.get(ApiKey, row.id).last_used_at == later
