"""Vector synchronization, run for real: the chunks table and its change log on SQLite and PostgreSQL, the
Pinecone and Weaviate backends through their official clients against their fake servers.

Chunks are written the way the indexing code writes them (each change with its ``chunk_changes`` row, in
one transaction) by ``Corpus`` below; one test drives the indexing code itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from core.db.models import Account, Chunk, ChunkChange, Document, IndexSyncState
from core.db.types import utcnow
from core.errors import Conflict, SophiaError
from core.runtime import Runtime
from core.search.backends.base import ChunkVector, VectorBackend
from core.search.backends.embedded import EmbeddedBackend
from core.search.backends.pinecone import PineconeBackend
from core.search.backends.weaviate import WeaviateBackend
from core.search.embeddings import MODEL_NAME
from core.search.sync import (
    GAP_GRACE_S,
    index_status,
    prune_changes,
    rebuild,
    reconcile,
    sync_backend,
)
from tests.contract.fake_pinecone import FakePinecone
from tests.contract.fake_weaviate import FakeWeaviate

DIM = 384


# ---- the remote backends ------------------------------------------------------------------------------------


@dataclass
class Remote:
    kind: str
    fake: Any

    def make(self) -> VectorBackend:
        if self.kind == "pinecone":
            return PineconeBackend(api_key=self.fake.api_key, dim=DIM, host=self.fake.host)
        return WeaviateBackend(url=self.fake.url, grpc_port=self.fake.grpc_port, dim=DIM)


@pytest.fixture(params=["pinecone", "weaviate"])
def remote(request) -> Iterator[Remote]:
    fake = (FakePinecone(dimension=DIM) if request.param == "pinecone" else FakeWeaviate()).start()
    yield Remote(request.param, fake)
    fake.stop()


@pytest.fixture
def backend(remote: Remote) -> Iterator[VectorBackend]:
    b = remote.make()
    yield b
    b.close()


# ---- the truth: chunks written as the indexing code writes them -------------------------------------------------


class Corpus:
    """Documents and chunks with random unit vectors; every chunk change is logged in its transaction."""

    def __init__(self, runtime: Runtime, seed: int = 1) -> None:
        self.rt = runtime
        self.rng = np.random.default_rng(seed)
        self.serial = itertools.count(1)
        with runtime.session() as s:
            account = Account(source="test", external_id="acme", name="Acme Residential")
            s.add(account)
            s.flush()
            self.account_id = account.id

    def _vector(self) -> bytes:
        v = self.rng.standard_normal(DIM).astype(np.float32)
        return (v / np.linalg.norm(v)).astype("<f4").tobytes()

    def add_document(self, chunks: int, **meta: Any) -> tuple[int, list[int]]:
        n = next(self.serial)
        values = {
            "source": "gong",
            "type": "call",
            "owner": "rep@payready.com",
            "min_role": "viewer",
            "occurred_at": datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=n),
            "account_id": self.account_id,
        }
        values.update(meta)
        with self.rt.session() as s:
            doc = Document(external_id=f"doc-{n}", title=f"Document {n}", text="...", content_hash=f"h{n}", **values)
            s.add(doc)
            s.flush()
            rows = [
                Chunk(
                    document_id=doc.id,
                    position=p,
                    text=f"chunk {n}.{p}",
                    content_hash=f"c{n}.{p}",
                    embedding=self._vector(),
                    embedding_model=MODEL_NAME,
                )
                for p in range(chunks)
            ]
            s.add_all(rows)
            s.flush()
            s.add_all([ChunkChange(chunk_id=c.id, op="u") for c in rows])
            return doc.id, [c.id for c in rows]

    def revector(self, *chunk_ids: int) -> None:
        with self.rt.session() as s:
            for cid in chunk_ids:
                s.execute(update(Chunk).where(Chunk.id == cid).values(embedding=self._vector()))
                s.add(ChunkChange(chunk_id=cid, op="u"))

    def retag(self, doc_id: int, **meta: Any) -> None:
        """Document metadata changed: every chunk of it goes to the backends again."""
        with self.rt.session() as s:
            s.execute(update(Document).where(Document.id == doc_id).values(**meta))
            ids = s.scalars(select(Chunk.id).where(Chunk.document_id == doc_id)).all()
            s.add_all([ChunkChange(chunk_id=cid, op="u") for cid in ids])

    def delete_chunks(self, *chunk_ids: int) -> None:
        with self.rt.session() as s:
            s.execute(delete(Chunk).where(Chunk.id.in_(chunk_ids)))
            s.add_all([ChunkChange(chunk_id=cid, op="d") for cid in chunk_ids])

    def delete_document(self, doc_id: int) -> None:
        with self.rt.session() as s:
            ids = s.scalars(select(Chunk.id).where(Chunk.document_id == doc_id)).all()
            s.execute(delete(Chunk).where(Chunk.document_id == doc_id))
            s.execute(delete(Document).where(Document.id == doc_id))
            s.add_all([ChunkChange(chunk_id=cid, op="d") for cid in ids])


def table_truth(runtime: Runtime) -> dict[int, ChunkVector]:
    with runtime.session() as s:
        rows = s.execute(select(Chunk, Document).join(Document, Document.id == Chunk.document_id)).all()
    return {
        c.id: ChunkVector(
            chunk_id=c.id,
            vector=np.frombuffer(c.embedding, dtype="<f4"),
            document_id=d.id,
            source=d.source,
            type=d.type,
            account_id=d.account_id,
            owner=d.owner,
            occurred_at=d.occurred_at,
            min_role=d.min_role,
        )
        for c, d in rows
        if c.embedding is not None
    }


def assert_mirrors(backend: VectorBackend, runtime: Runtime) -> None:
    """The backend holds exactly the chunks of the table, with their current vectors and metadata."""
    truth = table_truth(runtime)
    assert sorted(backend.ids()) == sorted(truth)
    assert backend.count() == len(truth)
    stored = backend.fetch(sorted(truth))  # type: ignore[attr-defined]
    for cid, want in truth.items():
        got = stored[cid]
        assert np.array_equal(got.vector, want.vector), cid
        assert replace(got, vector=None) == replace(want, vector=None), cid


@contextmanager
def as_the_scheduler(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[None]:
    """The scheduler's jobs read the process-wide runtime from the environment: point it at this database
    (with these SOPHIA_ settings), and let go of it afterwards."""
    from core import runtime as runtime_module
    from core.config import get_settings

    env = {
        "SOPHIA_DATA_DIR": str(runtime.settings.data_dir),
        "SOPHIA_SECRET_KEY": runtime.settings.signing_key(),
        **env,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()
    try:
        yield
    finally:
        if runtime_module.get_runtime.cache_info().currsize:
            runtime_module.get_runtime().engine.dispose()
        get_settings.cache_clear()
        runtime_module.get_runtime.cache_clear()


def state(runtime: Runtime, name: str) -> IndexSyncState:
    with runtime.session() as s:
        return s.get(IndexSyncState, name)


def status(runtime: Runtime, name: str) -> dict[str, Any]:
    return index_status(runtime=runtime, backends=[name])[0]


# ---- tests ------------------------------------------------------------------------------------------------------


def test_inserts_updates_and_deletes_arrive(any_runtime: Runtime, backend: VectorBackend) -> None:
    corpus = Corpus(any_runtime)
    doc_a, a = corpus.add_document(3)
    doc_b, b = corpus.add_document(4, source="slack", type="slack_thread", owner=None, occurred_at=None)
    assert status(any_runtime, backend.name) == {
        "name": backend.name,
        "chunks": 0,
        "pending": 7,
        "last_sync": None,
        "error": None,
    }

    first = sync_backend(runtime=any_runtime, backend=backend)
    assert first.ok and first.full_push and first.upserted == 7 and first.pending == 0
    assert_mirrors(backend, any_runtime)
    shown = status(any_runtime, backend.name)
    assert (shown["chunks"], shown["pending"], shown["error"]) == (7, 0, None) and shown["last_sync"]

    corpus.revector(a[0])  # updated text
    corpus.retag(doc_b, owner="csm@payready.com", min_role="manager")  # metadata only
    corpus.revector(a[1])
    corpus.revector(a[1])
    corpus.delete_chunks(a[1])  # updated twice then deleted: one delete
    _, c = corpus.add_document(2, type="note")
    assert status(any_runtime, backend.name)["pending"] == 1 + 4 + 1 + 2

    second = sync_backend(runtime=any_runtime, backend=backend)
    assert second.ok and not second.full_push
    assert (second.upserted, second.deleted, second.pending) == (1 + 4 + 2, 1, 0)
    assert_mirrors(backend, any_runtime)

    corpus.delete_document(doc_a)
    third = sync_backend(runtime=any_runtime, backend=backend)
    assert (third.upserted, third.deleted) == (0, 2)
    assert_mirrors(backend, any_runtime)
    assert state(any_runtime, backend.name).chunks_indexed == 6

    idle = sync_backend(runtime=any_runtime, backend=backend)
    assert idle.ok and (idle.upserted, idle.deleted) == (0, 0)


def test_a_backend_down_for_a_while_catches_up_with_nothing_lost(
    any_runtime: Runtime, remote: Remote, backend: VectorBackend
) -> None:
    corpus = Corpus(any_runtime)
    docs = [corpus.add_document(3)[0] for _ in range(4)]
    assert sync_backend(runtime=any_runtime, backend=backend).ok
    position = state(any_runtime, backend.name).last_change_id

    remote.fake.stop()
    # ingestion goes on while the backend is down
    _, fresh = corpus.add_document(5)
    corpus.delete_document(docs[0])
    down = sync_backend(runtime=any_runtime, backend=backend)
    assert down.error and "unavailable" in down.error and down.pending == 5 + 3
    after_failure = state(any_runtime, backend.name)
    assert after_failure.last_change_id == position  # nothing consumed
    assert after_failure.last_error == down.error and after_failure.error_at is not None
    assert status(any_runtime, backend.name)["error"] == down.error  # the alert-worthy state

    corpus.revector(fresh[0], fresh[1])
    corpus.retag(docs[1], owner="new-owner@payready.com")
    corpus.add_document(2)
    still_down = sync_backend(runtime=any_runtime, backend=backend)
    assert still_down.error and still_down.pending == 5 + 3 + 3 + 2  # growing
    assert status(any_runtime, backend.name)["pending"] == still_down.pending

    remote.fake.start()  # back on the same ports, with what it held before
    back = sync_backend(runtime=any_runtime, backend=backend)
    assert back.ok and back.pending == 0 and back.deleted == 3
    assert_mirrors(backend, any_runtime)
    shown = status(any_runtime, backend.name)
    assert shown["error"] is None and shown["pending"] == 0 and shown["chunks"] == len(table_truth(any_runtime))


def test_reconcile_repairs_planted_drift(any_runtime: Runtime, backend: VectorBackend) -> None:
    corpus = Corpus(any_runtime)
    for _ in range(5):
        corpus.add_document(4)
    assert sync_backend(runtime=any_runtime, backend=backend).ok
    truth = table_truth(any_runtime)
    ids = sorted(truth)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(DIM).astype(np.float32)
    # drift made behind Sophia's back: an extra object, a lost one, a stale vector, stale metadata
    backend.upsert([replace(truth[ids[0]], chunk_id=987_654)])
    backend.delete([ids[1]])
    backend.upsert([replace(truth[ids[2]], vector=(noise / np.linalg.norm(noise)).astype(np.float32))])
    backend.upsert([replace(truth[ids[3]], owner="someone-else@payready.com")])

    fixed = reconcile(runtime=any_runtime, backend=backend, sample=None)
    assert fixed.extra == [987_654] and fixed.missing == [ids[1]]
    assert fixed.stale == [ids[2], ids[3]] and fixed.checked == len(ids) - 1
    assert_mirrors(backend, any_runtime)
    again = reconcile(runtime=any_runtime, backend=backend, sample=None)
    assert again.repaired == 0


def test_reconcile_catches_up_first_and_samples(any_runtime: Runtime, backend: VectorBackend) -> None:
    corpus = Corpus(any_runtime)
    for _ in range(6):
        corpus.add_document(5)
    report = reconcile(runtime=any_runtime, backend=backend, sample=7)
    assert report.repaired == 0 and report.checked == 7 and report.chunks == 30
    assert_mirrors(backend, any_runtime)


def test_rebuild_from_scratch(any_runtime: Runtime, backend: VectorBackend) -> None:
    corpus = Corpus(any_runtime)
    for _ in range(3):
        corpus.add_document(7)
    assert sync_backend(runtime=any_runtime, backend=backend).ok
    backend.upsert([replace(next(iter(table_truth(any_runtime).values())), chunk_id=555_555)])  # junk a rebuild removes
    seen: list[tuple[int, int]] = []
    done = rebuild(runtime=any_runtime, backend=backend, batch=5, progress=lambda d, t, _: seen.append((d, t)))
    assert done.pushed == 21
    assert seen[-1] == (21, 21) and len(seen) >= 5
    assert_mirrors(backend, any_runtime)
    with any_runtime.session() as s:
        newest = s.scalar(select(ChunkChange.id).order_by(ChunkChange.id.desc()).limit(1))
    assert done.position == newest == state(any_runtime, backend.name).last_change_id
    corpus.add_document(2)
    assert sync_backend(runtime=any_runtime, backend=backend).upserted == 2  # the log continues from there
    assert_mirrors(backend, any_runtime)


def test_one_run_per_backend_at_a_time(runtime: Runtime, backend: VectorBackend) -> None:
    corpus = Corpus(runtime)
    corpus.add_document(6)
    during: list[Any] = []

    def progress(done: int, total: int, _: str) -> None:
        if not during:  # while the rebuild holds the backend
            during.append(sync_backend(runtime=runtime, backend=backend))
            with pytest.raises(Conflict):
                reconcile(runtime=runtime, backend=backend)

    rebuild(runtime=runtime, backend=backend, batch=2, progress=progress)
    assert during[0].skipped and not during[0].error
    assert sync_backend(runtime=runtime, backend=backend).ok  # released afterwards
    assert_mirrors(backend, runtime)


def test_changes_behind_a_young_hole_in_the_log_wait(any_runtime: Runtime, backend: VectorBackend) -> None:
    """A missing change id may be a transaction still in flight (PostgreSQL hands out ids before commit)."""
    corpus = Corpus(any_runtime)
    corpus.add_document(2)
    assert sync_backend(runtime=any_runtime, backend=backend).ok
    position = state(any_runtime, backend.name).last_change_id
    _, [late] = corpus.add_document(1)
    with any_runtime.session() as s:  # its change id leaves a hole (position + 1 never committed)
        s.execute(update(ChunkChange).where(ChunkChange.chunk_id == late).values(id=position + 2))
    waiting = sync_backend(runtime=any_runtime, backend=backend)
    assert waiting.ok and waiting.upserted == 0 and waiting.pending == 1
    with any_runtime.session() as s:  # the hole is old now: a rolled-back insert, not one in flight
        s.execute(
            update(ChunkChange)
            .where(ChunkChange.id == position + 2)
            .values(at=utcnow() - timedelta(seconds=GAP_GRACE_S + 5))
        )
    moved = sync_backend(runtime=any_runtime, backend=backend)
    assert moved.upserted == 1 and moved.pending == 0
    assert_mirrors(backend, any_runtime)


def test_a_chunk_without_a_vector_is_not_pushed_and_a_wrong_dimension_is_an_error(
    runtime: Runtime, backend: VectorBackend
) -> None:
    corpus = Corpus(runtime)
    _, ids = corpus.add_document(3)
    assert sync_backend(runtime=runtime, backend=backend).ok
    with runtime.session() as s:
        s.execute(update(Chunk).where(Chunk.id == ids[0]).values(embedding=None, embedding_model=None))
        s.add(ChunkChange(chunk_id=ids[0], op="u"))
    report = sync_backend(runtime=runtime, backend=backend)
    assert report.deleted == 1 and sorted(backend.ids()) == ids[1:]
    with runtime.session() as s:
        s.execute(update(Chunk).where(Chunk.id == ids[1]).values(embedding=np.zeros(768, "<f4").tobytes()))
        s.add(ChunkChange(chunk_id=ids[1], op="u"))
    wrong = sync_backend(runtime=runtime, backend=backend)
    assert wrong.error and "768-dimensional" in wrong.error and wrong.pending == 1
    corpus.revector(ids[1])  # re-embedded: the next run goes through
    assert sync_backend(runtime=runtime, backend=backend).ok
    assert sorted(backend.ids()) == ids[1:]


def test_sync_follows_the_indexing_code(any_runtime: Runtime) -> None:
    from core.search.documents import DocumentIn
    from core.search.embeddings import make_embedder
    from core.search.indexing import delete_documents, index_documents

    embedder = make_embedder(any_runtime.settings)

    def doc(n: int, text: str, chunks: tuple[str, ...]) -> DocumentIn:
        return DocumentIn(
            source="file",
            external_id=f"f{n}",
            type="file",
            title=f"f{n}.txt",
            text=text,
            chunks=chunks,
            occurred_at=datetime(2024, 5, n, tzinfo=UTC),
        )

    fake = FakePinecone(dimension=DIM).start()
    backend = Remote("pinecone", fake).make()
    try:
        first = [
            doc(1, "a b", ("Invoice INV-2041 was disputed by Oakwood.", "The dispute was about late fees.")),
            doc(2, "c", ("Outage on the payment portal on May 3.",)),
        ]
        result = index_documents(runtime=any_runtime, embedder=embedder, documents=first)
        assert sync_backend(runtime=any_runtime, backend=backend).upserted == 3
        assert_mirrors(backend, any_runtime)

        index_documents(
            runtime=any_runtime,
            embedder=embedder,
            documents=[doc(1, "a", ("Invoice INV-2041 was disputed by Oakwood.",))],
        )  # a chunk dropped
        with any_runtime.session() as s:
            delete_documents(session=s, document_ids=[result.document_ids[("file", "f2")]])
        report = sync_backend(runtime=any_runtime, backend=backend)
        assert report.deleted == 2 and report.pending == 0
        assert_mirrors(backend, any_runtime)
        assert len(list(backend.ids())) == 1
    finally:
        backend.close()
        fake.stop()


def test_the_scheduled_job_syncs_every_enabled_backend(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs import definitions

    pc, wv = FakePinecone(dimension=DIM).start(), FakeWeaviate().start()
    env = {
        "SOPHIA_VECTOR_BACKENDS": "embedded,pinecone,weaviate",
        "SOPHIA_PINECONE_API_KEY": pc.api_key,
        "SOPHIA_PINECONE_HOST": pc.host,
        "SOPHIA_WEAVIATE_URL": wv.url,
        "SOPHIA_WEAVIATE_GRPC_PORT": str(wv.grpc_port),
    }
    try:
        with as_the_scheduler(runtime, monkeypatch, **env):
            corpus = Corpus(runtime)
            corpus.add_document(4)
            definitions.sync_vector_indexes()
            assert [
                (r["name"], r["chunks"], r["pending"], r["error"])
                for r in index_status(runtime=runtime, backends=["embedded", "pinecone", "weaviate"])
            ] == [("embedded", 4, 0, None), ("pinecone", 4, 0, None), ("weaviate", 4, 0, None)]
            wv.stop()
            corpus.add_document(2)
            definitions.sync_vector_indexes()  # one backend down: the job still returns, the others move on
            shown = {r["name"]: r for r in index_status(runtime=runtime, backends=["embedded", "pinecone", "weaviate"])}
            assert shown["weaviate"]["error"] and shown["weaviate"]["pending"] == 2
            assert shown["pinecone"]["pending"] == shown["embedded"]["pending"] == 0
    finally:
        pc.stop()
        wv.stop()


def test_a_refused_key_is_recorded_not_raised(runtime: Runtime, remote: Remote, backend: VectorBackend) -> None:
    corpus = Corpus(runtime)
    corpus.add_document(2)
    if remote.kind == "pinecone":
        remote.fake.api_key = "rotated-key"  # the key was revoked on the vendor's side
        expected = "SOPHIA_PINECONE_API_KEY"
    else:
        remote.fake.collections.clear()
        remote.fake.api_key = "now-required"
        expected = "SOPHIA_WEAVIATE_API_KEY"
    report = sync_backend(runtime=runtime, backend=backend)
    assert report.error and expected in report.error and report.pending == 2
    with pytest.raises(SophiaError, match=expected):
        rebuild(runtime=runtime, backend=backend)
    assert status(runtime, backend.name)["error"]


def test_the_embedded_backend_is_synced_the_same_way(any_runtime: Runtime) -> None:
    from core.search.backends.registry import make_backends

    [embedded] = make_backends(any_runtime.settings)  # the default SOPHIA_VECTOR_BACKENDS
    try:
        assert embedded.name == "embedded"
        corpus = Corpus(any_runtime)
        doc, ids = corpus.add_document(4)
        corpus.add_document(3, source="slack")
        assert sync_backend(runtime=any_runtime, backend=embedded).full_push
        assert_mirrors(embedded, any_runtime)
        corpus.revector(ids[0])
        corpus.retag(doc, min_role="admin")
        corpus.delete_chunks(ids[1])
        report = sync_backend(runtime=any_runtime, backend=embedded)
        assert (report.upserted, report.deleted, report.pending) == (3, 1, 0)
        assert_mirrors(embedded, any_runtime)
        assert reconcile(runtime=any_runtime, backend=embedded, sample=None).repaired == 0
    finally:
        embedded.close()


def change_count(runtime: Runtime) -> int:
    with runtime.session() as s:
        return len(s.scalars(select(ChunkChange.id)).all())


def test_consumed_changes_are_pruned_and_a_backend_left_behind_catches_up_in_full(
    any_runtime: Runtime, backend: VectorBackend
) -> None:
    corpus = Corpus(any_runtime)
    doc_a, _ = corpus.add_document(3)
    doc_b, b = corpus.add_document(2)
    embedded = EmbeddedBackend(any_runtime.settings.data_dir / "index" / "pruning")
    try:
        both = ["embedded", backend.name]
        assert prune_changes(runtime=any_runtime, enabled=both, keep_s=0) == 0  # neither has consumed anything
        assert sync_backend(runtime=any_runtime, backend=embedded).ok
        assert sync_backend(runtime=any_runtime, backend=backend).ok
        assert prune_changes(runtime=any_runtime, enabled=both) == 0  # consumed, but kept for a day
        assert prune_changes(runtime=any_runtime, enabled=both, keep_s=0) == 4  # the newest row stays
        assert change_count(any_runtime) == 1

        # the remote backend is disabled; the embedded one follows the log, which is pruned behind it
        corpus.delete_document(doc_a)
        corpus.revector(b[0])
        corpus.add_document(2)
        assert sync_backend(runtime=any_runtime, backend=embedded).ok
        assert prune_changes(runtime=any_runtime, enabled=["embedded"], keep_s=0) == 1 + 3 + 1 + 2 - 1
        assert status(any_runtime, backend.name)["pending"] == 4  # below the floor: every chunk is due again
        assert status(any_runtime, "embedded")["pending"] == 0

        # enabled again: the log it would replay is gone, so it gets everything, and loses what was deleted
        back = sync_backend(runtime=any_runtime, backend=backend)
        assert back.ok and back.full_push and (back.upserted, back.deleted, back.pending) == (4, 3, 0)
        assert_mirrors(backend, any_runtime)
        assert state(any_runtime, backend.name).chunks_indexed == 4

        corpus.revector(b[1])  # and from there it follows the log again
        after = sync_backend(runtime=any_runtime, backend=backend)
        assert not after.full_push and (after.upserted, after.deleted) == (1, 0)
        assert_mirrors(backend, any_runtime)
        assert sync_backend(runtime=any_runtime, backend=embedded).upserted == 1
        assert_mirrors(embedded, any_runtime)
    finally:
        embedded.close()


def test_housekeeping_prunes_for_the_enabled_backends(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.search.sync import PRUNE_KEEP_S
    from jobs import definitions

    with as_the_scheduler(runtime, monkeypatch):
        corpus = Corpus(runtime)
        corpus.add_document(3)
        definitions.sync_vector_indexes()
        definitions.housekeeping()
        assert change_count(runtime) == 3  # young: kept
        with runtime.session() as s:
            s.execute(update(ChunkChange).values(at=utcnow() - timedelta(seconds=PRUNE_KEEP_S + 60)))
        corpus.add_document(1)  # not consumed yet: kept
        definitions.housekeeping()
        assert change_count(runtime) == 1
        definitions.sync_vector_indexes()
        assert status(runtime, "embedded") | {"last_sync": None} == {
            "name": "embedded",
            "chunks": 4,
            "pending": 0,
            "last_sync": None,
            "error": None,
        }
