"""Which vector backends are enabled, and building them from the settings.

``SOPHIA_VECTOR_BACKENDS`` is a comma list of ``embedded``, ``pinecone``, ``weaviate`` (default
``embedded``). Each backend module is imported only when it is enabled, so the vendor SDKs are needed only
by installations that use them. Building a backend makes no network call: one that is down is found (and
recorded) by the sync engine, never at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.config import VECTOR_BACKENDS
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Settings
    from core.search.backends.base import VectorBackend

__all__ = ["KNOWN_BACKENDS", "VectorSettings", "enabled_backends", "make_backend", "make_backends", "vector_settings"]

KNOWN_BACKENDS = VECTOR_BACKENDS
DEFAULT_WEAVIATE_GRPC_PORT = 50051


@dataclass(frozen=True)
class VectorSettings:
    """The vector-backend settings, read from the one Settings object."""

    backends: tuple[str, ...]
    pinecone_api_key: str | None = None
    pinecone_index: str | None = None
    pinecone_host: str | None = None
    pinecone_control_url: str | None = None  # the control plane's base URL; default Pinecone's public API
    weaviate_url: str | None = None
    weaviate_grpc_port: int = DEFAULT_WEAVIATE_GRPC_PORT
    weaviate_api_key: str | None = None


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        value = value.get_secret_value()
    return str(value) or None


def vector_settings(settings: Settings) -> VectorSettings:
    """The vector-backend fields of Settings (validated there, at start-up)."""
    return VectorSettings(
        backends=tuple(settings.vector_backend_names),
        pinecone_api_key=_secret(settings.pinecone_api_key),
        pinecone_index=settings.pinecone_index or None,
        pinecone_host=settings.pinecone_host or None,
        pinecone_control_url=settings.pinecone_control_url,
        weaviate_url=settings.weaviate_url or None,
        weaviate_grpc_port=int(settings.weaviate_grpc_port or DEFAULT_WEAVIATE_GRPC_PORT),
        weaviate_api_key=_secret(settings.weaviate_api_key),
    )


def enabled_backends(settings: Settings) -> tuple[str, ...]:
    return vector_settings(settings).backends


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
    return _FACTORIES[name](settings, vector_settings(settings))


def _dim(settings: Settings) -> int:
    from core.search.embeddings import make_embedder  # loads nothing until the model is first used

    return make_embedder(settings).dim


def _embedded(settings: Settings, vs: VectorSettings) -> VectorBackend:
    from core.search.backends import embedded

    cls = embedded.EmbeddedBackend
    factory = getattr(cls, "from_settings", None)
    return factory(settings) if factory is not None else cls(settings=settings)


def _pinecone(settings: Settings, vs: VectorSettings) -> VectorBackend:
    from core.search.backends.pinecone import PineconeBackend

    return PineconeBackend(
        api_key=vs.pinecone_api_key or "",
        dim=_dim(settings),
        index_name=vs.pinecone_index,
        host=vs.pinecone_host,
        control_url=vs.pinecone_control_url,
    )


def _weaviate(settings: Settings, vs: VectorSettings) -> VectorBackend:
    from core.search.backends.weaviate import WeaviateBackend

    if not vs.weaviate_url:
        raise ConfigError("SOPHIA_WEAVIATE_URL: required when SOPHIA_VECTOR_BACKENDS includes weaviate")
    return WeaviateBackend(
        url=vs.weaviate_url,
        dim=_dim(settings),
        grpc_port=vs.weaviate_grpc_port,
        api_key=vs.weaviate_api_key,
    )


_FACTORIES: dict[str, Callable[[Settings, VectorSettings], VectorBackend]] = {
    "embedded": _embedded,
    "pinecone": _pinecone,
    "weaviate": _weaviate,
}


def query_backend(settings: Settings) -> VectorBackend:
    """The backend searches read: the first enabled one (the others are kept in sync as copies)."""
    return make_backend(settings, enabled_backends(settings)[0])
