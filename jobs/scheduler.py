"""The job scheduler process (`python -m jobs.scheduler`): APScheduler with a persistent job store
in the operational database, so schedules and missed runs survive restarts."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from core.observability.logging import configure_logging, get_logger
from core.runtime import Runtime, get_runtime

log = get_logger("jobs")
JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # "module:function", so the persistent store keeps a reference, not a pickle of code
    seconds: int
    description: str


JOBS = (
    JobSpec("heartbeat", "jobs.definitions:heartbeat", 30, "scheduler liveness"),
    JobSpec("sync_due_connectors", "jobs.definitions:sync_due_connectors", 60, "sync connectors whose interval passed"),
    JobSpec("index_records", "jobs.definitions:index_records", 30, "index the records that changed, for search"),
    JobSpec("reindex_full", "jobs.definitions:reindex_full", 3600, "the daily full rebuild of search documents"),
    JobSpec("housekeeping", "jobs.definitions:housekeeping", 600, "expire cache entries, trim the event bus"),
    JobSpec(
        "sync_vector_indexes", "jobs.definitions:sync_vector_indexes", 30, "push chunk changes to the vector backends"
    ),
)


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )
    for job in JOBS:
        # first run now, so state is fresh without waiting a whole interval
        scheduler.add_job(
            job.func,
            "interval",
            seconds=job.seconds,
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


BACKGROUND_NICENESS = 10  # indexing and syncs must not starve the app and API sharing these cores


def main() -> None:
    os.nice(BACKGROUND_NICENESS)
    rt = get_runtime()
    configure_logging(level=rt.settings.log_level, json=rt.settings.log_json, process="jobs")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = build_scheduler(rt)
    scheduler.start()
    log.info("scheduler started", jobs=[j.id for j in JOBS])
    stop.wait()
    scheduler.shutdown(wait=True)
    log.info("scheduler stopped")


if __name__ == "__main__":
    main()
