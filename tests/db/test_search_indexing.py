"""Records to documents, chunks and the change log, on SQLite and on the real PostgreSQL: unchanged records do
no work, changed ones replace their chunks, deleted ones go, a new embedding model re-embeds everything; and
keyword/hybrid search over what was written, on both databases."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select

from core.auth import Identity
from core.db.models import Chunk, ChunkChange, Document
from core.ingest.service import delete_records, ingest_records
from core.runtime import Runtime
from core.search.backends.embedded import EmbeddedBackend
from core.search.documents import MAX_CHUNK_PIECES, count_pieces
from core.search.embeddings import LocalMiniLM, make_embedder
from core.search.indexing import index_records, indexing_state
from core.search.service import SearchFilters, search
from core.search.sync import sync_backend

AT = "2026-02-03T10:00:00+00:00"
ADMIN = Identity("admin", "admin", "cli")
VIEWER = Identity("vera", "viewer", "password")


class RenamedMiniLM(LocalMiniLM):
    """The same model under another name: what the store sees when the configured model changes."""

    model_name = "all-MiniLM-L6-v2@test-rename"


def _seed(rt: Runtime) -> None:
    long_turns = [
        {
            "position": i,
            "speaker_id": f"c1:{i % 2 + 1}",
            "start_s": i * 10.0,
            "end_s": i * 10.0 + 9,
            "text": f"Turn {i}: we talked about autopay enrollment, returned ACH payments and the rollout plan "
            f"for the {i}th community, including site-manager training and resident messaging.",
        }
        for i in range(40)
    ]
    with rt.session() as s:
        ingest_records(
            session=s,
            source="hubspot",
            entity="accounts",
            records=[
                {
                    "external_id": "co-1",
                    "name": "Ashford Realty",
                    "owner": "nick@payready.com",
                    "lifecycle_stage": "live",
                }
            ],
        )
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[
                {
                    "external_id": "a-1",
                    "account_ref": "co-1",
                    "type": "email",
                    "subject": "Invoice INV-2026-000042 past due",
                    "body": "Hi Jo,\n\nInvoice INV-2026-000042 is past due. Can you confirm the payment date?",
                    "occurred_at": AT,
                },
                {
                    "external_id": "a-2",
                    "account_ref": "co-1",
                    "type": "note",
                    "subject": "Sandbox",
                    "body": "They want a sandbox for the AR team before signing.",
                    "occurred_at": AT,
                },
            ],
        )
        ingest_records(
            session=s,
            source="gong",
            entity="calls",
            records=[
                {
                    "external_id": "c1",
                    "account_ref": {"source": "hubspot", "external_id": "co-1"},
                    "title": "Ashford <> PayReady",
                    "started_at": AT,
                    "url": "https://app.gong.io/call?id=c1",
                    "participants": [
                        {"speaker_id": "c1:1", "name": "Nick Arnold", "affiliation": "internal"},
                        {"speaker_id": "c1:2", "name": "Jo Wheeler", "affiliation": "external"},
                    ],
                    "segments": long_turns,
                }
            ],
        )
        ingest_records(
            session=s,
            source="lattice",
            entity="employees",
            records=[{"external_id": "e-1", "name": "Sam Lee", "email": "sam@payready.com"}],
        )
        ingest_records(
            session=s,
            source="lattice",
            entity="reviews",
            records=[
                {
                    "external_id": "r-1",
                    "employee_ref": "e-1",
                    "cycle": "2025 H2",
                    "rating": 2,
                    "body": "Sam missed the quarterly targets and is on a written improvement plan.",
                }
            ],
        )


def _changes(rt: Runtime) -> list[tuple[int, str]]:
    with rt.session() as s:
        return [(c, op) for c, op in s.execute(select(ChunkChange.chunk_id, ChunkChange.op).order_by(ChunkChange.id))]


def test_indexing_is_incremental_and_logs_every_chunk_change(any_runtime: Runtime) -> None:
    rt = any_runtime
    embedder = make_embedder(rt.settings)
    _seed(rt)
    first = index_records(runtime=rt, embedder=embedder)
    assert (first.documents_added, first.documents_deleted) == (5, 0)  # account, 2 activities, call, review
    with rt.session() as s:
        chunks = s.execute(
            select(Chunk.id, Chunk.document_id, Chunk.text, Chunk.embedding, Chunk.embedding_model)
        ).all()
        docs = {d.external_id: d for d in s.scalars(select(Document))}
    assert docs["reviews/r-1"].min_role == "admin" and docs["calls/c1"].url.startswith("https://app.gong.io/")
    call_chunks = [c for c in chunks if c.document_id == docs["calls/c1"].id]
    assert len(call_chunks) > 2  # a long transcript: windows of turns
    for c in chunks:
        assert count_pieces(c.text) <= MAX_CHUNK_PIECES
        assert len(c.embedding) == 384 * 4 and c.embedding_model == embedder.model_name
        assert np.linalg.norm(np.frombuffer(c.embedding, dtype="<f4")) == pytest.approx(1.0, abs=1e-4)
    assert all(
        c.text.startswith("Ashford <> PayReady") and "Jo Wheeler:" in c.text + "Jo Wheeler:" for c in call_chunks
    )
    assert sorted(_changes(rt)) == sorted((c.id, "u") for c in chunks)

    again = index_records(runtime=rt, embedder=embedder)
    assert (again.documents_unchanged, again.chunks_embedded, again.chunks_written) == (5, 0, 0)
    assert len(_changes(rt)) == len(chunks)

    with rt.session() as s:  # one record changes, one is deleted at the source
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[
                {
                    "external_id": "a-2",
                    "account_ref": "co-1",
                    "type": "note",
                    "subject": "Sandbox",
                    "body": "They signed after the sandbox trial went well.",
                    "occurred_at": AT,
                }
            ],
        )
        delete_records(session=s, source="hubspot", entity="activities", external_ids=["a-1"])
    logged = len(_changes(rt))
    third = index_records(runtime=rt, embedder=embedder, entities=["activities"])
    assert (third.documents_updated, third.documents_deleted, third.chunks_embedded) == (1, 1, 1)
    new = _changes(rt)[logged:]
    a1_chunks = {c.id for c in chunks if c.document_id == docs["activities/a-1"].id}
    a2_chunks = {c.id for c in chunks if c.document_id == docs["activities/a-2"].id}
    assert {c for c, op in new if op == "d"} == a1_chunks and {c for c, op in new if op == "u"} == a2_chunks
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(Document).where(Document.external_id == "activities/a-1")) == 0
        assert "signed" in s.scalar(select(Chunk.text).where(Chunk.id.in_(a2_chunks)))

    renamed = index_records(runtime=rt, embedder=RenamedMiniLM())
    with rt.session() as s:
        models = set(s.scalars(select(Chunk.embedding_model)))
        total = s.scalar(select(func.count()).select_from(Chunk))
    assert models == {RenamedMiniLM.model_name} and renamed.chunks_written == total


def test_search_on_this_database(any_runtime: Runtime) -> None:
    rt = any_runtime
    embedder = make_embedder(rt.settings)
    _seed(rt)
    index_records(runtime=rt, embedder=embedder)
    backend = EmbeddedBackend.from_settings(rt.settings)
    assert sync_backend(runtime=rt, backend=backend).ok

    def run(query: str, **kw):  # noqa: ANN003, ANN202
        return search(runtime=rt, embedder=embedder, backend=backend, query=query, **{"identity": ADMIN, **kw}).results

    exact = run("INV-2026-000042", mode="keyword")
    assert exact[0].external_id == "activities/a-1" and "**INV-2026-000042**" in exact[0].snippet
    assert run("INV-2026-000042")[0].external_id == "activities/a-1"
    assert run("team wants a test environment before they sign")[0].external_id == "activities/a-2"
    assert run("improvement plan", identity=ADMIN)[0].type == "review"
    assert all(h.type != "review" for h in run("improvement plan", identity=VIEWER))
    assert {h.source for h in run("autopay", filters=SearchFilters(source="gong"))} == {"gong"}
    assert run("autopay", filters=SearchFilters(until=date(2026, 2, 2))) == []  # everything is later
    assert {
        h.external_id for h in run("autopay", filters=SearchFilters(since=date(2026, 2, 3), until=date(2026, 2, 3)))
    } >= {"calls/c1"}
    backend.close()


def test_every_process_sees_how_far_indexing_is(any_runtime: Runtime) -> None:
    rt = any_runtime
    assert indexing_state(runtime=rt) is None
    _seed(rt)
    seen: list[dict] = []

    def watch(done: int, total: int, stage: str) -> None:  # what another process reads while the run goes on
        seen.append(indexing_state(runtime=rt) | {"at": (done, total, stage)})

    result = index_records(runtime=rt, embedder=make_embedder(rt.settings), progress=watch)
    assert seen and all(s["state"] == "running" and s["started_at"] for s in seen)
    assert seen[-1]["stage"] == "writing" and seen[-1]["done"] == seen[-1]["total"] == result.chunks_written
    done = indexing_state(runtime=rt)
    assert done["state"] == "done" and done["error"] is None and done["finished_at"] >= done["started_at"]
    assert done["result"]["documents_added"] == 5 and done["result"]["chunks_written"] == result.chunks_written

    class Broken(LocalMiniLM):
        def embed(self, texts, progress=None):  # noqa: ANN001, ANN202
            raise RuntimeError("the model file is unreadable")

    with rt.session() as s:  # a change, so the next run has something to embed
        ingest_records(
            session=s,
            source="hubspot",
            entity="activities",
            records=[
                {
                    "external_id": "a-9",
                    "account_ref": "co-1",
                    "type": "note",
                    "subject": "New",
                    "body": "Fresh text.",
                    "occurred_at": AT,
                }
            ],
        )
    with pytest.raises(RuntimeError):
        index_records(runtime=rt, embedder=Broken())
    failed = indexing_state(runtime=rt)
    assert failed["state"] == "failed" and "unreadable" in failed["error"]
