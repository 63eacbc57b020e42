"""Provider embeddings through the official openai client against a fake of the embeddings API on 127.0.0.1:
the request it sends, batching, retries, errors turned into settings to fix, and a change of model that
re-embeds every chunk and refills the embedded index, after which search runs on the provider's vectors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import select

from core.auth import Identity
from core.config import load_settings
from core.db.models import Chunk
from core.errors import BackendUnavailable, ConfigError
from core.runtime import Runtime, open_runtime
from core.search.backends.embedded import EmbeddedBackend
from core.search.embeddings import MODEL_NAME, make_embedder
from core.search.files import import_files
from core.search.indexing import index_records
from core.search.provider import REQUEST_TEXTS, OpenAIEmbedder
from core.search.service import search
from core.search.sync import sync_backend
from core.storage import make_object_store
from tests.conftest import make_settings
from tests.contract.fake_openai import FakeOpenAI, embed_text


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def embedder(fake: FakeOpenAI, **kwargs) -> OpenAIEmbedder:
    values = {
        "model": "text-embedding-3-small",
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "dimensions": 64,
        "max_retries": 2,
    } | kwargs
    return OpenAIEmbedder(**values)


def test_vectors_come_back_in_order_batched_and_unit_length(fake: FakeOpenAI) -> None:
    e = embedder(fake)
    texts = [f"resident autopay enrollment {i}" for i in range(REQUEST_TEXTS + 10)] + ["", "   "]
    done: list[tuple[int, int]] = []
    vectors = e.embed(texts, progress=lambda d, t: done.append((d, t)))
    assert vectors.shape == (len(texts), 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[3], embed_text(texts[3], 64), atol=1e-6)  # row i is text i's vector
    assert done == [(REQUEST_TEXTS, len(texts)), (len(texts), len(texts))]
    sent = [r.body for r in fake.requests]
    assert [len(b["input"]) for b in sent] == [REQUEST_TEXTS, 12]
    assert {(b["model"], b["dimensions"], b["encoding_format"]) for b in sent} == {
        ("text-embedding-3-small", 64, "float")
    }
    assert sent[1]["input"][-2:] == [" ", " "]  # the API refuses empty inputs: blanks still get a row
    assert e.model_name == "openai:text-embedding-3-small@64" and e.dim == 64
    assert np.array_equal(e.embed_query("late fees"), e.embed_query("late fees")) and len(fake.requests) == 3


def test_an_unfamiliar_model_is_asked_its_dimension_once(fake: FakeOpenAI) -> None:
    e = embedder(fake, model="nomic-embed-text", dimensions=None, api_key=None)  # a server without keys...
    fake.api_key = "unused"  # ...to which the client still sends one
    assert e.dim == 768 and e.model_name == "openai:nomic-embed-text"
    assert e.embed(["a", "b"]).shape == (2, 768) and len(fake.requests) == 2


def test_rate_limits_and_server_errors_are_retried(fake: FakeOpenAI) -> None:
    fake.fail(status=429, headers={"Retry-After": "0.3"})
    fake.fail(status=503, after=0)
    vectors = embedder(fake).embed(["card processor downtime"])
    assert vectors.shape == (1, 64)
    assert [r.status for r in fake.requests] == [429, 503, 200]
    assert fake.requests[1].at - fake.requests[0].at >= 0.3  # Retry-After honoured

    fake.fail(status=500, times=None)
    with pytest.raises(BackendUnavailable, match="answered 500"):
        embedder(fake).embed(["x"])


def test_errors_name_the_setting_to_fix(fake: FakeOpenAI) -> None:
    with pytest.raises(ConfigError, match="SOPHIA_EMBEDDING_API_KEY"):
        embedder(fake, api_key="sk-revoked").embed(["x"])
    with pytest.raises(ConfigError, match="no embedding model 'text-embedding-4'.*SOPHIA_EMBEDDING_MODEL"):
        embedder(fake, model="text-embedding-4").embed(["x"])
    fake.stop()
    with pytest.raises(BackendUnavailable, match="unreachable"):
        embedder(fake, max_retries=0).embed(["x"])


def test_settings_choose_the_provider_and_refuse_half_a_configuration(tmp_path, fake: FakeOpenAI) -> None:
    with pytest.raises(Exception, match="SOPHIA_EMBEDDING_API_KEY is required"):
        load_settings(_env_file=None, data_dir=tmp_path, embedding_provider="openai")
    with pytest.raises(Exception, match="http:// or https://"):
        load_settings(_env_file=None, data_dir=tmp_path, embedding_provider="openai", embedding_base_url="localhost:1")
    settings = make_settings(
        tmp_path,
        embedding_provider="openai",
        embedding_api_key=fake.api_key,
        embedding_base_url=fake.base_url + "/",
        embedding_dimensions=32,
    )
    chosen = make_embedder(settings)
    assert isinstance(chosen, OpenAIEmbedder) and chosen.model_name == "openai:text-embedding-3-small@32"
    assert make_embedder(make_settings(tmp_path)).model_name == MODEL_NAME  # the default stays local


def test_changing_the_model_re_embeds_everything_and_search_follows(
    runtime: Runtime, fake: FakeOpenAI, tmp_path
) -> None:
    docs = {
        "outage.txt": "The Yardi ledger sync stalled overnight and postings backed up.",
        "pricing.md": "Debt Marketplace pricing tiers for enterprise customers.",
        "returns.txt": "Returned ACH payments jumped at two properties last month.",
    }
    for name, text in docs.items():
        (tmp_path / name).write_text(text)
    local = make_embedder(runtime.settings)
    assert all(
        r.ok
        for r in import_files(
            runtime=runtime,
            embedder=local,
            store=make_object_store(runtime.settings),
            paths=sorted(tmp_path.glob("*.*")),
        )
    )
    before = EmbeddedBackend.from_settings(runtime.settings)
    assert sync_backend(runtime=runtime, backend=before).ok and before.count() == 3

    switched = runtime.settings.model_copy(
        update={
            "embedding_provider": "openai",
            "embedding_api_key": fake.api_key,
            "embedding_base_url": fake.base_url,
            "embedding_dimensions": 64,
        }
    )
    provider = make_embedder(switched)
    runtime = open_runtime(switched)  # the product restarted with the new setting, on the same database
    result = index_records(runtime=runtime, embedder=provider)  # the stale vectors are re-embedded first
    assert result.chunks_embedded == 3 and len(fake.embedded()) == 3  # each chunk's text sent once
    with runtime.session() as s:
        stored = s.execute(select(Chunk.embedding_model, Chunk.embedding)).all()
    assert {m for m, _ in stored} == {"openai:text-embedding-3-small@64"} and {len(v) for _, v in stored} == {64 * 4}

    after = EmbeddedBackend.from_settings(switched)  # same store: emptied for the new model, then refilled
    assert after.count() == 0
    report = sync_backend(runtime=runtime, backend=after)
    assert report.ok and report.upserted == 3 and after.count() == 3
    hits = search(
        runtime=runtime,
        embedder=provider,
        backend=after,
        identity=Identity("admin", "admin", "cli"),
        query="returned ACH payments",
        mode="vector",
        limit=3,
    ).results
    assert hits and hits[0].title == "returns.txt"
    for b in (before, after):
        b.close()
    runtime.engine.dispose()


def test_search_falls_back_to_keywords_when_the_provider_fails(runtime: Runtime, fake: FakeOpenAI, tmp_path) -> None:
    (tmp_path / "returns.txt").write_text("Returned ACH payments jumped at two properties last month.")
    provider = embedder(fake)
    assert import_files(
        runtime=runtime, embedder=provider, store=make_object_store(runtime.settings), paths=[tmp_path / "returns.txt"]
    )[0].ok
    backend = EmbeddedBackend(tmp_path / "index", dim=64)
    try:
        admin = Identity("admin", "admin", "cli")
        fake.api_key = "sk-rotated"  # the key was revoked at the provider
        response = search(runtime=runtime, embedder=provider, backend=backend, identity=admin, query="ACH returns")
        assert [h.title for h in response.results] == ["returns.txt"]
        assert "SOPHIA_EMBEDDING_API_KEY" in response.degraded and "keyword results only" in response.degraded
        with pytest.raises(ConfigError):  # asked for vectors alone, the error itself
            search(runtime=runtime, embedder=provider, backend=backend, identity=admin, query="ACH", mode="vector")
    finally:
        backend.close()
