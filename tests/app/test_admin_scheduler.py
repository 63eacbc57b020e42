"""The Admin page tells whether the scheduler is alive, from its heartbeat in the ``meta`` row ``scheduler``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.db.types import utcnow
from core.jobs_health import record_heartbeat
from core.runtime import Runtime
from tests.app.test_dashboard_apptest import _open_admin, _point_app_at, _reset_caches, signed_in
from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
def app_rt(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    _point_app_at(monkeypatch, runtime)
    yield runtime
    _reset_caches()


def beat(rt: Runtime, *, ago_s: float) -> None:
    with rt.session() as session, session.begin():
        record_heartbeat(session=session, now=utcnow() - timedelta(seconds=ago_s), pid=4242)


def test_no_heartbeat_is_a_warning(app_rt: Runtime) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("the scheduler has not recorded a heartbeat" in w.value for w in at.warning)


def test_a_fresh_heartbeat_is_a_quiet_line(app_rt: Runtime) -> None:
    beat(app_rt, ago_s=5)
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("Scheduler: last heartbeat" in c.value for c in at.caption)
    assert not any("Scheduler" in w.value for w in at.warning)


def test_a_stale_heartbeat_says_the_scheduler_is_down(app_rt: Runtime) -> None:
    beat(app_rt, ago_s=3600)
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("the scheduler is down" in w.value for w in at.warning)
