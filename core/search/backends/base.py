"""The interface every vector backend implements (embedded, Pinecone, Weaviate).

The chunks table is the truth. A backend holds, per chunk id, the chunk's vector and the metadata that
search filters on; it is written only by the sync engine (core/search/sync.py), which consumes the
chunk_changes log after the backend's own position, and can be rebuilt from the chunks table at any time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np

#: A key a backend holds: the chunk id Sophia wrote, or, for anything else found there (a leftover of
#: another tool, a foreign vector), the backend's own key as a string, so that it can be deleted.
BackendKey = int | str


def chunk_id_of(raw: object) -> int | None:
    """The chunk id a stored key or property names, or None when it is not one Sophia writes (a positive
    integer, or its plain decimal string): what a backend holds is read, never trusted to parse."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw > 0 else None
    if isinstance(raw, float) and raw.is_integer():
        return chunk_id_of(int(raw))
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and str(int(raw)) == raw:
        return chunk_id_of(int(raw))
    return None


@dataclass(frozen=True)
class ChunkVector:
    """What a backend stores for one chunk."""

    chunk_id: int
    vector: np.ndarray  # float32, shape (dim,), L2-normalised
    document_id: int
    source: str
    type: str
    account_id: int | None = None
    owner: str | None = None
    occurred_at: datetime | None = None  # UTC
    min_role: str = "viewer"


@dataclass(frozen=True)
class VectorFilter:
    """Filters a backend applies inside its vector query (all optional; lists mean any of)."""

    sources: Sequence[str] = ()
    types: Sequence[str] = ()
    account_ids: Sequence[int] = ()
    owner: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    roles: Sequence[str] = field(default_factory=tuple)  # min_role values the caller may see; empty = all


@runtime_checkable
class VectorBackend(Protocol):
    name: str  # "embedded" | "pinecone" | "weaviate"
    dim: int

    def upsert(self, items: Sequence[ChunkVector]) -> None:
        """Insert or replace these chunks' vectors and metadata (idempotent)."""

    def delete(self, chunk_ids: Sequence[BackendKey]) -> None:
        """Remove these chunks (or foreign keys, as ``ids`` gave them); ids that are not there are ignored."""

    def query(self, vector: np.ndarray, *, k: int, where: VectorFilter | None = None) -> list[tuple[int, float]]:
        """The k nearest chunks as (chunk_id, cosine similarity), best first."""

    def count(self) -> int: ...

    def ids(self) -> Iterator[BackendKey]:
        """Every key held (for reconcile): chunk ids, and anything Sophia did not write as the backend's own
        key string (``BackendKey``); may page through the backend. Never fails on what it finds."""

    def clear(self) -> None:
        """Remove everything (before a rebuild)."""

    def ping(self) -> None:
        """Raise core.errors.BackendUnavailable with a clear message when the backend cannot be reached."""

    def close(self) -> None: ...
