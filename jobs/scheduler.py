"""The job scheduler process (`python -m jobs.scheduler`): APScheduler with a persistent job store
in the operational database, so schedules and missed runs survive restarts.

It survives a database that refuses writes for a while (locked past the busy timeout, read-only, disk
full): the job store backs off and retries instead of ending APScheduler's thread. A watchdog in the main
loop exits the process (status 1) when the scheduler stops all the same (its thread died, or the heartbeat
job has not got through for ``SOPHIA_HEARTBEAT_STALE_S``), so that `sophia up` or the container runtime
starts a fresh one instead of leaving a process that runs nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.clock import SYSTEM_CLOCK, Clock
from core.config import Settings
from core.observability.logging import configure_logging, get_logger
from core.runtime import Runtime, get_runtime

log = get_logger("jobs")
JOB_TABLE = "apscheduler_jobs"
HEARTBEAT_JOB = "heartbeat"
JOBSTORE_RETRY_S = 10.0  # after a failed job-store write, look at the store again this much later
WATCHDOG_CHECK_S = 5.0  # how often the main loop checks that the scheduler still runs (at most)


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # "module:function", so the persistent store keeps a reference, not a pickle of code
    seconds: int | None  # None: from the settings (the heartbeat: SOPHIA_HEARTBEAT_INTERVAL_S)
    description: str

    def interval_s(self, settings: Settings) -> float:
        return settings.heartbeat_interval_s if self.seconds is None else float(self.seconds)


JOBS = (
    JobSpec(HEARTBEAT_JOB, "jobs.definitions:heartbeat", None, "scheduler liveness"),
    JobSpec("sync_due_connectors", "jobs.definitions:sync_due_connectors", 60, "sync connectors whose interval passed"),
    JobSpec("index_records", "jobs.definitions:index_records", 30, "index the records that changed, for search"),
    JobSpec("reindex_full", "jobs.definitions:reindex_full", 3600, "the daily full rebuild of search documents"),
    JobSpec("housekeeping", "jobs.definitions:housekeeping", 600, "expire cache entries, trim the event bus"),
    JobSpec(
        "sync_vector_indexes", "jobs.definitions:sync_vector_indexes", 30, "push chunk changes to the vector backends"
    ),
)


class JobStoreUnavailable(Exception):
    """The job store is backing off after a failed write."""


class ResilientJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy job store, made to outlive a failed write.

    APScheduler 3 writes each due job's next run time from its own thread, and an exception there ends that
    thread for good. Here a failed write is logged and the store backs off for ``retry_s``: meanwhile
    ``get_due_jobs`` raises, which APScheduler answers by looking again ``jobstore_retry_interval`` later.
    A job whose next run time could not be stored is still due, so it runs again once the store works.
    """

    def __init__(self, *, engine: Engine, tablename: str, retry_s: float, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(engine=engine, tablename=tablename)
        self.retry_s = retry_s
        self.clock = clock
        self.failed: str | None = None  # the last failure, while backing off
        self._retry_at = 0.0

    def update_job(self, job: Job) -> None:
        try:
            super().update_job(job)
        except SQLAlchemyError as exc:
            self._back_off(f"could not store job {job.id}'s next run", exc)
        else:
            self.failed = None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        if self.failed is not None and self.clock.monotonic() < self._retry_at:
            raise JobStoreUnavailable(self.failed)
        return super().get_due_jobs(now)

    def get_next_run_time(self) -> datetime | None:
        try:
            return super().get_next_run_time()
        except SQLAlchemyError as exc:
            self._back_off("could not read the next run time", exc)
            return datetime.now(UTC) + timedelta(seconds=self.retry_s)  # wake up again, never wait for ever

    def _back_off(self, what: str, exc: SQLAlchemyError) -> None:
        cause = getattr(exc, "orig", None) or exc
        self.failed = f"{what}: {(str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]}"
        self._retry_at = self.clock.monotonic() + self.retry_s
        log.warning("job store write failed; retrying later", error=self.failed, retry_s=self.retry_s)


def build_scheduler(runtime: Runtime, *, retry_s: float = JOBSTORE_RETRY_S) -> BackgroundScheduler:
    store = ResilientJobStore(engine=runtime.engine, tablename=JOB_TABLE, retry_s=retry_s, clock=runtime.clock)
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        jobstore_retry_interval=retry_s,
        timezone="UTC",
    )
    for job in JOBS:
        # first run now, so state is fresh without waiting a whole interval
        scheduler.add_job(
            job.func,
            "interval",
            seconds=job.interval_s(runtime.settings),
            id=job.id,
            name=job.description,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_listener(_log_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_ERROR:
        log.error("job failed", job_id=event.job_id, error=repr(event.exception))
    elif event.code == EVENT_JOB_MISSED:
        log.warning("job missed", job_id=event.job_id)
    else:
        log.debug("job done", job_id=event.job_id)


@dataclass
class Watchdog:
    """Says what is wrong when the scheduler no longer runs jobs: its thread has ended, or the heartbeat job
    has not succeeded for ``stale_after_s`` (counted from the start until the first one)."""

    scheduler: BaseScheduler
    stale_after_s: float
    clock: Clock = SYSTEM_CLOCK
    last_beat: float = field(init=False)

    def __post_init__(self) -> None:
        self.last_beat = self.clock.monotonic()
        self.scheduler.add_listener(self._seen, EVENT_JOB_EXECUTED)

    def _seen(self, event: JobExecutionEvent) -> None:
        if event.job_id == HEARTBEAT_JOB:
            self.last_beat = self.clock.monotonic()

    def problem(self) -> str | None:
        thread = getattr(self.scheduler, "_thread", None)  # BackgroundScheduler's loop; APScheduler 3 has no API
        if thread is None or not thread.is_alive():
            return "the scheduler's thread has ended"
        silent = self.clock.monotonic() - self.last_beat
        if silent > self.stale_after_s:
            return f"the heartbeat job has not succeeded for {silent:.0f} s"
        return None


def main() -> None:
    rt = get_runtime()
    configure_logging(level=rt.settings.log_level, json=rt.settings.log_json, process="jobs")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = build_scheduler(rt)
    watchdog = Watchdog(scheduler, stale_after_s=rt.settings.heartbeat_stale_s, clock=rt.clock)
    scheduler.start()
    log.info("scheduler started", jobs=[j.id for j in JOBS])
    problem = watch(watchdog, stop=stop, every_s=min(WATCHDOG_CHECK_S, rt.settings.heartbeat_interval_s))
    if problem is not None:
        log.error("scheduler stopped running jobs; exiting so that it is restarted", reason=problem)
        sys.stderr.flush()
        os._exit(1)  # not sys.exit: a job stuck on a lock would keep the interpreter from ending
    scheduler.shutdown(wait=True)
    log.info("scheduler stopped")


def watch(watchdog: Watchdog, *, stop: threading.Event, every_s: float) -> str | None:
    """Check the scheduler every ``every_s`` until ``stop`` is set (None) or something is wrong (what)."""
    while not stop.wait(every_s):
        problem = watchdog.problem()
        if problem is not None:
            return problem
    return None


if __name__ == "__main__":
    main()
