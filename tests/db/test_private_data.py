"""What the data folder keeps stays private: folder 0700, database and bus files (with their -wal and -shm)
0600, and a failed statement's parameters (record payloads) never reach an error message or a log line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.bus import make_bus, make_cache
from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = "tenant-ssn-078-05-1120"  # what a record payload might carry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what a service account usually has: files 0644, folders 0755
    yield
    os.umask(old)


def test_the_data_folder_and_its_database_files_are_private(tmp_path, usual_umask) -> None:
    rt = open_runtime(make_settings(tmp_path))
    prepare(rt)
    with rt.engine.connect() as conn:  # WAL and shared memory exist while a connection is open
        conn.execute(text("SELECT count(*) FROM users"))
        data = rt.settings.data_dir
        assert mode(data) == 0o700
        db_files = [p for p in data.iterdir() if p.name.startswith("sophia")]
        assert {p.name.rsplit(".", 1)[-1] for p in db_files} >= {"db", "db-wal", "db-shm"}, db_files
        assert {p.name: mode(p) for p in db_files} == {p.name: 0o600 for p in db_files}
    rt.engine.dispose()


def test_the_bus_file_is_private(tmp_path, usual_umask) -> None:
    settings = make_settings(tmp_path)
    cache, bus = make_cache(settings), make_bus(settings)
    cache.set("k", b"v")
    bus.publish("s", {"a": 1})
    files = [p for p in settings.data_dir.iterdir() if p.name.startswith("bus.sqlite3")]
    assert len(files) >= 2 and {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(settings.data_dir) == 0o700
    cache.close()
    bus.close()


def test_an_older_database_made_0644_is_tightened(tmp_path, usual_umask) -> None:
    rt = open_runtime(make_settings(tmp_path))
    prepare(rt)
    rt.engine.dispose()
    db = next(p for p in rt.settings.data_dir.iterdir() if p.suffix == ".db")
    db.chmod(0o644)
    again = open_runtime(make_settings(tmp_path))
    assert mode(db) == 0o600
    again.engine.dispose()


def test_a_failed_statement_does_not_carry_its_parameters(any_runtime: Runtime) -> None:
    with pytest.raises(SQLAlchemyError) as caught, any_runtime.engine.connect() as conn:
        conn.execute(text("INSERT INTO no_such_table (v) VALUES (:v)"), {"v": PAYLOAD})
    assert PAYLOAD not in str(caught.value)


def test_an_error_log_line_does_not_carry_parameters(tmp_path) -> None:
    """The process's own log configuration (JSON, tracebacks as data) on a statement that fails."""
    script = f"""
from sqlalchemy import text
from core.observability.logging import configure_logging, get_logger
from core.runtime import open_runtime, prepare
from tests.conftest import make_settings
configure_logging(level="INFO", json=True, process="test")
rt = open_runtime(make_settings(__import__("pathlib").Path({str(tmp_path)!r})))
prepare(rt)
try:
    with rt.session() as s:
        s.execute(text("UPDATE accounts SET name = :v WHERE no_such_column = 1"), {{"v": {PAYLOAD!r}}})
except Exception:
    get_logger("test").exception("write failed")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "write failed" in done.stderr and "no_such_column" in done.stderr, done.stderr[-2000:]
    assert PAYLOAD not in done.stderr
