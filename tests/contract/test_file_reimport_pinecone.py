"""Finding 22 against the fake Pinecone: re-importing a changed file leaves none of the old version's
vectors in the index (they were all still there before)."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import Chunk
from core.runtime import Runtime
from core.search.backends.pinecone import PineconeBackend
from core.search.embeddings import make_embedder
from core.search.files import delete_file, import_files
from core.search.sync import sync_backend
from core.storage import make_object_store
from tests.contract.fake_pinecone import FakePinecone


def test_a_changed_file_leaves_no_old_vector_in_pinecone(runtime: Runtime, tmp_path) -> None:
    fake = FakePinecone(dimension=384).start()
    backend = PineconeBackend(api_key=fake.api_key, dim=384, host=fake.host)
    try:
        embedder, store = make_embedder(runtime.settings), make_object_store(runtime.settings)
        path = tmp_path / "policy.md"
        path.write_text("\n\n".join(f"Clause {i}: refunds within {i} days for the pilot cohort." for i in range(60)))
        first = import_files(runtime=runtime, embedder=embedder, store=store, paths=[path])[0]
        assert sync_backend(runtime=runtime, backend=backend).ok
        assert len(fake.vectors()) == first.chunks > 1

        path.write_text("Refunds: none after go-live.")
        second = import_files(runtime=runtime, embedder=embedder, store=store, paths=[path])[0]
        assert second.doc_id == first.doc_id
        assert sync_backend(runtime=runtime, backend=backend).ok
        with runtime.session() as s:
            current = {str(c) for c in s.scalars(select(Chunk.id))}
        assert set(fake.vectors()) == current and len(current) == 1

        delete_file(runtime=runtime, store=store, doc_id=second.doc_id)
        assert sync_backend(runtime=runtime, backend=backend).ok
        assert fake.vectors() == {}
    finally:
        backend.close()
        fake.stop()
