"""SOPHIA_VECTOR_BACKENDS: which backends are built, and the clear refusals."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.errors import ConfigError
from core.search.backends.registry import enabled_backends, make_backend, make_backends
from tests.conftest import make_settings


def test_the_default_is_the_embedded_backend(settings: Settings) -> None:
    assert enabled_backends(settings) == ("embedded",)
    [backend] = make_backends(settings)
    assert backend.name == "embedded"
    backend.close()


def test_an_unknown_name_is_refused_naming_the_setting(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SOPHIA_VECTOR_BACKENDS") as caught:
        make_backends(make_settings(tmp_path, vector_backends="embedded,milvus"))
    assert "milvus" in str(caught.value)


def test_remote_backends_are_built_in_order_without_touching_the_network(tmp_path) -> None:
    settings = make_settings(
        tmp_path,
        vector_backends="weaviate, pinecone",
        pinecone_api_key="pcsk_x",
        pinecone_host="http://127.0.0.1:9",
        weaviate_url="http://127.0.0.1:9",
        weaviate_grpc_port=10,  # nothing listens there
    )
    backends = make_backends(settings)
    assert [b.name for b in backends] == ["weaviate", "pinecone"]
    for b in backends:
        b.close()
    with pytest.raises(ConfigError, match="not enabled"):
        make_backend(settings, "embedded")


def test_a_remote_backend_without_its_settings_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SOPHIA_PINECONE_API_KEY"):
        make_backends(make_settings(tmp_path, vector_backends="pinecone", pinecone_host="http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="SOPHIA_WEAVIATE_URL"):
        make_backends(make_settings(tmp_path, vector_backends="weaviate"))
