"""The Admin page's Search index tab through AppTest: each enabled backend's state read from the database,
a failing backend called out, and sync, reconcile and rebuild run from the page (rebuild only when confirmed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from core.db.models import IndexSyncState, Meta
from core.db.types import utcnow
from core.runtime import Runtime
from core.search.embeddings import make_embedder
from core.search.files import import_files
from core.search.indexing import PROGRESS_KEY, index_records
from core.search.sync import index_status
from core.storage import make_object_store
from tests.app.apptest_env import point_app_at, reset_app_caches
from tests.app.test_dashboard_apptest import _open_admin, signed_in
from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
def app_docs(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    """Three imported documents whose chunks no vector backend has received yet; the app pointed at them."""
    for name, text in {
        "outage.txt": "The Yardi sync stalled overnight.",
        "pricing.md": "# Pricing\n\nTiers.",
        "notes.txt": "Renewal call with Acme next week.",
    }.items():
        (tmp_path / name).write_text(text)
    results = import_files(
        runtime=runtime,
        embedder=make_embedder(runtime.settings),
        store=make_object_store(runtime.settings),
        paths=sorted(tmp_path.glob("*.*")),
    )
    assert all(r.ok for r in results)
    point_app_at(monkeypatch, runtime)
    yield runtime
    reset_app_caches()


def index_tab(at: AppTest) -> dict[str, object]:
    [frame] = [df.value for df in at.dataframe if "pending" in df.value.columns]
    return frame.iloc[0].to_dict()


def run_action(at: AppTest, action: str, *, sure: bool = False) -> AppTest:
    at.radio(key="ix_action").set_value(action)
    if sure:
        at.checkbox(key="ix_sure").check()
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, at.exception
    return at


def test_the_tab_shows_the_backend_behind_then_in_sync(app_docs: Runtime) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert {m.label: m.value for m in at.metric} == {"Documents": "3", "Chunks": "3", "Chunks with a vector": "3"}
    row = index_tab(at)
    assert (row["backend"], row["state"], row["pending"], row["chunks"]) == ("embedded", "behind", 3, 0)

    run_action(at, "Sync now")
    assert any("Sync now of embedded: 3 upserted, 0 deleted (full push); 0 pending" in s.value for s in at.success)
    at.run()
    row = index_tab(at)
    assert (row["state"], row["pending"], row["chunks"]) == ("in sync", 0, 3)
    assert index_status(runtime=app_docs, backends=["embedded"])[0]["pending"] == 0

    run_action(at, "Reconcile")
    assert any("0 missing pushed, 0 extra deleted, 0 of 3 checked vectors stale" in s.value for s in at.success)


def test_a_rebuild_needs_confirming(app_docs: Runtime) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    run_action(at, "Rebuild")
    assert any("confirm" in w.value for w in at.warning) and not at.success
    assert index_status(runtime=app_docs, backends=["embedded"])[0]["chunks"] == 0  # nothing ran
    run_action(at, "Rebuild", sure=True)
    assert any("Rebuild of embedded: 3 chunks pushed" in s.value for s in at.success)


def test_a_failing_backend_is_called_out(app_docs: Runtime) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    run_action(at, "Sync now")
    with app_docs.session() as s:
        s.execute(
            update(IndexSyncState)
            .where(IndexSyncState.backend == "embedded")
            .values(last_error="embedded index at /data: disk I/O error")
        )
    at.run()
    assert any("Failing: embedded" in e.value for e in at.error)
    row = index_tab(at)
    assert row["state"] == "failing" and "disk I/O error" in row["error"]


def test_indexing_progress_and_the_last_run_are_shown(app_docs: Runtime) -> None:
    index_records(runtime=app_docs, embedder=make_embedder(app_docs.settings))  # no records: a quick run
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any(c.value.startswith("Last indexing run finished") and "0 documents" in c.value for c in at.caption)

    with app_docs.session() as s:  # another process is indexing
        s.merge(
            Meta(
                key=PROGRESS_KEY,
                value={
                    "state": "running",
                    "done": 1200,
                    "total": 3375,
                    "stage": "embedding",
                    "started_at": utcnow().isoformat(),
                },
            )
        )
    at.run()
    [bar] = at.get("progress")
    assert "1,200 of 3,375 chunks, embedding" in bar.proto.text
    assert not [i for i in at.info if "Nothing is indexed yet" in i.value]  # the other tabs may have their own
    at.switch_page("../pages/search.py").run()
    [bar] = at.get("progress")
    assert "Results may be incomplete" in bar.proto.text

    with app_docs.session() as s:  # a run still reading records (most find nothing to do): no bar flickers by
        s.merge(
            Meta(
                key=PROGRESS_KEY,
                value={
                    "state": "running",
                    "done": 0,
                    "total": 0,
                    "stage": "reading records",
                    "started_at": utcnow().isoformat(),
                },
            )
        )
    at.run()
    assert not at.get("progress")
