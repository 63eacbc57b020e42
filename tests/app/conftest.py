"""Fixtures of the app tests (helpers to point the app at a database: tests/app/apptest_env.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.runtime import Runtime
from tests.app.apptest_env import point_app_at, reset_app_caches


@pytest.fixture
def app_db(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The test's own fresh database, the app pointed at it."""
    point_app_at(monkeypatch, runtime)
    yield runtime
    reset_app_caches()
