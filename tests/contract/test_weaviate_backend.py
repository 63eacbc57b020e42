"""The Weaviate backend through the official ``weaviate-client`` v4 against the fake Weaviate (REST for the
schema, gRPC for batches, deletes, searches and counts): writes, filtered near-vector queries, deletes,
counts, the id iterator, clearing, and its failures."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import BackendUnavailable, ConfigError
from core.search.backends.weaviate import COLLECTION, VECTOR_NAME, WeaviateBackend, chunk_uuid
from tests.contract.fake_weaviate import FakeWeaviate
from tests.contract.vector_contract import DIM, check_fetch, check_round_trip, make_items, weaviate_put_foreign


@pytest.fixture
def fake() -> Iterator[FakeWeaviate]:
    server = FakeWeaviate().start()
    yield server
    server.stop()


@pytest.fixture
def backend(fake: FakeWeaviate) -> Iterator[WeaviateBackend]:
    b = WeaviateBackend(url=fake.url, grpc_port=fake.grpc_port, dim=DIM)
    yield b
    b.close()


def test_round_trip_through_the_client(fake: FakeWeaviate, backend: WeaviateBackend) -> None:
    check_round_trip(backend, make_items(260))
    assert {"BatchObjects", "BatchDelete", "Search", "Aggregate"} <= set(fake.grpc_calls)
    assert ("POST", "/v1/schema") in fake.rest_requests


def test_the_collection_is_made_for_self_provided_cosine_vectors(fake: FakeWeaviate, backend: WeaviateBackend) -> None:
    backend.ping()
    config = fake.collections[COLLECTION].config
    vector = config["vectorConfig"][VECTOR_NAME]
    assert vector["vectorizer"] == {"none": {}} and vector["vectorIndexConfig"]["distance"] == "cosine"
    types = {p["name"]: p["dataType"][0] for p in config["properties"]}
    assert types == {
        "chunk_id": "int",
        "document_id": "int",
        "source": "text",
        "type": "text",
        "account_id": "int",
        "owner": "text",
        "occurred_at": "date",
        "min_role": "text",
    }
    backend.ping()  # a second connection finds it and does not create it again
    assert fake.rest_requests.count(("POST", "/v1/schema")) == 1


def test_objects_have_deterministic_ids_and_typed_properties(fake: FakeWeaviate, backend: WeaviateBackend) -> None:
    items = make_items(30)
    backend.upsert(items)
    backend.upsert(items)  # again: replaced, not duplicated
    stored = fake.objects(COLLECTION)
    assert set(stored) == {str(chunk_uuid(it.chunk_id)) for it in items}
    for it in items:
        obj = stored[str(chunk_uuid(it.chunk_id))]
        assert np.array_equal(obj.vectors[VECTOR_NAME], it.vector)
        assert obj.properties["chunk_id"] == it.chunk_id and obj.properties.get("occurred_at") == it.occurred_at
        assert obj.properties.get("account_id") == it.account_id and obj.properties.get("owner") == it.owner
    check_fetch(backend, items)


def test_ids_page_through_the_iterator(fake: FakeWeaviate, backend: WeaviateBackend) -> None:
    backend.upsert(make_items(2500))
    before = fake.grpc_calls.count("Search")
    assert sorted(backend.ids()) == list(range(1, 2501))
    # 1,000 per page with the cursor after the last uuid, then an empty page that ends it
    assert fake.grpc_calls.count("Search") - before == 4


def test_an_api_key_is_sent_on_rest_and_grpc() -> None:
    server = FakeWeaviate(api_key="wv-key-0123456789").start()
    try:
        good = WeaviateBackend(url=server.url, grpc_port=server.grpc_port, dim=DIM, api_key="wv-key-0123456789")
        good.upsert(make_items(3))
        assert good.count() == 3
        good.close()
        bad = WeaviateBackend(url=server.url, grpc_port=server.grpc_port, dim=DIM, api_key="wv-wrong-key")
        with pytest.raises(ConfigError, match="SOPHIA_WEAVIATE_API_KEY") as caught:
            bad.ping()
        assert "wv-wrong-key" not in str(caught.value)
        bad.close()
    finally:
        server.stop()


def test_a_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SOPHIA_WEAVIATE_URL"):
        WeaviateBackend(url="weaviate:8080", dim=DIM)


def test_down_is_backend_unavailable_and_it_comes_back(fake: FakeWeaviate, backend: WeaviateBackend) -> None:
    backend.upsert(make_items(5))
    fake.stop()
    with pytest.raises(BackendUnavailable, match="weaviate unavailable"):
        backend.ping()
    fresh = WeaviateBackend(url=fake.url, grpc_port=fake.grpc_port, dim=DIM)
    with pytest.raises(BackendUnavailable, match="weaviate unavailable"):
        fresh.ping()  # connecting to a server that is down
    fake.start()  # same ports, data kept
    backend.ping()
    assert backend.count() == 5
    fresh.ping()
    assert fresh.count() == 5
    fresh.close()


def test_a_foreign_object_is_listed_by_its_uuid_never_a_result_and_can_be_deleted(
    fake: FakeWeaviate, backend: WeaviateBackend
) -> None:
    """Finding 23: an object Sophia did not write (no chunk id, or one under another uuid) must not crash."""
    items = make_items(5)
    backend.upsert(items)
    foreign = weaviate_put_foreign(
        fake.url, fake.grpc_port, [{"source": "elsewhere"}, {"chunk_id": 2, "source": "copy"}], items[0].vector.tolist()
    )
    assert set(backend.ids()) == {1, 2, 3, 4, 5, *foreign}
    hits = backend.query(items[0].vector, k=10)
    assert [cid for cid, _ in hits][0] == items[0].chunk_id and all(isinstance(c, int) for c, _ in hits)
    backend.delete(foreign)
    assert set(fake.objects(COLLECTION)) == {str(chunk_uuid(it.chunk_id)) for it in items}
