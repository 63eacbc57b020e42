"""The Admin page tells whether the scheduler is alive, from its heartbeat in the ``meta`` row ``scheduler``."""

from __future__ import annotations

from datetime import timedelta

from core.db.types import utcnow
from core.jobs_health import record_heartbeat
from core.runtime import Runtime
from tests.app.test_dashboard_apptest import _open_admin, signed_in
from tests.conftest import ADMIN_PASSWORD


def beat(rt: Runtime, *, ago_s: float) -> None:
    with rt.session() as session, session.begin():
        record_heartbeat(session=session, now=utcnow() - timedelta(seconds=ago_s), pid=4242)


def test_no_heartbeat_is_a_warning(app_db: Runtime) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any(w.value.startswith("The scheduler has not recorded a heartbeat: scheduled") for w in at.warning)


def test_a_fresh_heartbeat_is_a_quiet_line(app_db: Runtime) -> None:
    beat(app_db, ago_s=5)
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any(c.value.startswith("Scheduler running: last heartbeat") for c in at.caption)
    assert not any("heartbeat" in w.value for w in at.warning)


def test_a_stale_heartbeat_says_the_scheduler_is_down(app_db: Runtime) -> None:
    beat(app_db, ago_s=3600)
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("the scheduler is down" in w.value for w in at.warning)
