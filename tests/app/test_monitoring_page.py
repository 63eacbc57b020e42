"""The Monitoring page: one health line with its reason, then pipelines, search index, jobs and Slack; admins
pause, resume and run jobs from it; other roles are turned away."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.auth import create_user
from core.db.models import AuditLog, JobControl
from core.db.types import utcnow
from core.jobs_health import record_heartbeat
from core.notify import add_route
from core.runtime import Runtime
from tests.app.test_dashboard_apptest import signed_in
from tests.conftest import ADMIN_PASSWORD


def _open(at):  # noqa: ANN001, ANN202
    at.switch_page("../pages/monitoring.py").run()
    assert not at.exception, at.exception
    return at


def test_a_quiet_system_is_green_and_every_section_shows(app_db: Runtime) -> None:
    with app_db.session() as s:
        record_heartbeat(session=s, now=utcnow(), pid=4242)
    at = _open(signed_in("admin", ADMIN_PASSWORD))
    assert at.success and at.success[0].value.startswith("**Healthy**")
    shown = " ".join(m.value for m in at.markdown)
    for section in ("Pipelines", "Search index", "Jobs", "Slack delivery"):
        assert f"**{section}**" in shown
    assert any("No Slack route yet" in c.value for c in at.caption)


def test_a_dead_scheduler_is_red_and_says_why(app_db: Runtime) -> None:
    with app_db.session() as s:
        record_heartbeat(session=s, now=utcnow() - timedelta(hours=2), pid=4242)
    at = _open(signed_in("admin", ADMIN_PASSWORD))
    assert at.error and at.error[0].value.startswith("**Down**") and "Scheduler down" in at.error[0].value


def test_a_route_without_a_token_is_yellow_until_delivery_runs(app_db: Runtime) -> None:
    with app_db.session() as s:
        record_heartbeat(session=s, now=utcnow(), pid=4242)
        add_route(session=s, actor="admin", channel="#ops", min_severity="high", digest_minutes=0)
    at = _open(signed_in("admin", ADMIN_PASSWORD))
    assert at.success and "Slack" not in at.success[0].value  # nothing has failed yet: green, no run yet


def test_an_admin_pauses_a_job_from_the_page(app_db: Runtime) -> None:
    at = _open(signed_in("admin", ADMIN_PASSWORD))
    at.selectbox(key="mon_job").select("detect_insights")
    at.selectbox(key="mon_job_action_kind").select("Pause")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception, at.exception
    with app_db.session() as s:
        assert s.get(JobControl, "detect_insights").paused
        assert s.scalar(select(AuditLog.action).where(AuditLog.target == "detect_insights")) == "job.pause"
    assert any("detect_insights is paused" in m.value for m in at.success)
    assert at.warning and "Paused by an admin: detect_insights" in at.warning[0].value


def test_an_analyst_is_turned_away(app_db: Runtime) -> None:
    with app_db.session() as s:
        create_user(session=s, username="ana", password="analyst-pass-1", role="analyst", actor="test")
    at = _open(signed_in("ana", "analyst-pass-1"))
    assert at.error and "for admins only" in at.error[0].value
