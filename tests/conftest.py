"""Shared fixtures: isolated settings per test, a migrated runtime on SQLite or the real PostgreSQL."""

from __future__ import annotations

import os

import pytest

from core.config import Settings, load_settings
from core.runtime import Runtime, open_runtime, prepare
from tests.utils.services import pg_schema

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SOPHIA_ variable from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("SOPHIA_") and not key.startswith("SOPHIA_TEST_"):
            monkeypatch.delenv(key)


def make_settings(tmp_path, **overrides) -> Settings:
    values = {"data_dir": tmp_path / "data", "secret_key": TEST_SECRET, "admin_password": ADMIN_PASSWORD}
    values.update(overrides)
    return load_settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """A fresh SQLite database, migrated, with the first admin (password ADMIN_PASSWORD)."""
    rt = open_runtime(settings)
    prepare(rt)
    yield rt
    rt.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_runtime(request, tmp_path) -> Runtime:
    """The same test on SQLite and on the real PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        rt = open_runtime(make_settings(tmp_path))
        prepare(rt)
        yield rt
        rt.engine.dispose()
        return
    with pg_schema() as url:
        rt = open_runtime(make_settings(tmp_path, database_url=url))
        prepare(rt)
        yield rt
        rt.engine.dispose()
