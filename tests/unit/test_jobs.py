"""The scheduler's jobs, run for real against a migrated database and the embedded cache/bus."""

from __future__ import annotations

import time

import pytest

from core import runtime as runtime_module
from core.bus import make_bus, make_cache
from core.config import get_settings
from core.db.models import Meta
from jobs import definitions
from jobs.scheduler import JOBS, build_scheduler


@pytest.fixture
def process_runtime(runtime, monkeypatch):
    """The scheduler process's runtime, configured by environment as `sophia up` configures it."""
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", runtime.settings.signing_key())
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()
    yield runtime_module.get_runtime()
    runtime_module.get_runtime().engine.dispose()
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()


def test_heartbeat_records_liveness(process_runtime) -> None:
    definitions.heartbeat()
    with process_runtime.session() as s:
        assert "heartbeat_at" in s.get(Meta, definitions.HEARTBEAT_KEY).value


def test_housekeeping_purges_expired_cache_entries(process_runtime) -> None:
    cache = make_cache(process_runtime.settings)
    cache.set("short", b"x", ttl_s=0.05)
    cache.set("long", b"y", ttl_s=3600)
    time.sleep(0.1)
    make_bus(process_runtime.settings).publish("records", {"entity": "accounts"})
    definitions.housekeeping()
    assert cache.get("long") == b"y" and cache.get("short") is None
    assert len(make_bus(process_runtime.settings).read("records")) == 1  # recent events are kept


def test_scheduler_persists_its_jobs_in_the_database(process_runtime) -> None:
    scheduler = build_scheduler(process_runtime)
    scheduler.start(paused=True)
    try:
        assert {j.id for j in scheduler.get_jobs()} == {j.id for j in JOBS}
    finally:
        scheduler.shutdown(wait=False)
    from sqlalchemy import inspect

    assert "apscheduler_jobs" in inspect(process_runtime.engine).get_table_names()


def test_the_index_job_follows_changes_and_the_full_run_waits_its_day(process_runtime) -> None:
    from sqlalchemy import select

    from core.db.models import Document
    from core.ingest.service import ingest_records
    from core.search.indexing import indexing_state

    with process_runtime.session() as s:
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[
                {
                    "external_id": "a-1",
                    "type": "note",
                    "subject": "Autopay",
                    "body": "Enrolled.",
                    "occurred_at": "2026-02-03T10:00:00+00:00",
                }
            ],
        )
    definitions.index_records(follow_s=0)  # the first run is a full one
    with process_runtime.session() as s:
        assert s.scalars(select(Document.external_id)).all() == ["activities/a-1"]
    finished = indexing_state(runtime=process_runtime)["finished_at"]
    definitions.reindex_full()  # a full run started less than a day ago: nothing to do
    assert indexing_state(runtime=process_runtime)["finished_at"] == finished
