"""Which vector backends are enabled, and building them from the settings.

``SOPHIA_VECTOR_BACKENDS`` is a comma list of ``embedded``, ``pinecone``, ``weaviate`` (default
``embedded``). Each backend module is imported only when it is enabled, so the vendor SDKs are needed only
by installations that use them. Building a backend makes no network call: one that is down is found (and
recorded) by the sync engine, never at start-up. Each backend reads its settings from ``Settings``, where
each is declared (and validated) once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.config import VECTOR_BACKENDS
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Settings
    from core.search.backends.base import VectorBackend

__all__ = ["KNOWN_BACKENDS", "enabled_backends", "make_backend", "make_backends"]

KNOWN_BACKENDS = VECTOR_BACKENDS


def enabled_backends(settings: Settings) -> tuple[str, ...]:
    return tuple(settings.vector_backend_names)


def make_backends(settings: Settings) -> list[VectorBackend]:
    """One backend per name in SOPHIA_VECTOR_BACKENDS, in that order (the caller closes them)."""
    return [make_backend(settings, name) for name in enabled_backends(settings)]


def make_backend(settings: Settings, name: str) -> VectorBackend:
    """The named backend; it must be one of the enabled ones."""
    enabled = enabled_backends(settings)
    if name not in KNOWN_BACKENDS:
        raise ConfigError(f"unknown vector backend {name!r} (choose from {', '.join(KNOWN_BACKENDS)})")
    if name not in enabled:
        raise ConfigError(f"vector backend {name!r} is not enabled (SOPHIA_VECTOR_BACKENDS={','.join(enabled)})")
    return _FACTORIES[name](settings)


def _dim(settings: Settings) -> int:
    from core.search.embeddings import make_embedder  # loads nothing until the model is first used

    return make_embedder(settings).dim


def _embedded(settings: Settings) -> VectorBackend:
    from core.search.backends import embedded

    return embedded.EmbeddedBackend.from_settings(settings)


def _pinecone(settings: Settings) -> VectorBackend:
    from core.search.backends.pinecone import PineconeBackend

    return PineconeBackend(
        api_key=settings.pinecone_api_key or "",
        dim=_dim(settings),
        index_name=settings.pinecone_index or None,
        host=settings.pinecone_host or None,
        control_url=settings.pinecone_control_url,
    )


def _weaviate(settings: Settings) -> VectorBackend:
    from core.search.backends.weaviate import WeaviateBackend

    if not settings.weaviate_url:
        raise ConfigError("SOPHIA_WEAVIATE_URL: required when SOPHIA_VECTOR_BACKENDS includes weaviate")
    return WeaviateBackend(
        url=settings.weaviate_url,
        dim=_dim(settings),
        grpc_port=settings.weaviate_grpc_port,
        api_key=settings.weaviate_api_key or None,
    )


_FACTORIES: dict[str, Callable[[Settings], VectorBackend]] = {
    "embedded": _embedded,
    "pinecone": _pinecone,
    "weaviate": _weaviate,
}


def query_backend(settings: Settings) -> VectorBackend:
    """The backend searches read: the first enabled one (the others are kept in sync as copies)."""
    return make_backend(settings, enabled_backends(settings)[0])
