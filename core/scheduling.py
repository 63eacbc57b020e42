"""The scheduled jobs as every face sees them: the catalogue (``JOBS``), each run's record (``job_runs``), the
admin's controls (pause, resume, run now: ``job_controls``), the one active scheduler, and the status the CLI,
the API and the Monitoring page show.

- **Catalogue.** A job is named by ``"module:function"`` (the scheduler process imports it; nothing here does),
  so the pages and the API read the catalogue without importing the ``jobs`` face.
- **Runs.** Every run is a ``JobRun`` row: opened (``running``) when it starts, closed ``succeeded`` with the
  job's result (a dict of counts) or ``failed`` with the error. ``trigger`` says why it ran: ``schedule``,
  ``manual`` (an admin asked) or ``event`` (a sync wrote records).
- **Controls.** A paused job's scheduled runs are skipped (not recorded); a requested run is taken by the
  active scheduler on its next tick (a few seconds) and runs even when the job is paused. The heartbeat
  cannot be paused: it keeps the scheduler alive.
- **One active scheduler.** Each ``jobs`` process tries to take the lease on the row ``job_controls``
  ``*scheduler*`` (``core.leases``); the holder renews it with every heartbeat, the others wait in standby
  and take it over when the holder's process is gone (at once on this machine) or its lease expired
  (``scheduler_lease_ttl``: three heartbeat intervals).
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit import audit
from core.config import Settings, get_settings
from core.db.engine import changed_rows
from core.db.models import JobControl, JobRun
from core.errors import InvalidInput, NotFound
from core.jobs_health import Heartbeat, read_heartbeat
from core.leases import Lease, LeaseSlot, holder_is_dead, new_owner
from core.runtime import Runtime

__all__ = [
    "HEARTBEAT_JOB",
    "JOBS",
    "SCHEDULER_ROW",
    "JobSpec",
    "JobStatus",
    "SchedulerStatus",
    "claim_requested_runs",
    "finish_run",
    "job_paused",
    "job_spec",
    "job_statuses",
    "pause_job",
    "request_run",
    "resume_job",
    "run_host",
    "scheduler_lease_ttl",
    "scheduler_slot",
    "scheduler_status",
    "start_run",
    "take_scheduler_lease",
]

HEARTBEAT_JOB = "heartbeat"
SCHEDULER_ROW = "*scheduler*"  # the job_controls row whose lease makes a scheduler process the active one
APSCHEDULER_TABLE = "apscheduler_jobs"
TRIGGERS = ("schedule", "manual", "event")
LEASE_HEARTBEATS = 3  # the scheduler's lease lasts this many heartbeat intervals
ERROR_MAX = 2000


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
    JobSpec(
        "detect_insights", "jobs.definitions:detect_insights", 900, "detect insights (also after a sync wrote records)"
    ),
    JobSpec("deliver_insights", "jobs.definitions:deliver_insights", 60, "post due insights and digests to Slack"),
    JobSpec(
        "retention",
        "jobs.definitions:retention",
        86400,
        "delete old job runs, long-resolved insights, expired and unused memories",
    ),
)
_BY_ID = {j.id: j for j in JOBS}


def job_spec(job_id: str) -> JobSpec:
    """The job named ``job_id``; ``NotFound`` naming the jobs there are."""
    spec = _BY_ID.get(job_id)
    if spec is None:
        raise NotFound(f"no job {job_id!r}; the jobs are: {', '.join(_BY_ID)}")
    return spec


def run_host() -> str:
    """``<pid>@<host>``: the process that runs a job."""
    return f"{os.getpid()}@{socket.gethostname()}"[:128]


# ---- runs ----------------------------------------------------------------------------------------------


def start_run(*, runtime: Runtime, job_id: str, trigger: str = "schedule") -> int:
    """Open the run record of ``job_id`` (``running``, now by the runtime's clock); returns its id."""
    if trigger not in TRIGGERS:
        raise InvalidInput(f"trigger {trigger!r}: expected one of {', '.join(TRIGGERS)}")
    with runtime.session() as session:
        run = JobRun(job_id=job_id, started_at=runtime.clock.now(), status="running", trigger=trigger, host=run_host())
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    *, runtime: Runtime, run_id: int, result: dict[str, Any] | None = None, error: str | None = None
) -> None:
    """Close a run: ``failed`` with ``error`` when one is given, else ``succeeded`` with ``result``."""
    with runtime.session() as session:
        run = session.get(JobRun, run_id)
        if run is None:  # pruned meanwhile: nothing to close
            return
        run.finished_at = runtime.clock.now()
        run.status = "failed" if error is not None else "succeeded"
        run.result = _jsonable(result or {})
        run.error = error[:ERROR_MAX] if error is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# ---- controls ------------------------------------------------------------------------------------------


def _control(session: Session, job_id: str) -> JobControl:
    row = session.get(JobControl, job_id)
    if row is None:
        row = JobControl(job_id=job_id, paused=False)
        session.add(row)
    return row


def job_paused(*, runtime: Runtime, job_id: str) -> bool:
    with runtime.session() as session:
        return bool(session.scalar(select(JobControl.paused).where(JobControl.job_id == job_id)))


def pause_job(*, session: Session, job_id: str, actor: str, now: datetime) -> None:
    """Skip ``job_id``'s scheduled runs until it is resumed (a run asked for still runs). Audited."""
    if job_spec(job_id).id == HEARTBEAT_JOB:
        raise InvalidInput("the heartbeat cannot be paused: it keeps the scheduler alive and its lease held")
    row = _control(session, job_id)
    row.paused, row.changed_by, row.updated_at = True, actor, now
    audit(session=session, actor=actor, action="job.pause", target=job_id)


def resume_job(*, session: Session, job_id: str, actor: str, now: datetime) -> None:
    """Run ``job_id`` on its schedule again. Audited."""
    job_spec(job_id)
    row = _control(session, job_id)
    row.paused, row.changed_by, row.updated_at = False, actor, now
    audit(session=session, actor=actor, action="job.resume", target=job_id)


def request_run(*, session: Session, job_id: str, actor: str, now: datetime) -> None:
    """Ask the active scheduler to run ``job_id`` on its next tick (trigger ``manual``). Audited."""
    job_spec(job_id)
    row = _control(session, job_id)
    row.run_requested_at, row.changed_by, row.updated_at = now, actor, now
    audit(session=session, actor=actor, action="job.run", target=job_id)


def claim_requested_runs(*, session: Session) -> list[str]:
    """The jobs asked to run, each claimed once (its request cleared by a conditional UPDATE)."""
    wanted = session.execute(
        select(JobControl.job_id, JobControl.run_requested_at).where(
            JobControl.run_requested_at.is_not(None), JobControl.job_id.in_(list(_BY_ID))
        )
    ).all()
    claimed = []
    for job_id, at in wanted:
        clear = (
            update(JobControl)
            .where(JobControl.job_id == job_id, JobControl.run_requested_at == at)
            .values(run_requested_at=None)
        )
        if changed_rows(session, clear) == 1:
            claimed.append(job_id)
    return claimed


# ---- the one active scheduler --------------------------------------------------------------------------


def scheduler_slot() -> LeaseSlot:
    return LeaseSlot(JobControl, JobControl.job_id == SCHEDULER_ROW, "the scheduler")


def scheduler_lease_ttl(settings: Settings) -> timedelta:
    return timedelta(seconds=LEASE_HEARTBEATS * settings.heartbeat_interval_s)


def take_scheduler_lease(*, runtime: Runtime) -> Lease | None:
    """Become the active scheduler: the lease, or None while another live process holds it."""
    try:
        with runtime.session() as session:
            if session.get(JobControl, SCHEDULER_ROW) is None:
                session.add(JobControl(job_id=SCHEDULER_ROW, paused=False))
    except IntegrityError:  # another process made the row at the same moment
        pass
    lease = Lease(runtime, scheduler_slot(), new_owner(), scheduler_lease_ttl(runtime.settings))
    with runtime.session() as session:
        return lease if lease.take_in(session) else None


# ---- status --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobStatus:
    """One job as the Monitoring page, `sophia jobs list` and ``GET /api/v1/jobs`` show it."""

    id: str
    description: str
    interval_s: float
    paused: bool
    run_requested_at: datetime | None
    next_run_at: datetime | None  # from APScheduler's job store; None until a scheduler has stored it
    last_status: str | None  # running | succeeded | failed; None: never ran
    last_trigger: str | None
    last_started_at: datetime | None
    last_duration_s: float | None
    last_error: str | None
    last_result: dict[str, Any] | None
    last_host: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def _next_runs(session: Session) -> dict[str, datetime]:
    if not inspect(session.connection()).has_table(APSCHEDULER_TABLE):
        return {}
    rows = session.execute(text(f"SELECT id, next_run_time FROM {APSCHEDULER_TABLE}"))  # noqa: S608 - a constant
    return {job_id: datetime.fromtimestamp(float(at), UTC) for job_id, at in rows if at is not None}


def job_statuses(*, session: Session, now: datetime, settings: Settings | None = None) -> list[JobStatus]:
    """Every job in the catalogue: its schedule, whether it is paused, its next run and its last run."""
    settings = settings or get_settings()
    controls = {c.job_id: c for c in session.scalars(select(JobControl).where(JobControl.job_id.in_(list(_BY_ID))))}
    next_runs = _next_runs(session)
    statuses = []
    for spec in JOBS:
        last = session.scalars(
            select(JobRun).where(JobRun.job_id == spec.id).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
        ).first()
        control = controls.get(spec.id)
        duration = None
        if last is not None and last.finished_at is not None:
            duration = round((last.finished_at - last.started_at).total_seconds(), 3)
        statuses.append(
            JobStatus(
                id=spec.id,
                description=spec.description,
                interval_s=spec.interval_s(settings),
                paused=bool(control and control.paused),
                run_requested_at=control.run_requested_at if control else None,
                next_run_at=next_runs.get(spec.id),
                last_status=last.status if last else None,
                last_trigger=last.trigger if last else None,
                last_started_at=last.started_at if last else None,
                last_duration_s=duration,
                last_error=last.error if last else None,
                last_result=dict(last.result) if last and last.result is not None else None,
                last_host=last.host if last else None,
            )
        )
    return statuses


@dataclass(frozen=True)
class SchedulerStatus:
    """Which process is the active scheduler (the lease holder), and its heartbeat."""

    holder: str | None  # the lease owner "<run>:<pid>@<host>"; None: no process holds the lease
    lease_expires_at: datetime | None
    active: bool  # a live process holds an unexpired lease
    heartbeat: Heartbeat

    @property
    def holder_process(self) -> str | None:
        """``<pid>@<host>`` of the holder (as in ``job_runs.host``)."""
        return self.holder.split(":", 1)[1] if self.holder and ":" in self.holder else self.holder

    def describe(self) -> str:
        if not self.active:
            return f"no active scheduler; {self.heartbeat.describe()}"
        return f"active scheduler {self.holder_process}; {self.heartbeat.describe()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "holder": self.holder_process,
            "lease_expires_at": self.lease_expires_at.isoformat() if self.lease_expires_at else None,
            "heartbeat_at": self.heartbeat.at.isoformat() if self.heartbeat.at else None,
            "heartbeat_age_s": self.heartbeat.age_s,
            "heartbeat_state": self.heartbeat.state,
            "summary": self.describe(),
        }


def scheduler_status(*, session: Session, now: datetime, settings: Settings | None = None) -> SchedulerStatus:
    """The active scheduler (who holds the lease, until when) and the age of the last heartbeat at ``now``."""
    settings = settings or get_settings()
    row = session.get(JobControl, SCHEDULER_ROW)
    holder = row.lease_owner if row else None
    expires = row.lease_expires_at if row else None
    active = holder is not None and expires is not None and expires > now and not holder_is_dead(holder)
    beat = read_heartbeat(session=session, now=now, stale_after_s=settings.heartbeat_stale_s)
    return SchedulerStatus(holder=holder, lease_expires_at=expires, active=active, heartbeat=beat)
