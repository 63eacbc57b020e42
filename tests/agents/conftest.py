"""The agents' tests read the session's indexed small demo (tests/conftest.py) through a runtime whose clock
stands at the demo's "today", so the planted truth is what holds now."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from core.auth import Identity, create_user
from core.clock import ManualClock
from core.runtime import Runtime


@pytest.fixture(scope="session")
def demo_rt(indexed_demo) -> Runtime:
    rt = indexed_demo.runtime
    clock = ManualClock(datetime.combine(indexed_demo.as_of, time(12), tzinfo=UTC))
    demo = Runtime(settings=rt.settings, engine=rt.engine, sessions=rt.sessions, clock=clock)
    with demo.session() as s:
        for name, role in (("vera", "viewer"), ("ana", "analyst"), ("otto", "viewer")):
            create_user(session=s, username=name, password="a-long-password-1", role=role, actor="test")
    return demo


@pytest.fixture(scope="session")
def truth(demo_rt) -> dict:
    from connectors.demo import get_truth

    with demo_rt.session() as s:
        return get_truth(session=s)


ADMIN = Identity(username="admin", role="admin", via="cli")
ANALYST = Identity(username="ana", role="analyst", via="cli")
VIEWER = Identity(username="vera", role="viewer", via="cli")
