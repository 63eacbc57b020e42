"""Indexing follows what changed (core.search.changes) from a durable watermark, on SQLite and PostgreSQL:
an idle run reads nothing, a changed record is rebuilt with the documents that depend on it, a deleted one
goes, a row stamped before the watermark but committed after it is still seen; make_searchable does the
three steps; the status counts records not searchable yet and says when they will be."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.db import models as m
from core.db.types import utcnow
from core.ingest.service import delete_records, ingest_records
from core.runtime import Runtime
from core.search.backends.embedded import EmbeddedBackend
from core.search.changes import MODELS, Watermark
from core.search.embeddings import make_embedder
from core.search.indexing import index_changes
from core.search.searchable import eta_seconds, indexing_status, make_searchable

AT = "2026-02-03T10:00:00+00:00"


def _activity(ext: str, body: str, account: str = "co-1") -> dict:
    return {"external_id": ext, "account_ref": account, "type": "note", "subject": ext, "body": body, "occurred_at": AT}


def _slack(ext: str, ts: str, text: str, thread_ts: str | None = None) -> dict:
    record = {"external_id": ext, "channel_id": "C1", "channel": "cs", "ts": ts, "text": text, "posted_at": AT}
    return record | ({"thread_ts": thread_ts} if thread_ts else {})


def _seed(rt: Runtime) -> None:
    with rt.session() as s:
        ingest_records(
            session=s, source="hubspot", entity="accounts", records=[{"external_id": "co-1", "name": "Ashford Realty"}]
        )
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[_activity(f"a-{i}", f"Note {i} about autopay.") for i in range(4)],
        )
        ingest_records(
            session=s,
            source="slack",
            entity="slack_messages",
            records=[_slack("m1", "100.1", "ACH returns are up"), _slack("m2", "100.2", "Looking", thread_ts="100.1")],
        )


def _age(rt: Runtime, hours: float = 1) -> None:
    """Every record was ingested a while ago (before the overlap the watermark re-reads)."""
    with rt.session() as s:
        for model in MODELS.values():
            s.execute(update(model).values(ingested_at=utcnow() - timedelta(hours=hours)))


def _doc_text(rt: Runtime, external_id: str) -> str | None:
    with rt.session() as s:
        return s.scalar(select(m.Document.text).where(m.Document.external_id == external_id))


def test_an_idle_run_reads_nothing_and_a_change_rebuilds_only_what_it_touches(any_runtime: Runtime) -> None:
    rt, embedder = any_runtime, make_embedder(any_runtime.settings)
    _seed(rt)
    first = index_changes(runtime=rt, embedder=embedder)  # no watermark yet: the full run
    assert (first.documents_added, first.documents_seen) == (6, 6)  # account, 4 notes, 1 thread
    _age(rt)
    idle = index_changes(runtime=rt, embedder=embedder)
    assert (idle.documents_seen, idle.chunks_written, idle.documents_deleted) == (0, 0, 0)

    with rt.session() as s:
        ingest_records(session=s, source="hubspot", entity="activities", records=[_activity("a-1", "Signed today.")])
    one = index_changes(runtime=rt, embedder=embedder)
    assert (one.documents_seen, one.documents_updated, one.chunks_embedded) == (1, 1, 1)
    assert "Signed today." in _doc_text(rt, "activities/a-1")

    _age(rt)
    with rt.session() as s:  # a reply changes its thread's document
        ingest_records(
            session=s, source="slack", entity="slack_messages", records=[_slack("m3", "100.3", "Fixed", "100.1")]
        )
    reply = index_changes(runtime=rt, embedder=embedder)
    assert (reply.documents_seen, reply.documents_updated) == (1, 1)
    assert "Fixed" in _doc_text(rt, "slack_threads/C1/100.1")

    _age(rt)
    with rt.session() as s:  # a renamed account changes the context line of its notes' chunks
        ingest_records(
            session=s, source="hubspot", entity="accounts", records=[{"external_id": "co-1", "name": "Ashford Homes"}]
        )
    renamed = index_changes(runtime=rt, embedder=embedder)
    assert renamed.documents_seen == 5 and renamed.documents_updated == 5  # the account and its 4 notes
    with rt.session() as s:
        assert all("Ashford Homes" in t for t in s.scalars(select(m.Chunk.text)) if "Note" in t)


def test_deletes_remove_documents_even_without_the_bus(any_runtime: Runtime) -> None:
    rt, embedder = any_runtime, make_embedder(any_runtime.settings)
    _seed(rt)
    index_changes(runtime=rt, embedder=embedder)
    _age(rt)
    with rt.session() as s:
        delete_records(session=s, source="hubspot", entity="activities", external_ids=["a-2"])
    gone = index_changes(runtime=rt, embedder=embedder)
    assert gone.documents_deleted == 1 and _doc_text(rt, "activities/a-2") is None
    with rt.session() as s:  # a record that no longer makes a document loses it too
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[_activity("a-3", "") | {"subject": None}],
        )
    emptied = index_changes(runtime=rt, embedder=embedder)
    assert emptied.documents_deleted == 1 and _doc_text(rt, "activities/a-3") is None


def test_a_row_committed_after_the_watermark_with_an_older_stamp_is_still_seen(any_runtime: Runtime) -> None:
    """A transaction stamps ingested_at when it writes and becomes visible when it commits, later."""
    rt, embedder = any_runtime, make_embedder(any_runtime.settings)
    _seed(rt)
    index_changes(runtime=rt, embedder=embedder)
    with rt.session() as s:
        mark = Watermark.load(s)
        ingest_records(session=s, source="hubspot", entity="activities", records=[_activity("late", "Slow commit.")])
        s.execute(
            update(m.Activity)
            .where(m.Activity.external_id == "late")
            .values(ingested_at=mark.at - timedelta(seconds=60))
        )
    late = index_changes(runtime=rt, embedder=embedder)
    assert late.documents_added == 1 and "Slow commit." in _doc_text(rt, "activities/late")


def test_named_records_are_indexed_now_and_the_watermark_stays(any_runtime: Runtime) -> None:
    rt, embedder = any_runtime, make_embedder(any_runtime.settings)
    _seed(rt)
    index_changes(runtime=rt, embedder=embedder)
    with rt.session() as s:
        before = Watermark.load(s)
        ingest_records(session=s, source="hubspot", entity="activities", records=[_activity("a-0", "Bus news.")])
        ids = list(s.scalars(select(m.Activity.id).where(m.Activity.external_id == "a-0")))
    named = index_changes(runtime=rt, embedder=embedder, records={"activities": ids})
    assert (named.documents_seen, named.documents_updated) == (1, 1)
    with rt.session() as s:
        assert Watermark.load(s) == before


def test_make_searchable_indexes_and_pushes_to_the_backends(runtime: Runtime) -> None:
    _seed(runtime)
    done = make_searchable(runtime=runtime)
    assert done.index is not None and done.index.documents_added == 6
    assert [r.backend for r in done.vectors] == ["embedded"] and not done.behind
    with runtime.session() as s:
        chunks = s.scalar(select(func.count()).select_from(m.Chunk))
    backend = EmbeddedBackend.from_settings(runtime.settings)
    try:
        assert backend.count() == chunks
    finally:
        backend.close()
    full = make_searchable(runtime=runtime, full=True)
    assert full.index is not None and full.index.documents_unchanged == 6


def test_status_counts_records_not_searchable_yet_and_says_when(runtime: Runtime) -> None:
    """Finding 15: the status said 0 pending while most of the demo was not chunked yet."""
    assert indexing_status(runtime=runtime).summary == "Every record is searchable."
    _seed(runtime)
    waiting = indexing_status(runtime=runtime)
    assert waiting.pending == 7 and not waiting.running  # 1 account, 4 notes, 2 messages
    assert waiting.summary.startswith("7 records not searchable yet")
    seen = []

    def watch(done: int, total: int, stage: str) -> None:
        seen.append(indexing_status(runtime=runtime))

    index_changes(runtime=runtime, embedder=make_embedder(runtime.settings), progress=watch)
    assert seen and all(s.running and s.pending == 7 for s in seen)
    assert any(s.eta_s is not None and "to go" in s.summary for s in seen)
    after = indexing_status(runtime=runtime)
    assert after.pending == 0 and not after.running


def test_the_eta_is_the_rest_at_the_rate_so_far() -> None:
    started = utcnow() - timedelta(seconds=30)
    at = utcnow()
    assert eta_seconds(100, 400, started=started.isoformat(), at=at.isoformat()) == pytest.approx(90, abs=1)
    assert eta_seconds(0, 400, started=started.isoformat(), at=at.isoformat()) is None  # no rate yet
    assert eta_seconds(400, 400, started=started.isoformat(), at=at.isoformat()) == 0.0


def test_records_the_bus_announces_are_searchable_at_once(runtime: Runtime) -> None:
    """The bus makes indexing sooner; a follower starts at the end of the stream (the watermark covers the rest)."""
    from core.bus import make_bus
    from core.search.searchable import BusPosition, index_announced

    bus = make_bus(runtime.settings)
    try:
        bus.publish("records", {"entity": "activities", "ids": [999]})  # before the follower started
        position = BusPosition()
        assert index_announced(runtime=runtime, bus=bus, position=position, block_s=0) is None
        with runtime.session() as s:
            written = ingest_records(
                session=s, source="hubspot", entity="activities", records=[_activity("a-9", "Hi.")]
            )
        bus.publish("records", {"entity": "activities", "ids": list(written.ids.values()), "count": 1})
        done = index_announced(runtime=runtime, bus=bus, position=position, block_s=0)
        assert done is not None and done.index is not None and done.index.documents_added == 1
        assert "Hi." in _doc_text(runtime, "activities/a-9") and [r.backend for r in done.vectors] == ["embedded"]
        bus.publish("records", {"entity": "nonsense", "ids": ["x"]})  # malformed: skipped, never a crash
        assert index_announced(runtime=runtime, bus=bus, position=position, block_s=0) is None
    finally:
        bus.close()
