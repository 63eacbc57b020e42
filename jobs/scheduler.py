"""The job scheduler process (`python -m jobs.scheduler`): APScheduler with a persistent job store
in the operational database, so schedules and missed runs survive restarts.

It survives a database that refuses writes for a while (locked past the busy timeout, read-only, disk
full): the job store backs off and retries instead of ending APScheduler's thread. A watchdog in the main
loop exits the process (status 1) when the scheduler stops all the same (its thread died, or the heartbeat
job has not got through for ``SOPHIA_HEARTBEAT_STALE_S``), so that `sophia up` or the container runtime
starts a fresh one instead of leaving a process that runs nothing.

Exactly one scheduler process is active at a time, however many run: each takes the lease on the row
``job_controls`` ``*scheduler*`` (``core.scheduling.take_scheduler_lease``) before it starts APScheduler, and
renews it with every heartbeat. The others wait in standby (no APScheduler, no jobs) and try again every
heartbeat interval: they take over at once when the holder's process on this machine is gone, and once its
lease expired otherwise (three heartbeat intervals). A process whose lease was taken over runs no job any more
and exits (status 1), to be restarted as a standby.

Each tick of the main loop (every few seconds) also takes the runs an admin asked for (`sophia jobs run`, the
Monitoring page) and runs them at once, with trigger "manual".

``python -m jobs.scheduler run JOB_ID`` runs one job in this process and prints its outcome as JSON (what
`sophia jobs run` does when no scheduler is active).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.bus import EventBus, make_bus
from core.clock import SYSTEM_CLOCK, Clock
from core.errors import SophiaError
from core.leases import Lease
from core.observability.logging import configure_logging, get_logger, new_id
from core.pipelines.runner import RECORDS_STREAM
from core.runtime import Runtime, get_runtime
from core.scheduling import (
    HEARTBEAT_JOB,
    JOBS,
    JobSpec,
    claim_requested_runs,
    job_spec,
    scheduler_status,
    take_scheduler_lease,
)
from jobs import definitions

__all__ = ["HEARTBEAT_JOB", "JOBS", "JobSpec", "ResilientJobStore", "Watchdog", "build_scheduler", "main", "watch"]

log = get_logger("jobs")
JOB_TABLE = "apscheduler_jobs"
EVENT_DETECT_MIN_S = 60.0  # records announced outside a sync set detection going at most this often
BUS_PAGE = 500
DETECT_JOB = "detect_insights"
MANUAL_STORE = "manual"  # one-off runs (asked for by an admin, or set going by records announced), in memory
JOBSTORE_RETRY_S = 10.0  # after a failed job-store write, look at the store again this much later
WATCHDOG_CHECK_S = 5.0  # how often the main loop checks that the scheduler still runs (at most)


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
        jobstores={"default": store, MANUAL_STORE: MemoryJobStore()},
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
    lease_lost: threading.Event | None = None  # set when another process took the scheduler's lease
    last_beat: float = field(init=False)

    def __post_init__(self) -> None:
        self.last_beat = self.clock.monotonic()
        self.scheduler.add_listener(self._seen, EVENT_JOB_EXECUTED)

    def _seen(self, event: JobExecutionEvent) -> None:
        if event.job_id == HEARTBEAT_JOB:
            self.last_beat = self.clock.monotonic()

    def problem(self) -> str | None:
        if self.lease_lost is not None and self.lease_lost.is_set():
            return "another scheduler process took over the lease"
        thread = getattr(self.scheduler, "_thread", None)  # BackgroundScheduler's loop; APScheduler 3 has no API
        if thread is None or not thread.is_alive():
            return "the scheduler's thread has ended"
        silent = self.clock.monotonic() - self.last_beat
        if silent > self.stale_after_s:
            return f"the heartbeat job has not succeeded for {silent:.0f} s"
        return None


class Controls:
    """What each tick of the main loop takes: the runs an admin asked for (trigger "manual"), and records the
    bus announces from outside a scheduled sync (an Estuary feed), which set detection going (trigger "event";
    at most once a ``EVENT_DETECT_MIN_S``; a sync's own records trigger it when the sync ends)."""

    def __init__(self, runtime: Runtime, scheduler: BaseScheduler, *, bus: EventBus | None = None) -> None:
        self.runtime, self.scheduler = runtime, scheduler
        self.bus = bus
        self.records_after: str | None = None
        self.caught_up = False  # the stream read up to its end once: only what comes later counts
        self.detect_pending = False
        self.last_detect = float("-inf")

    def tick(self) -> None:
        self._requested()
        self._records()

    def _start(self, spec: JobSpec, trigger: str) -> None:
        self.scheduler.add_job(
            spec.func,
            kwargs={"trigger": trigger},
            id=f"{spec.id}:{trigger}:{new_id()}",
            name=f"{spec.description} ({trigger})",
            jobstore=MANUAL_STORE,
            misfire_grace_time=None,
        )

    def _requested(self) -> None:
        try:
            with self.runtime.session() as session:
                claimed = claim_requested_runs(session=session)
        except Exception as exc:  # noqa: BLE001 - a database that is busy now: the requests wait for the next tick
            log.warning("could not read the requested runs; trying again next tick", error=type(exc).__name__)
            return
        for job_id in claimed:
            self._start(job_spec(job_id), "manual")
            log.info("requested run started", job=job_id)

    def _records(self) -> None:
        try:
            if self.bus is None:
                self.bus = make_bus(self.runtime.settings)
            while True:
                events = self.bus.read(RECORDS_STREAM, self.records_after, count=BUS_PAGE)
                if events:
                    self.records_after = events[-1].id
                if self.caught_up and any("connector" not in e.data for e in events):
                    self.detect_pending = True
                if len(events) < BUS_PAGE:
                    break
        except Exception as exc:  # noqa: BLE001 - a bus that is down: the scheduled detection still runs
            log.debug("records bus not read", error=type(exc).__name__)
            return
        self.caught_up = True
        now = self.runtime.clock.monotonic()
        if self.detect_pending and now - self.last_detect >= EVENT_DETECT_MIN_S:
            self._start(job_spec(DETECT_JOB), "event")
            self.detect_pending, self.last_detect = False, now
            log.info("records announced: detection started")

    def close(self) -> None:
        if self.bus is not None:
            self.bus.close()


def await_lease(runtime: Runtime, *, stop: threading.Event, every_s: float) -> Lease | None:
    """Standby until this process takes the scheduler's lease (the lease), or ``stop`` is set (None)."""
    announced = False
    while not stop.is_set():
        try:
            lease = take_scheduler_lease(runtime=runtime)
        except SQLAlchemyError as exc:
            log.warning("could not take the scheduler lease; trying again", error=type(exc).__name__)
            lease = None
        if lease is not None:
            return lease
        if not announced:
            with runtime.session() as session:
                holder = scheduler_status(session=session, now=runtime.clock.now(), settings=runtime.settings)
            log.info("standby: another scheduler process is active", holder=holder.holder_process)
            announced = True
        stop.wait(every_s)
    return None


def run_once(job_id: str) -> int:
    """Run one job here (trigger "manual"), print ``{"job_id", "status", "result"|"error"}`` on stdout; the
    exit status: 0 succeeded, 1 failed, 2 no such job."""
    rt = get_runtime()
    configure_logging(level=rt.settings.log_level, json=rt.settings.log_json, process="jobs")
    try:
        spec = job_spec(job_id)
    except SophiaError as exc:
        sys.stdout.write(json.dumps({"job_id": job_id, "status": "failed", "error": exc.message}) + "\n")
        return 2
    module, name = spec.func.split(":")
    func = getattr(importlib.import_module(module), name)
    try:
        result = func(trigger="manual")
    except Exception as exc:  # noqa: BLE001 - reported (and recorded in its run)
        outcome = {"job_id": job_id, "status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
        sys.stdout.write(json.dumps(outcome) + "\n")
        return 1
    sys.stdout.write(json.dumps({"job_id": job_id, "status": "succeeded", "result": result}, default=str) + "\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        if len(args) == 2 and args[0] == "run":
            sys.exit(run_once(args[1]))
        sys.stderr.write("usage: python -m jobs.scheduler [run JOB_ID]\n")
        sys.exit(2)
    rt = get_runtime()
    configure_logging(level=rt.settings.log_level, json=rt.settings.log_json, process="jobs")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    tick_s = min(WATCHDOG_CHECK_S, rt.settings.heartbeat_interval_s)
    lease = await_lease(rt, stop=stop, every_s=rt.settings.heartbeat_interval_s)
    if lease is None:
        log.info("scheduler stopped (it was on standby)")
        return
    definitions.hold_lease(lease)
    scheduler = build_scheduler(rt)
    watchdog = Watchdog(
        scheduler, stale_after_s=rt.settings.heartbeat_stale_s, clock=rt.clock, lease_lost=definitions.LEASE_LOST
    )
    scheduler.start()
    log.info("scheduler started", jobs=[j.id for j in JOBS], lease=lease.owner)
    controls = Controls(rt, scheduler)
    problem = watch(watchdog, stop=stop, every_s=tick_s, tick=controls.tick)
    if problem is not None:
        log.error("scheduler stopped running jobs; exiting so that it is restarted", reason=problem)
        sys.stderr.flush()
        os._exit(1)  # not sys.exit: a job stuck on a lock would keep the interpreter from ending
    scheduler.shutdown(wait=True)
    controls.close()
    definitions.hold_lease(None)
    lease.release()
    log.info("scheduler stopped")


def watch(
    watchdog: Watchdog, *, stop: threading.Event, every_s: float, tick: Callable[[], None] | None = None
) -> str | None:
    """Check the scheduler every ``every_s`` until ``stop`` is set (None) or something is wrong (what); each
    time all is well, ``tick`` (the admin's requested runs)."""
    while not stop.wait(every_s):
        problem = watchdog.problem()
        if problem is not None:
            return problem
        if tick is not None:
            tick()
    return None


if __name__ == "__main__":
    main()
