"""The behaviour every VectorBackend owes, checked against exact brute-force answers computed here.

Used by the Pinecone and Weaviate contract tests (each through its official client against its fake); the
embedded backend can run the same checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from core.search.backends.base import ChunkVector, VectorBackend, VectorFilter

DIM = 384
SOURCES = ("gong", "slack", "hubspot", "file")
TYPES = ("call", "slack_thread", "note", "email")
ROLES = ("viewer", "manager", "admin")
START = datetime(2024, 1, 1, tzinfo=UTC)


def unit(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_items(n: int, *, seed: int = 7, first_id: int = 1) -> list[ChunkVector]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        cid = first_id + i
        items.append(
            ChunkVector(
                chunk_id=cid,
                vector=unit(rng),
                document_id=1000 + cid // 3,
                source=SOURCES[cid % 4],
                type=TYPES[cid % 3],
                account_id=(cid % 6) or None,
                owner=f"owner{cid % 3}@payready.com" if cid % 5 else None,
                occurred_at=START + timedelta(days=cid % 40, hours=cid % 24) if cid % 7 else None,
                min_role=ROLES[cid % 3],
            )
        )
    return items


def allowed(item: ChunkVector, where: VectorFilter | None) -> bool:
    if where is None:
        return True
    if where.sources and item.source not in where.sources:
        return False
    if where.types and item.type not in where.types:
        return False
    if where.account_ids and item.account_id not in where.account_ids:
        return False
    if where.owner is not None and item.owner != where.owner:
        return False
    if where.since is not None and (item.occurred_at is None or item.occurred_at < where.since):
        return False
    if where.until is not None and (item.occurred_at is None or item.occurred_at > where.until):
        return False
    return not (where.roles and item.min_role not in where.roles)


def exact(items: Sequence[ChunkVector], query: np.ndarray, k: int, where: VectorFilter | None = None) -> list[int]:
    pool = [it for it in items if allowed(it, where)]
    scores = [float(np.dot(it.vector.astype(np.float64), query.astype(np.float64))) for it in pool]
    order = sorted(range(len(pool)), key=lambda i: -scores[i])
    return [pool[i].chunk_id for i in order[:k]]


FILTERS: dict[str, VectorFilter] = {
    "source": VectorFilter(sources=["slack"]),
    "sources": VectorFilter(sources=["gong", "file"]),
    "type": VectorFilter(types=["note"]),
    "accounts": VectorFilter(account_ids=[2, 3]),
    "owner": VectorFilter(owner="owner1@payready.com"),
    "since": VectorFilter(since=START + timedelta(days=20)),
    "until": VectorFilter(until=START + timedelta(days=10, hours=12)),
    "range": VectorFilter(since=START + timedelta(days=5), until=START + timedelta(days=25)),
    "roles": VectorFilter(roles=["viewer"]),
    "combined": VectorFilter(
        sources=["gong", "slack", "hubspot"],
        types=["call", "note"],
        roles=["viewer", "manager"],
        since=START + timedelta(days=3),
    ),
    "nothing": VectorFilter(sources=["nowhere"]),
}


def check_queries(backend: VectorBackend, items: Sequence[ChunkVector], *, k: int = 10) -> None:
    """Nearest neighbours, unfiltered and with each filter, equal the exact answer, best first."""
    rng = np.random.default_rng(99)
    probes = [items[0].vector, items[len(items) // 2].vector, unit(rng), unit(rng)]
    for q in probes:
        got = backend.query(q, k=k)
        assert [c for c, _ in got] == exact(items, q, k)
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0001 <= s <= 1.0001 for s in scores)
    top = backend.query(items[0].vector, k=1)
    assert top[0][0] == items[0].chunk_id and abs(top[0][1] - 1.0) < 1e-4  # cosine similarity, not distance
    for name, where in FILTERS.items():
        for q in probes[:2] + probes[3:]:
            got = [c for c, _ in backend.query(q, k=k, where=where)]
            assert got == exact(items, q, k, where), name
            assert all(allowed(next(it for it in items if it.chunk_id == c), where) for c in got), name


def check_fetch(backend: VectorBackend, items: Sequence[ChunkVector]) -> None:
    """The first five of ``items`` (stored) come back from ``fetch`` with their vectors and metadata; an id
    that is not stored is left out."""
    fetched = backend.fetch([it.chunk_id for it in items[:5]] + [999])
    assert set(fetched) == {it.chunk_id for it in items[:5]}
    for it in items[:5]:
        got = fetched[it.chunk_id]
        assert np.array_equal(got.vector, it.vector)
        assert (got.document_id, got.source, got.type, got.account_id, got.owner, got.occurred_at, got.min_role) == (
            it.document_id,
            it.source,
            it.type,
            it.account_id,
            it.owner,
            it.occurred_at,
            it.min_role,
        )


def check_round_trip(backend: VectorBackend, items: Sequence[ChunkVector]) -> None:
    """upsert → count/ids/query → upsert again (replace) → delete → clear."""
    backend.ping()
    backend.clear()
    assert backend.count() == 0 and list(backend.ids()) == []
    backend.upsert(items)
    assert backend.count() == len(items)
    assert sorted(backend.ids()) == sorted(it.chunk_id for it in items)
    check_queries(backend, items)

    # writing a chunk again replaces it (vector and metadata), never duplicates it
    rng = np.random.default_rng(3)
    moved = ChunkVector(
        chunk_id=items[5].chunk_id,
        vector=unit(rng),
        document_id=items[5].document_id,
        source="file",
        type="note",
        account_id=None,
        owner=None,
        occurred_at=None,
        min_role="admin",
    )
    backend.upsert([moved])
    assert backend.count() == len(items)
    assert backend.query(moved.vector, k=1)[0][0] == moved.chunk_id
    assert moved.chunk_id not in [c for c, _ in backend.query(moved.vector, k=5, where=VectorFilter(roles=["viewer"]))]
    current = [moved if it.chunk_id == moved.chunk_id else it for it in items]
    check_queries(backend, current)

    gone = [it.chunk_id for it in current[:20]] + [10**9]  # an id that is not there is ignored
    backend.delete(gone)
    left = [it for it in current if it.chunk_id not in gone]
    assert backend.count() == len(left)
    assert sorted(backend.ids()) == sorted(it.chunk_id for it in left)
    check_queries(backend, left)

    backend.clear()
    assert backend.count() == 0 and list(backend.ids()) == []
    assert backend.query(items[0].vector, k=3) == []


def foreign_vector(seed: int = 99, dim: int = DIM) -> list[float]:
    """A vector some other tool left in the index."""
    return unit(np.random.default_rng(seed), dim).tolist()


def pinecone_put_foreign(host: str, api_key: str, ids: Sequence[str], values: list[float] | None = None) -> None:
    """Vectors Sophia did not write, through the (fake) Pinecone's own REST API, as another tool would."""
    import httpx

    vectors = [{"id": i, "values": values or foreign_vector(), "metadata": {"note": "not ours"}} for i in ids]
    done = httpx.post(f"{host}/vectors/upsert", json={"vectors": vectors}, headers={"Api-Key": api_key})
    done.raise_for_status()


def weaviate_put_foreign(
    url: str, grpc_port: int, props: Sequence[dict], values: list[float] | None = None
) -> list[str]:
    """Objects Sophia did not write, through the (fake) Weaviate's API with the official client; returns their
    uuids."""
    import uuid
    from urllib.parse import urlsplit

    import weaviate
    from weaviate.classes.data import DataObject

    from core.search.backends.weaviate import COLLECTION, VECTOR_NAME

    parts = urlsplit(url)
    client = weaviate.connect_to_custom(
        http_host=parts.hostname,
        http_port=parts.port,
        http_secure=False,
        grpc_host=parts.hostname,
        grpc_port=grpc_port,
        grpc_secure=False,
        skip_init_checks=True,
    )
    try:
        ids = [str(uuid.uuid4()) for _ in props]
        objects = [
            DataObject(properties=dict(p), uuid=u, vector={VECTOR_NAME: values or foreign_vector()})
            for p, u in zip(props, ids, strict=True)
        ]
        res = client.collections.get(COLLECTION).data.insert_many(objects)
        assert not res.errors, res.errors
        return ids
    finally:
        client.close()
