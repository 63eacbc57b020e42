"""Jobs as the admin sees them: every run recorded, pause/resume/run now, the one active scheduler's lease,
the status the Monitoring page reads, retention, and new insights announced on the bus."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import runtime as runtime_module
from core.auth import Identity
from core.bus import make_bus
from core.clock import ManualClock
from core.config import get_settings
from core.db.models import AuditLog, Insight, JobControl, JobRun
from core.errors import InvalidInput, NotFound
from core.insights import resolve
from core.insights.events import INSIGHTS_STREAM
from core.retention import apply_retention
from core.scheduling import (
    JOBS,
    SCHEDULER_ROW,
    claim_requested_runs,
    job_statuses,
    pause_job,
    request_run,
    resume_job,
    scheduler_status,
    take_scheduler_lease,
)
from jobs import definitions
from jobs.scheduler import MANUAL_STORE, Controls, build_scheduler
from tests.insights.test_engine import add_deal

NOW = datetime(2026, 10, 15, 9, 30, tzinfo=UTC)
HOST = f"{os.getpid()}@{socket.gethostname()}"
NO_MEMORIES = {"memories_expired": 0, "memories_decayed": 0}  # retention also applies the memory policy


@pytest.fixture
def rt(runtime, monkeypatch):
    """The process runtime the jobs use (get_runtime), on the test's data dir, with a frozen clock."""
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", runtime.settings.signing_key())
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()
    process = runtime_module.get_runtime()
    process.clock = ManualClock(NOW)
    definitions.hold_lease(None)
    yield process
    definitions.hold_lease(None)
    process.engine.dispose()
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()


def runs(rt, job_id: str | None = None) -> list[JobRun]:  # noqa: ANN001
    with rt.session() as s:
        q = select(JobRun).order_by(JobRun.id)
        rows = list(s.scalars(q.where(JobRun.job_id == job_id) if job_id else q))
        s.expunge_all()
        return rows


def test_every_run_is_recorded_with_its_result_or_error(rt) -> None:
    counts = definitions.retention()
    (run,) = runs(rt)
    assert (run.job_id, run.status, run.trigger, run.host) == ("retention", "succeeded", "schedule", HOST)
    assert run.started_at == run.finished_at == NOW  # the runtime's clock
    assert (
        run.result == counts == {"job_runs_deleted": 0, "insights_deleted": 0, "deliveries_deleted": 0, **NO_MEMORIES}
    )

    @definitions.job
    def exploding() -> None:
        rt.clock.advance(2.5)
        raise RuntimeError("the vendor is down")

    with pytest.raises(RuntimeError):
        exploding(trigger="event")
    run = runs(rt, "exploding")[0]
    assert (run.status, run.trigger, run.error) == ("failed", "event", "RuntimeError: the vendor is down")
    assert run.finished_at - run.started_at == timedelta(seconds=2.5)


def test_a_paused_job_skips_its_scheduled_runs_but_runs_when_asked(rt) -> None:
    with rt.session() as s:
        pause_job(session=s, job_id="retention", actor="ann", now=NOW)
    assert definitions.retention() is None and runs(rt) == []  # skipped, not recorded
    definitions.retention(trigger="manual")
    assert [r.trigger for r in runs(rt)] == ["manual"]
    with rt.session() as s:
        resume_job(session=s, job_id="retention", actor="ann", now=NOW)
    definitions.retention()
    assert [r.trigger for r in runs(rt)] == ["manual", "schedule"]
    with rt.session() as s:
        audited = [(a.actor, a.action, a.target) for a in s.scalars(select(AuditLog).where(AuditLog.actor == "ann"))]
    assert audited == [("ann", "job.pause", "retention"), ("ann", "job.resume", "retention")]


def test_controls_refuse_unknown_jobs_and_pausing_the_heartbeat(rt) -> None:
    with rt.session() as s:
        with pytest.raises(NotFound, match="no job 'nope'; the jobs are: heartbeat, "):
            pause_job(session=s, job_id="nope", actor="ann", now=NOW)
        with pytest.raises(NotFound):
            request_run(session=s, job_id="nope", actor="ann", now=NOW)
        with pytest.raises(InvalidInput, match="heartbeat cannot be paused"):
            pause_job(session=s, job_id="heartbeat", actor="ann", now=NOW)


def test_a_requested_run_is_claimed_once(rt) -> None:
    with rt.session() as s:
        request_run(session=s, job_id="detect_insights", actor="ann", now=NOW)
        request_run(session=s, job_id="retention", actor="ann", now=NOW)
    with rt.session() as s:
        assert sorted(claim_requested_runs(session=s)) == ["detect_insights", "retention"]
    with rt.session() as s:
        assert claim_requested_runs(session=s) == []
        assert s.scalar(select(AuditLog.action).where(AuditLog.target == "retention")) == "job.run"


def test_job_statuses_show_schedule_next_run_and_last_run(rt) -> None:
    with rt.session() as s:
        assert [j.id for j in job_statuses(session=s, now=NOW)] == [j.id for j in JOBS]  # no scheduler ever ran
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)  # stores every job with its next run time
    scheduler.shutdown(wait=False)
    definitions.retention()
    with rt.session() as s:
        pause_job(session=s, job_id="housekeeping", actor="ann", now=NOW)
        request_run(session=s, job_id="detect_insights", actor="ann", now=NOW)
    with rt.session() as s:
        statuses = {j.id: j for j in job_statuses(session=s, now=NOW, settings=rt.settings)}
    assert all(j.next_run_at is not None and j.next_run_at.tzinfo is not None for j in statuses.values())
    retention = statuses["retention"]
    assert (retention.last_status, retention.last_trigger, retention.last_duration_s) == ("succeeded", "schedule", 0)
    assert retention.last_started_at == NOW and retention.last_result == {
        "job_runs_deleted": 0,
        "insights_deleted": 0,
        "deliveries_deleted": 0,
        **NO_MEMORIES,
    }
    assert statuses["heartbeat"].interval_s == rt.settings.heartbeat_interval_s
    assert statuses["housekeeping"].paused and not statuses["retention"].paused
    assert statuses["detect_insights"].run_requested_at == NOW
    assert statuses["index_records"].last_status is None
    shown = statuses["retention"].as_dict()
    assert shown["last_started_at"] == NOW.isoformat() and shown["id"] == "retention"


def test_one_scheduler_holds_the_lease_and_a_dead_holder_loses_it(rt) -> None:
    now = datetime.now(UTC)  # leases are stamped by the database's time, not the runtime's clock
    with rt.session() as s:
        assert not scheduler_status(session=s, now=now).active
    lease = take_scheduler_lease(runtime=rt)
    assert lease is not None
    assert take_scheduler_lease(runtime=rt) is None  # held by a live process
    with rt.session() as s:
        status = scheduler_status(session=s, now=now, settings=rt.settings)
    assert status.active and status.holder_process == HOST and "active scheduler" in status.describe()
    assert status.as_dict()["heartbeat_state"] == "never"
    lease.release()
    with rt.session() as s:
        assert not scheduler_status(session=s, now=now).active

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with rt.session() as s:
        row = s.get(JobControl, SCHEDULER_ROW)
        row.lease_owner = f"abc123:{gone.pid}@{socket.gethostname()}"
        row.lease_expires_at = now + timedelta(hours=1)
    with rt.session() as s:
        assert not scheduler_status(session=s, now=now).active
    assert take_scheduler_lease(runtime=rt) is not None  # its process is gone: taken at once


def test_the_heartbeat_renews_the_lease_and_notices_it_was_taken_over(rt) -> None:
    lease = take_scheduler_lease(runtime=rt)
    definitions.hold_lease(lease)
    definitions.heartbeat()
    with rt.session() as s:
        s.get(JobControl, SCHEDULER_ROW).lease_owner = "fff:1@elsewhere"  # another host's scheduler took over
    with pytest.raises(Exception, match="lost its lease"):
        definitions.heartbeat()
    assert definitions.LEASE_LOST.is_set()
    assert definitions.retention() is None  # no job runs in a process that is no longer the active one
    assert [r.status for r in runs(rt)] == ["succeeded", "failed"]  # the two heartbeats


def test_detection_job_announces_new_insights_on_the_bus(rt) -> None:
    add_deal(rt, "d1", days_in_stage=30)
    add_deal(rt, "d2", days_in_stage=40)
    counts = definitions.detect_insights()
    assert counts["created"] == 2
    with rt.session() as s:
        ids = sorted(s.scalars(select(Insight.id)))
    bus = make_bus(rt.settings)
    try:
        (event,) = bus.read(INSIGHTS_STREAM)
        assert sorted(event.data["ids"]) == ids and event.data["created"] == 2
        assert definitions.detect_insights()["updated"] == 2
        assert len(bus.read(INSIGHTS_STREAM)) == 1  # nothing new: nothing announced
    finally:
        bus.close()
    assert runs(rt, "detect_insights")[0].result == {"created": 2, "updated": 0, "resolved": 0, "errors": 0}


def test_retention_deletes_old_runs_and_long_resolved_insights_and_audits_it(rt) -> None:
    admin = Identity(username="ann", role="admin", via="cli")
    add_deal(rt, "d-old", days_in_stage=30)
    add_deal(rt, "d-recent", days_in_stage=30)
    add_deal(rt, "d-open", days_in_stage=30)
    definitions.detect_insights()
    with rt.session() as s:
        ids = {i.subject_external_id: i.id for i in s.scalars(select(Insight))}
        resolve(session=s, identity=admin, insight_id=ids["d-old"], now=NOW - timedelta(days=181))
        resolve(session=s, identity=admin, insight_id=ids["d-recent"], now=NOW - timedelta(days=179))
        s.add(JobRun(job_id="heartbeat", started_at=NOW - timedelta(days=31), status="succeeded"))
        s.add(JobRun(job_id="heartbeat", started_at=NOW - timedelta(days=29), status="succeeded"))
    counts = apply_retention(runtime=rt)
    assert counts == {"job_runs_deleted": 1, "insights_deleted": 1, "deliveries_deleted": 0, **NO_MEMORIES}
    with rt.session() as s:
        assert sorted(s.scalars(select(Insight.subject_external_id))) == ["d-open", "d-recent"]
        assert len(list(s.scalars(select(JobRun)))) == 2  # the detection run and the recent one
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "retention")).one()
    assert (
        entry.actor == "system" and entry.details["insights_deleted"] == 1 and entry.details["job_runs_keep_days"] == 30
    )
    assert apply_retention(runtime=rt) == {
        "job_runs_deleted": 0,
        "insights_deleted": 0,
        "deliveries_deleted": 0,
        **NO_MEMORIES,
    }


def test_each_tick_starts_requested_runs_and_detection_for_records_announced_outside_a_sync(rt) -> None:
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)  # one-off runs wait in their store, to be looked at
    bus = make_bus(rt.settings)

    def one_offs() -> list[tuple[str, str]]:
        return sorted((j.id.split(":")[0], j.kwargs["trigger"]) for j in scheduler.get_jobs(jobstore=MANUAL_STORE))

    try:
        bus.publish("records", {"entity": "accounts", "via": "estuary:crm"})  # before the scheduler: not new
        controls = Controls(rt, scheduler, bus=bus)
        controls.tick()
        assert one_offs() == []
        with rt.session() as s:
            request_run(session=s, job_id="retention", actor="ann", now=NOW)
        bus.publish("records", {"entity": "accounts", "via": "estuary:crm"})
        controls.tick()
        assert one_offs() == [("detect_insights", "event"), ("retention", "manual")]
        bus.publish("records", {"entity": "deals", "via": "estuary:crm"})
        controls.tick()  # within a minute of the last: it waits
        assert len(one_offs()) == 2
        rt.clock.advance(60)
        controls.tick()
        assert one_offs().count(("detect_insights", "event")) == 2
        rt.clock.advance(60)
        bus.publish("records", {"entity": "deals", "connector": "hs"})  # a sync's records: detected when it ends
        controls.tick()
        assert len(one_offs()) == 3
    finally:
        scheduler.shutdown(wait=False)
        bus.close()


def test_delivery_job_records_what_it_did(rt) -> None:
    """With no route and no Slack token nothing is planned or posted, and the run's counts say so."""
    counts = definitions.deliver_insights()
    assert counts["planned"] == 0 and counts["sent"] == 0
    (run,) = runs(rt, "deliver_insights")
    assert run.status == "succeeded" and run.result["sent"] == 0
