"""The embedded vector backend on disk: the VectorBackend contract, filters inside the search, the inverted
file against exact search, and a second process (another instance on the same folder) seeing new writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.errors import InvalidInput
from core.search.backends.base import ChunkVector, VectorBackend, VectorFilter
from core.search.backends.embedded import EmbeddedBackend

DIM = 16
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def items(vectors: np.ndarray, start: int = 1) -> list[ChunkVector]:
    """Chunk ``start + i``; its metadata follows its 0-based position ``g = start - 1 + i``."""
    return [
        ChunkVector(
            chunk_id=g + 1,
            vector=v,
            document_id=(g + 1) // 2,
            source=("gong", "slack")[g % 2],
            type=("call", "slack_thread")[g % 2],
            account_id=g % 5 or None,
            owner=f"rep{g % 3}@payready.com",
            occurred_at=T0 + timedelta(days=g),
            min_role="admin" if g % 7 == 0 else "viewer",
        )
        for g, v in enumerate(vectors, start=start - 1)
    ]


@pytest.fixture
def backend(tmp_path) -> EmbeddedBackend:
    b = EmbeddedBackend(tmp_path / "index", dim=DIM)
    yield b
    b.close()


def test_it_is_a_vector_backend_and_round_trips(backend) -> None:
    assert isinstance(backend, VectorBackend)
    rng = np.random.default_rng(1)
    x = unit(rng, 40)
    backend.upsert(items(x))
    assert backend.count() == 40 and sorted(backend.ids()) == list(range(1, 41))
    top = backend.query(x[3], k=3)
    assert top[0][0] == 4 and top[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    backend.upsert(items(x[:1] * -1, start=4))  # replace chunk 4's vector
    assert backend.query(x[3], k=1)[0][0] != 4
    backend.delete([1, 2, 999])
    assert backend.count() == 38 and {c for c, _ in backend.query(x[0], k=40)}.isdisjoint({1, 2})
    stored = backend.fetch([5])[5]
    assert stored.source == "gong" and stored.occurred_at == T0 + timedelta(days=4)
    np.testing.assert_allclose(stored.vector, x[4])
    backend.clear()
    assert backend.count() == 0 and backend.query(x[0], k=5) == []
    backend.ping()


def test_filters_apply_inside_the_search(backend) -> None:
    rng = np.random.default_rng(2)
    x = unit(rng, 60)
    backend.upsert(items(x))
    q = x[10]
    cases = [
        (VectorFilter(sources=["slack"]), lambda i: i % 2 == 1),
        (VectorFilter(types=["call"], account_ids=[2, 3]), lambda i: i % 2 == 0 and i % 5 in (2, 3)),
        (VectorFilter(owner="REP1@payready.com"), lambda i: i % 3 == 1),
        (VectorFilter(since=T0 + timedelta(days=20), until=T0 + timedelta(days=30)), lambda i: 20 <= i <= 30),
        (VectorFilter(roles=["viewer"]), lambda i: i % 7 != 0),
    ]
    for where, allowed in cases:
        got = backend.query(q, k=100, where=where)
        expected = {i + 1 for i in range(60) if allowed(i)}
        assert {c for c, _ in got} == expected, where
    assert backend.query(q, k=5, where=VectorFilter(sources=["nowhere"])) == []


def test_inverted_file_agrees_with_exact_search_and_filters_stay_exact(tmp_path) -> None:
    rng = np.random.default_rng(3)
    centres = unit(rng, 20)
    x = centres[rng.integers(0, 20, 3000)] + rng.normal(0, 0.08, (3000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    b = EmbeddedBackend(tmp_path / "ivf", dim=DIM, ivf_min_vectors=1000)
    for start in range(0, 3000, 500):
        b.upsert(items(x[start : start + 500], start=start + 1))
    b.query(x[0], k=1)
    assert b._mem is not None and b._mem.nlist > 0  # trained: an inverted file, not the flat index
    queries = unit(rng, 50)
    recall = []
    for q in queries:
        exact = set((np.argsort(-(x @ q))[:10] + 1).tolist())
        recall.append(len(exact & {c for c, _ in b.query(q, k=10)}) / 10)
    assert np.mean(recall) >= 0.9
    narrow = VectorFilter(account_ids=[3], types=["call"], since=T0 + timedelta(days=100))
    ok = np.array([i % 2 == 0 and i % 5 == 3 and i >= 100 for i in range(3000)])
    for q in queries[:10]:
        scores = np.where(ok, x @ q, -np.inf)
        exact = (np.argsort(-scores)[:10] + 1).tolist()
        assert [c for c, _ in b.query(q, k=10, where=narrow)] == exact

    # a reader in another process follows updates and deletes of the inverted file
    reader = EmbeddedBackend(tmp_path / "ivf", dim=DIM, ivf_min_vectors=1000)
    q = queries[0]
    top = [c for c, _ in reader.query(q, k=3)]
    b.delete([top[0]])
    b.upsert(items(q[None, :], start=top[2]))  # the third now holds the query itself
    got = reader.query(q, k=3)
    assert got[0][0] == top[2] and got[0][1] == pytest.approx(1.0, abs=1e-3)  # half precision in memory
    assert top[0] not in {c for c, _ in reader.query(q, k=50)}
    assert reader._mem is not None and reader._mem.nlist > 0
    reader.close()
    b.close()


def test_another_process_sees_writes_and_deletes(tmp_path) -> None:
    rng = np.random.default_rng(4)
    x = unit(rng, 30)
    writer = EmbeddedBackend(tmp_path / "shared", dim=DIM)
    reader = EmbeddedBackend(tmp_path / "shared", dim=DIM)
    writer.upsert(items(x[:10]))
    assert {c for c, _ in reader.query(x[0], k=50)} == set(range(1, 11))
    writer.upsert(items(x[10:], start=11))
    writer.delete([1])
    assert {c for c, _ in reader.query(x[0], k=50)} == set(range(2, 31))
    writer.clear()
    assert reader.query(x[0], k=5) == []
    writer.close()
    reader.close()


def test_bad_input_is_refused(backend, tmp_path) -> None:
    with pytest.raises(InvalidInput):
        backend.upsert([ChunkVector(1, np.zeros(DIM + 1, np.float32), 1, "s", "t")])
    with pytest.raises(InvalidInput):
        backend.query(np.zeros(DIM + 1, np.float32), k=3)


def test_another_embedding_model_empties_the_store(tmp_path) -> None:
    x = unit(np.random.default_rng(5), 4)
    first = EmbeddedBackend(tmp_path / "store", dim=DIM, model="model-a")
    first.upsert(items(x))
    assert first.count() == 4 and len(first.query(x[0], k=10)) == 4
    same = EmbeddedBackend(tmp_path / "store", dim=DIM, model="model-a")
    assert same.count() == 4  # reopened by the same model: kept
    same.close()
    # the model was changed: its vectors cannot answer the new model's queries, and re-embedding refills it
    renamed = EmbeddedBackend(tmp_path / "store", dim=DIM, model="model-b")
    assert renamed.count() == 0
    assert first.query(x[0], k=10) == []  # a reader of the old store reloads: nothing of model-a is left
    renamed.upsert(items(x[:2]))
    wider = EmbeddedBackend(tmp_path / "store", dim=DIM * 2, model="model-c")
    assert wider.count() == 0
    wider.upsert(items(np.tile(unit(np.random.default_rng(6), 3), 2) / np.sqrt(2)))
    assert wider.count() == 3
    for b in (first, renamed, wider):
        b.close()
