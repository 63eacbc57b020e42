"""The scheduler's jobs, run for real against a migrated database and the embedded cache/bus; the scheduler
outliving a database that refuses writes, in-process and as the real `python -m jobs.scheduler`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine

from core import runtime as runtime_module
from core.bus import make_bus, make_cache
from core.clock import ManualClock
from core.config import get_settings
from core.db.engine import make_session_factory
from core.db.models import Meta
from core.jobs_health import HEARTBEAT_KEY, scheduler_heartbeat
from core.runtime import Runtime
from core.scheduling import request_run
from jobs import definitions
from jobs.scheduler import JOBS, ResilientJobStore, Watchdog, build_scheduler, watch
from tests.utils.sqlite_lock import write_lock

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # generous limits for real threads and processes; each wait ends as soon as its condition holds


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
    assert scheduler_heartbeat(runtime=process_runtime).state == "never"
    definitions.heartbeat()
    with process_runtime.session() as s:
        assert "heartbeat_at" in s.get(Meta, HEARTBEAT_KEY).value
    beat = scheduler_heartbeat(runtime=process_runtime)
    assert beat.state == "fresh" and beat.pid == os.getpid() and beat.age_s is not None


def test_heartbeat_goes_stale_by_the_clock(process_runtime) -> None:
    process_runtime.clock = clock = ManualClock()
    definitions.heartbeat()
    clock.advance(process_runtime.settings.heartbeat_stale_s + 1)
    beat = scheduler_heartbeat(runtime=process_runtime)
    assert beat.state == "stale" and "the scheduler is down" in beat.describe()


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


# ---- a database that refuses writes for a while --------------------------------------------------------


def wait_for(condition, timeout_s: float = WAIT_S) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_scheduler_outlives_a_job_store_write_that_fails(runtime, tmp_path: Path) -> None:
    """APScheduler writes each job's next run from its own thread; a write refused (here: locked past a short
    busy timeout) used to end that thread, and with it every job, for good."""
    db = runtime.settings.data_dir / "sophia.db"
    engine = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.2})
    rt = Runtime(settings=runtime.settings, engine=engine, sessions=make_session_factory(engine))
    scheduler = build_scheduler(rt, retry_s=0.2)
    scheduler.remove_all_jobs()  # the product's jobs need the process's runtime; a no-op shows the same
    scheduler.add_job("os:getpid", "interval", seconds=0.2, id="tick")
    runs = threading.Semaphore(0)
    scheduler.add_listener(lambda _: runs.release(), EVENT_JOB_EXECUTED)
    store = scheduler._jobstores["default"]
    scheduler.start()
    try:
        assert runs.acquire(timeout=WAIT_S)
        with write_lock(db):
            assert wait_for(lambda: isinstance(store, ResilientJobStore) and store.failed is not None)
        while runs.acquire(blocking=False):  # forget the runs before the lock was released
            pass
        assert runs.acquire(timeout=WAIT_S), "no job ran after the database took writes again"
        assert Watchdog(scheduler, stale_after_s=WAIT_S).problem() is None
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()


def test_watchdog_names_a_scheduler_that_stopped() -> None:
    never_started = BackgroundScheduler()
    assert watch(Watchdog(never_started, stale_after_s=60), stop=threading.Event(), every_s=0.01) == (
        "the scheduler's thread has ended"
    )


def test_watchdog_names_a_heartbeat_that_stopped_getting_through() -> None:
    clock = ManualClock()
    scheduler = BackgroundScheduler()
    dog = Watchdog(scheduler, stale_after_s=60, clock=clock)
    beats = threading.Semaphore(0)
    scheduler.add_listener(lambda _: beats.release(), EVENT_JOB_EXECUTED)
    scheduler.start()
    try:
        clock.advance(59)
        assert dog.problem() is None
        clock.advance(2)
        assert dog.problem() == "the heartbeat job has not succeeded for 61 s"
        scheduler.add_job("os:getpid", id="heartbeat")  # the heartbeat gets through again
        assert beats.acquire(timeout=WAIT_S)
        assert dog.problem() is None
    finally:
        scheduler.shutdown(wait=False)


def start_jobs_process(runtime: Runtime, **settings: str) -> tuple[subprocess.Popen, list[str]]:
    """The real `python -m jobs.scheduler` on ``runtime``'s data dir; its log lines are collected as they come."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(runtime.settings.data_dir),
        "SOPHIA_SECRET_KEY": runtime.settings.signing_key(),
        "SOPHIA_LOG_JSON": "true",
        **{f"SOPHIA_{k.upper()}": v for k, v in settings.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.scheduler"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    return proc, log


def beat_after(runtime: Runtime, moment: float) -> bool:
    at = scheduler_heartbeat(runtime=runtime).at
    return at is not None and at.timestamp() > moment


def test_jobs_process_exits_when_its_heartbeat_stops_getting_through(process_runtime) -> None:
    """What the watchdog is for: a scheduler that runs no jobs ends its process (status 1), so that
    `sophia up` or the container runtime starts a fresh one."""
    proc, log = start_jobs_process(process_runtime, heartbeat_interval_s="0.5", heartbeat_stale_s="3")
    try:
        assert wait_for(lambda: beat_after(process_runtime, 0)), "".join(log)[-3000:]
        with write_lock(process_runtime.settings.data_dir / "sophia.db"):  # every heartbeat now waits 30 s
            assert proc.wait(WAIT_S) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT_S)
    assert wait_for(lambda: any("exiting so that it is restarted" in line for line in log), timeout_s=5)


def _write_failed(line: str) -> bool:
    return "job store write failed" in line or ('"job failed"' in line and '"heartbeat"' in line)


def test_jobs_process_runs_again_after_its_database_refused_writes(process_runtime) -> None:
    """The real `python -m jobs.scheduler` on SQLite, its database locked by another process past the busy
    timeout (30 s) until a job-store write has failed: the heartbeat resumes once the lock is gone."""
    db = process_runtime.settings.data_dir / "sophia.db"
    # recovery in the process itself here, not by the watchdog's exit
    proc, log = start_jobs_process(process_runtime, heartbeat_interval_s="1", heartbeat_stale_s="600")
    try:
        assert wait_for(lambda: beat_after(process_runtime, 0)), "".join(log)[-3000:]
        with write_lock(db):  # held until a write has failed (the busy timeout is 30 s; the old heartbeat 30 s)
            failed = wait_for(lambda: any(_write_failed(line) for line in log), timeout_s=90)
            time.sleep(2)  # the scheduler's own write, begun with the job's, fails as well
        released = time.time()
        assert wait_for(lambda: beat_after(process_runtime, released)), "no heartbeat after the lock was released"
        assert failed, "the lock was released before a job-store write failed: it tested nothing"
        assert proc.poll() is None  # the same process, recovered
    finally:
        proc.terminate()
        proc.wait(WAIT_S)


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


def _runs_by_host(runtime: Runtime) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.db.models import JobRun

    with runtime.session() as s:
        return {host: n for host, n in s.execute(select(JobRun.host, func.count()).group_by(JobRun.host))}


def _manual_runs(runtime: Runtime) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from core.db.models import JobRun

    with runtime.session() as s:
        return [(r.job_id, r.host) for r in s.scalars(select(JobRun).where(JobRun.trigger == "manual"))]


def test_two_jobs_processes_one_runs_jobs_and_the_other_takes_over_when_it_dies(process_runtime) -> None:
    """Exactly one active scheduler: the second process waits in standby while the first holds the lease,
    and takes over at once when the first is killed (its process is gone on this machine)."""
    import socket

    host = socket.gethostname()
    settings = {"heartbeat_interval_s": "0.5", "heartbeat_stale_s": "30"}
    first, first_log = start_jobs_process(process_runtime, **settings)
    second = None
    try:
        first_host = f"{first.pid}@{host}"
        assert wait_for(lambda: first_host in _runs_by_host(process_runtime)), "".join(first_log)[-3000:]
        second, second_log = start_jobs_process(process_runtime, **settings)
        second_host = f"{second.pid}@{host}"
        assert wait_for(lambda: any("standby" in line for line in second_log)), "".join(second_log)[-3000:]
        seen = _runs_by_host(process_runtime)[first_host]
        assert wait_for(lambda: _runs_by_host(process_runtime)[first_host] >= seen + 3)  # a few more heartbeats
        assert set(_runs_by_host(process_runtime)) == {first_host}  # the standby ran nothing
        first.kill()
        first.wait(WAIT_S)
        assert wait_for(lambda: second_host in _runs_by_host(process_runtime)), "".join(second_log)[-3000:]
        assert second.poll() is None
        with process_runtime.session() as s:  # an admin asks for a run: the active scheduler starts it
            request_run(session=s, job_id="retention", actor="ann", now=process_runtime.clock.now())
        assert wait_for(lambda: _manual_runs(process_runtime) == [("retention", second_host)])
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(WAIT_S)
