"""The Pinecone backend through the official ``pinecone`` SDK against the fake Pinecone (REST data and
control plane): writes, filtered queries, deletes, counts, id listing, clearing, and its failures."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import BackendUnavailable, ConfigError
from core.search.backends.pinecone import PineconeBackend
from tests.contract.fake_pinecone import FakePinecone
from tests.contract.vector_contract import DIM, check_fetch, check_round_trip, make_items, pinecone_put_foreign


@pytest.fixture
def fake() -> Iterator[FakePinecone]:
    server = FakePinecone(dimension=DIM).start()
    yield server
    server.stop()


@pytest.fixture
def backend(fake: FakePinecone) -> Iterator[PineconeBackend]:
    b = PineconeBackend(api_key=fake.api_key, dim=DIM, host=fake.host)
    yield b
    b.close()


def test_round_trip_through_the_sdk(fake: FakePinecone, backend: PineconeBackend) -> None:
    items = make_items(260)
    check_round_trip(backend, items)
    # the index's host was given: the control plane was never asked
    assert fake.control_requests() == []
    upserts = fake.data_requests("/vectors/upsert")
    assert upserts and all(len(r.body["vectors"]) <= 100 for r in upserts)
    assert {r.headers["x-pinecone-api-version"] for r in fake.requests} == {"2026-07"}


def test_vectors_and_metadata_are_stored_as_pinecone_wants_them(fake: FakePinecone, backend: PineconeBackend) -> None:
    items = make_items(30)
    backend.upsert(items)
    stored = fake.vectors()
    assert set(stored) == {str(it.chunk_id) for it in items}  # ids: the chunk ids as strings
    for it in items:
        values, md = stored[str(it.chunk_id)]
        assert np.array_equal(values, it.vector)
        assert None not in md.values()  # Pinecone refuses null metadata
        assert md["source"] == it.source and md["min_role"] == it.min_role and md["document_id"] == it.document_id
        assert md.get("occurred_at") == (
            it.occurred_at.timestamp() if it.occurred_at else None
        )  # a number, for $gte/$lte
    check_fetch(backend, items)


def test_ids_page_through_the_list_endpoint(fake: FakePinecone, backend: PineconeBackend) -> None:
    backend.upsert(make_items(250))
    assert sorted(backend.ids()) == list(range(1, 251))
    pages = fake.data_requests("/vectors/list")
    assert len(pages) == 3 and all(r.query["limit"] == ["100"] for r in pages)
    assert "paginationToken" not in pages[0].query and "paginationToken" in pages[1].query


def test_the_index_is_found_by_name_through_the_control_plane(fake: FakePinecone) -> None:
    b = PineconeBackend(api_key=fake.api_key, dim=DIM, index_name="sophia", control_url=fake.control_url)
    try:
        b.upsert(make_items(3))
        assert b.count() == 3
    finally:
        b.close()
    assert [(r.method, r.path) for r in fake.control_requests()] == [("GET", "/indexes/sophia")]  # once


def test_an_unknown_index_name_is_a_config_error(fake: FakePinecone) -> None:
    b = PineconeBackend(api_key=fake.api_key, dim=DIM, index_name="nope", control_url=fake.control_url)
    with pytest.raises(ConfigError, match="index not found"):
        b.ping()
    b.close()


def test_a_refused_key_is_a_config_error_without_the_key(fake: FakePinecone) -> None:
    b = PineconeBackend(api_key="pcsk_wrong_key_123", dim=DIM, host=fake.host)
    with pytest.raises(ConfigError, match="SOPHIA_PINECONE_API_KEY") as caught:
        b.ping()
    assert "pcsk_wrong_key_123" not in str(caught.value)
    b.close()


def test_an_index_of_another_dimension_is_refused(fake: FakePinecone) -> None:
    b = PineconeBackend(api_key=fake.api_key, dim=768, host=fake.host)
    with pytest.raises(ConfigError, match="384-dimensional"):
        b.ping()
    b.close()


def test_down_or_failing_is_backend_unavailable(fake: FakePinecone, backend: PineconeBackend) -> None:
    backend.upsert(make_items(5))
    fake.fail_next(503, times=10)  # more than the SDK's own retries
    with pytest.raises(BackendUnavailable, match="pinecone unavailable"):
        backend.count()
    fake.clear_faults()
    fake.stop()
    with pytest.raises(BackendUnavailable, match="pinecone unavailable"):
        backend.upsert(make_items(2))
    fake.start()  # same ports, data kept
    assert backend.count() == 5


def test_a_foreign_vector_is_listed_by_its_own_id_never_a_result_and_can_be_deleted(
    fake: FakePinecone, backend: PineconeBackend
) -> None:
    """Finding 23: an id Sophia did not write (any shape) must not crash listing, search or the spot-check."""
    items = make_items(5)
    backend.upsert(items)
    pinecone_put_foreign(fake.host, fake.api_key, ["leftover-7", "007", "-3"], values=items[0].vector.tolist())
    assert set(backend.ids()) == {1, 2, 3, 4, 5, "leftover-7", "007", "-3"}
    hits = backend.query(items[0].vector, k=10)  # the foreign copies are the nearest: left out, no crash
    assert [cid for cid, _ in hits][0] == items[0].chunk_id and all(isinstance(c, int) for c, _ in hits)
    backend.delete(["leftover-7", "007", "-3"])
    assert set(fake.vectors()) == {str(it.chunk_id) for it in items}
