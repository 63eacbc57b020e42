"""Pinecone as a vector backend, through the official ``pinecone`` SDK (v10, REST data plane).

One Pinecone index (dense, cosine, the embedder's dimension) holds one vector per chunk, its id the chunk id
as a string, with the metadata search filters on. Dates are stored as a number (seconds since the epoch,
UTC), because Pinecone's range operators (``$gte``/``$lte``) only compare numbers.

When ``SOPHIA_PINECONE_HOST`` is set the data plane is reached directly and no control-plane call is made;
otherwise the index is described once by name through the control plane (``SOPHIA_PINECONE_CONTROL_URL``,
default the public API) to learn its host. Nothing touches the network until first use, so a backend that is
down never stops the product from starting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from core.errors import BackendUnavailable, ConfigError, SophiaError
from core.search.backends.base import BackendKey, ChunkVector, VectorFilter, chunk_id_of

T = TypeVar("T")

#: Pinecone caps an upsert request at 1,000 vectors and 2 MB; 100 vectors of 384 floats with metadata is
#: about 0.8 MB, the batch size Pinecone recommends.
UPSERT_BATCH = 100
#: Pinecone caps a delete by ids at 1,000 ids per request.
DELETE_BATCH = 1000
#: Fetch takes ids in the query string; 100 keeps the URL well under any proxy's limit.
FETCH_BATCH = 100
#: The list endpoint returns at most 100 ids per page.
LIST_PAGE = 100
#: Keep one attempt short: the sync engine retries on its next run, so a backend that is down should fail
#: fast rather than hold the scheduler (the SDK also retries 5xx/429/connection errors a few times itself).
DEFAULT_TIMEOUT_S = 15.0


class PineconeBackend:
    name = "pinecone"

    def __init__(
        self,
        *,
        api_key: str,
        dim: int,
        index_name: str | None = None,
        host: str | None = None,
        control_url: str | None = None,
        namespace: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not api_key:
            raise ConfigError("SOPHIA_PINECONE_API_KEY: required when SOPHIA_VECTOR_BACKENDS includes pinecone")
        if not (host or index_name):
            raise ConfigError(
                "SOPHIA_PINECONE_HOST or SOPHIA_PINECONE_INDEX: one is required when SOPHIA_VECTOR_BACKENDS "
                "includes pinecone"
            )
        self.dim = dim
        self._api_key = api_key
        self._index_name = index_name
        self._host = host
        self._control_url = control_url
        self._namespace = namespace
        self._timeout_s = timeout_s
        self._client: Any = None
        self._index: Any = None
        self._lock = threading.Lock()

    # ---- connection -------------------------------------------------------------------------------------

    def _idx(self) -> Any:
        with self._lock:
            if self._index is None:
                from pinecone import Pinecone  # imported on first use: the SDK is only needed when enabled

                def open_index() -> Any:
                    if self._client is None:
                        self._client = Pinecone(api_key=self._api_key, host=self._control_url, timeout=self._timeout_s)
                    # pc.index(host=...) makes no request; pc.index(name=...) describes the index once
                    return (
                        self._client.index(host=self._host) if self._host else self._client.index(name=self._index_name)
                    )

                self._index = self._call("connect", open_index)
            return self._index

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with _vendor_errors(what, secret=self._api_key, where=self._host or self._index_name or ""):
            return fn()

    def ping(self) -> None:
        stats = self._call("describe_index_stats", lambda: self._idx().describe_index_stats())
        if stats.dimension is not None and stats.dimension != self.dim:
            raise ConfigError(
                f"pinecone: the index holds {stats.dimension}-dimensional vectors but the embedding model makes "
                f"{self.dim}; point SOPHIA_PINECONE_INDEX/SOPHIA_PINECONE_HOST at an index of dimension {self.dim}"
            )

    def close(self) -> None:
        with self._lock:
            for obj in (self._index, self._client):
                close = getattr(obj, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # closing a pool that never opened; nothing to report
                        pass
            self._index = self._client = None

    # ---- writes ---------------------------------------------------------------------------------------------

    def upsert(self, items: Sequence[ChunkVector]) -> None:
        idx = self._idx()
        for start in range(0, len(items), UPSERT_BATCH):
            vectors = [_to_record(item, self.dim) for item in items[start : start + UPSERT_BATCH]]
            # one request per call (no batch_size): a failed request raises instead of being reported in
            # the response's failed_items, so the sync engine never advances past what did not land
            self._call("upsert", lambda: idx.upsert(vectors=vectors, namespace=self._namespace))

    def delete(self, chunk_ids: Sequence[BackendKey]) -> None:
        idx = self._idx()
        ids = [str(i) for i in chunk_ids]
        for start in range(0, len(ids), DELETE_BATCH):
            part = ids[start : start + DELETE_BATCH]
            self._call("delete", lambda: idx.delete(ids=part, namespace=self._namespace))

    def clear(self) -> None:
        from pinecone.errors.exceptions import NotFoundError

        idx = self._idx()

        def delete_all() -> None:
            try:
                idx.delete(delete_all=True, namespace=self._namespace)
            except NotFoundError:
                pass  # a namespace that was never written does not exist: already clear

        self._call("delete_all", delete_all)

    # ---- reads ----------------------------------------------------------------------------------------------

    def query(self, vector: np.ndarray, *, k: int, where: VectorFilter | None = None) -> list[tuple[int, float]]:
        idx = self._idx()
        flt = pinecone_filter(where)
        res = self._call(
            "query",
            lambda: idx.query(
                top_k=k,
                vector=_floats(vector),
                namespace=self._namespace,
                filter=flt or None,
                include_values=False,
                include_metadata=False,
            ),
        )
        hits = [(chunk_id_of(m.id), float(m.score)) for m in res.matches]
        return [(cid, score) for cid, score in hits if cid is not None]  # a foreign vector is no result

    def count(self) -> int:
        stats = self._call("describe_index_stats", lambda: self._idx().describe_index_stats())
        if self._namespace:
            summary = stats.namespaces.get(self._namespace)
            return summary.vector_count if summary is not None else 0
        return int(stats.total_vector_count)

    def ids(self) -> Iterator[BackendKey]:
        idx = self._idx()
        token: str | None = None
        while True:
            page = self._call(
                "list",
                lambda: idx.list_paginated(limit=LIST_PAGE, pagination_token=token, namespace=self._namespace),
            )
            for item in page.vectors:
                cid = chunk_id_of(item.id)
                yield item.id if cid is None else cid
            token = page.pagination.next if page.pagination is not None else None
            if not token:
                return

    def fetch(self, chunk_ids: Sequence[int]) -> dict[int, ChunkVector]:
        """The stored vector and metadata of these chunks (absent ids are left out): reconcile's spot-check."""
        idx = self._idx()
        found: dict[int, ChunkVector] = {}
        ids = [str(i) for i in chunk_ids]
        for start in range(0, len(ids), FETCH_BATCH):
            part = ids[start : start + FETCH_BATCH]
            res = self._call("fetch", lambda: idx.fetch(ids=part, namespace=self._namespace))
            for key, vec in res.vectors.items():
                cid = chunk_id_of(key)
                if cid is not None:
                    found[cid] = _from_record(cid, vec.values, vec.metadata or {})
        return found


# ---- mapping --------------------------------------------------------------------------------------------------


def _floats(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()


def _epoch(at: datetime) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def _to_record(item: ChunkVector, dim: int) -> dict[str, Any]:
    vector = np.asarray(item.vector, dtype=np.float32)
    if vector.shape != (dim,):
        raise SophiaError(f"pinecone: chunk {item.chunk_id} has a vector of shape {vector.shape}, expected ({dim},)")
    # Pinecone refuses null metadata values: an unknown field is left out (and so never matches a filter on it)
    metadata: dict[str, Any] = {
        "document_id": item.document_id,
        "source": item.source,
        "type": item.type,
        "min_role": item.min_role,
    }
    if item.account_id is not None:
        metadata["account_id"] = item.account_id
    if item.owner is not None:
        metadata["owner"] = item.owner
    if item.occurred_at is not None:
        metadata["occurred_at"] = _epoch(item.occurred_at)
    return {"id": str(item.chunk_id), "values": vector.tolist(), "metadata": metadata}


def _from_record(chunk_id: int, values: Sequence[float], md: dict[str, Any]) -> ChunkVector:
    occurred = md.get("occurred_at")
    account = md.get("account_id")
    return ChunkVector(
        chunk_id=chunk_id,
        vector=np.asarray(values, dtype=np.float32),
        document_id=chunk_id_of(md.get("document_id")) or 0,  # malformed: differs, so reconcile re-pushes
        source=str(md.get("source", "")),
        type=str(md.get("type", "")),
        account_id=chunk_id_of(account) if account is not None else None,
        owner=md.get("owner"),
        occurred_at=datetime.fromtimestamp(float(occurred), UTC) if occurred is not None else None,
        min_role=str(md.get("min_role", "viewer")),
    )


def pinecone_filter(where: VectorFilter | None) -> dict[str, Any]:
    """Pinecone's metadata filter language for a VectorFilter: top-level keys are ANDed."""
    if where is None:
        return {}
    clauses: list[dict[str, Any]] = []

    def any_of(field: str, values: Sequence[Any]) -> None:
        if values:
            clauses.append({field: {"$in": list(values)}} if len(values) > 1 else {field: {"$eq": values[0]}})

    any_of("source", list(where.sources))
    any_of("type", list(where.types))
    any_of("account_id", [int(a) for a in where.account_ids])
    if where.owner is not None:
        clauses.append({"owner": {"$eq": where.owner}})
    dates: dict[str, float] = {}
    if where.since is not None:
        dates["$gte"] = _epoch(where.since)
    if where.until is not None:
        dates["$lte"] = _epoch(where.until)
    if dates:
        clauses.append({"occurred_at": dates})
    any_of("min_role", list(where.roles))
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# ---- errors -----------------------------------------------------------------------------------------------------


@contextmanager
def _vendor_errors(what: str, *, secret: str, where: str) -> Iterator[None]:
    """Pinecone's exceptions as ours: unreachable, overloaded or timed out is BackendUnavailable (the sync
    engine records it and retries on its next run); refused credentials or a missing index is a ConfigError."""
    from pinecone.errors.exceptions import (
        ApiError,
        ForbiddenError,
        NotFoundError,
        PineconeConnectionError,
        PineconeError,
        PineconeTimeoutError,
        RateLimitError,
        ServiceError,
        UnauthorizedError,
    )

    try:
        yield
    except (PineconeConnectionError, PineconeTimeoutError, ServiceError, RateLimitError, TimeoutError) as exc:
        raise BackendUnavailable(_message(f"pinecone unavailable ({what})", exc, secret, where)) from None
    except (UnauthorizedError, ForbiddenError) as exc:
        raise ConfigError(_message("SOPHIA_PINECONE_API_KEY: refused by Pinecone", exc, secret, where)) from None
    except NotFoundError as exc:
        raise ConfigError(_message(f"pinecone: index not found ({what})", exc, secret, where)) from None
    except ApiError as exc:
        raise SophiaError(_message(f"pinecone {what} failed", exc, secret, where), code="backend_error") from None
    except PineconeError as exc:
        raise SophiaError(_message(f"pinecone {what} failed", exc, secret, where), code="backend_error") from None


def _message(prefix: str, exc: BaseException, secret: str, where: str) -> str:
    detail = " ".join(str(exc).split())[:300]
    if secret:
        detail = detail.replace(secret, "••••")
    return f"{prefix}: {detail}" + (f" [{where}]" if where and where not in detail else "")
