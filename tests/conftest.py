"""Shared fixtures: isolated settings per test, a migrated runtime on SQLite or the real PostgreSQL."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class IndexedDemo:
    runtime: Runtime
    backend: Any  # the embedded vector backend, synced
    as_of: date


INDEXED_DEMO_AS_OF = date(2026, 3, 15)


@pytest.fixture(scope="session")
def indexed_demo(tmp_path_factory) -> IndexedDemo:
    """The small demo (seed 42, as of 2026-03-15), indexed and synced into the embedded backend as the product
    does it: made once per session (embedding it takes minutes) and shared by the search-quality and the
    agents' tests. Read its business records; don't change them (conversations, insights and memories may be
    added)."""
    from connectors.demo import load_demo
    from core.search.backends.embedded import EmbeddedBackend
    from core.search.embeddings import make_embedder
    from core.search.indexing import index_records
    from core.search.sync import sync_backend

    home = tmp_path_factory.mktemp("indexed-demo")
    # a developer's loop: SOPHIA_TEST_INDEXED_DEMO_CACHE=/some/dir keeps a built copy there and starts from it
    cache = os.environ.get("SOPHIA_TEST_INDEXED_DEMO_CACHE")
    if cache and (Path(cache) / "data" / "built").exists():
        shutil.copytree(Path(cache) / "data", home / "data")
    settings = make_settings(home)
    rt = open_runtime(settings)
    prepare(rt)
    backend = EmbeddedBackend.from_settings(settings)
    if not (home / "data" / "built").exists():
        load_demo(runtime=rt, size="small", seed=42, as_of=INDEXED_DEMO_AS_OF)
        index_records(runtime=rt, embedder=make_embedder(settings))
        report = sync_backend(runtime=rt, backend=backend)
        assert report.ok, report.error
        (home / "data" / "built").touch()
        if cache:
            backend.close()
            rt.engine.dispose()
            shutil.rmtree(Path(cache) / "data", ignore_errors=True)
            shutil.copytree(home / "data", Path(cache) / "data")
            rt = open_runtime(settings)
            backend = EmbeddedBackend.from_settings(settings)
    yield IndexedDemo(rt, backend, INDEXED_DEMO_AS_OF)
    backend.close()
    rt.engine.dispose()
