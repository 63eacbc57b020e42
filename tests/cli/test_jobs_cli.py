"""`sophia jobs` as an admin drives it: list, pause/resume, run now (here when no scheduler is active, asked of
the active one otherwise), and a clear error for a job that does not exist."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from core.config import Settings
from core.db.engine import make_session_factory
from core.db.models import AuditLog, JobControl, JobRun
from core.runtime import Runtime
from core.scheduling import JOBS, take_scheduler_lease
from tests.cli.test_cli import sophia
from tests.conftest import TEST_SECRET

NO_MEMORIES = {"memories_expired": 0, "memories_decayed": 0}  # retention also applies the memory policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(tmp_path / "data"),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": "admin-password-1",
    }


def product(env: dict[str, str]) -> Runtime:
    """The CLI's database, opened from this process (after a first command created it)."""
    settings = Settings(data_dir=Path(env["SOPHIA_DATA_DIR"]), secret_key=TEST_SECRET)
    engine = create_engine(f"sqlite:///{settings.data_dir / 'sophia.db'}")
    return Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))


def test_list_pause_resume(env) -> None:
    listed = sophia("jobs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert [j["id"] for j in body["items"]] == [j.id for j in JOBS]
    assert body["scheduler"]["active"] is False and body["items"][0]["last_status"] is None
    assert sophia("jobs", "pause", "retention", env=env).returncode == 0
    paused = {j["id"]: j["paused"] for j in json.loads(sophia("jobs", "list", "--json", env=env).stdout)["items"]}
    assert paused["retention"] is True and paused["housekeeping"] is False
    assert sophia("jobs", "resume", "retention", env=env).returncode == 0
    assert "retention" in sophia("jobs", "list", env=env).stdout
    rt = product(env)
    with rt.session() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.actor == "cli").order_by(AuditLog.id)))
    assert actions == ["job.pause", "job.resume"]


def test_bad_job_ids_are_clear_errors(env) -> None:
    for args, needle in [
        (("jobs", "run", "nope"), "no job 'nope'; the jobs are: heartbeat,"),
        (("jobs", "pause", "heartbeat"), "cannot be paused"),
    ]:
        done = sophia(*args, env=env)
        assert done.returncode != 0
        assert needle in done.stderr and "Traceback" not in done.stderr


def test_run_without_a_scheduler_runs_it_here_and_records_it(env) -> None:
    done = sophia("jobs", "run", "retention", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "job_id": "retention",
        "status": "succeeded",
        "result": {"job_runs_deleted": 0, "insights_deleted": 0, "deliveries_deleted": 0, **NO_MEMORIES},
    }
    with product(env).session() as s:
        (run,) = s.scalars(select(JobRun))
        assert (run.job_id, run.trigger, run.status) == ("retention", "manual", "succeeded")
    last = json.loads(sophia("jobs", "list", "--json", env=env).stdout)["items"][-1]
    assert (last["id"], last["last_status"], last["last_trigger"]) == ("retention", "succeeded", "manual")


def test_run_with_an_active_scheduler_asks_it(env) -> None:
    assert sophia("jobs", "list", env=env).returncode == 0  # creates the database
    rt = product(env)
    lease = take_scheduler_lease(runtime=rt)  # this test process plays the active scheduler
    assert lease is not None
    done = sophia("jobs", "run", "detect_insights", env=env)
    assert done.returncode == 0, done.stderr
    assert "Asked the active scheduler" in done.stdout
    with rt.session() as s:
        assert s.get(JobControl, "detect_insights").run_requested_at is not None
        assert s.scalars(select(JobRun)).first() is None  # not run here
    lease.release()
