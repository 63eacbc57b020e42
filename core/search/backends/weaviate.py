"""Weaviate as a vector backend, through the official ``weaviate-client`` v4.

One collection (``SophiaChunk``) holds one object per chunk: a self-provided vector (no vectorizer) in the
named vector ``default`` with cosine distance, and the properties search filters on. Object ids are
deterministic (uuid5 of the chunk id), so writing a chunk twice replaces it. The client speaks REST for
the schema (create/get/delete the collection, meta) and gRPC for everything else: batch writes
(``BatchObjects``), deletes (``BatchDelete``), searches and the id iterator (``Search``) and counts
(``Aggregate``).

Nothing touches the network until first use (so a backend that is down never stops the product from
starting); the client is built with ``skip_init_checks`` so connecting makes no call to PyPI and no OIDC
discovery, and ``ping`` checks the server over REST before any gRPC call, because the client retries an
unreachable gRPC server with exponential back-off for up to a minute.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from core.errors import BackendUnavailable, ConfigError, SophiaError
from core.search.backends.base import BackendKey, ChunkVector, VectorFilter, chunk_id_of

T = TypeVar("T")

COLLECTION = "SophiaChunk"
VECTOR_NAME = "default"
#: Objects per BatchObjects call: 200 x 384 floats with properties is about 0.4 MB, far under gRPC's limit.
UPSERT_BATCH = 200
#: Ids per BatchDelete filter (an id ContainsAny list); Weaviate caps one delete at 10,000 matches.
DELETE_BATCH = 500
#: Objects per page of the id iterator (Weaviate's default QUERY_MAXIMUM_RESULTS is 10,000).
ITER_PAGE = 1000
DEFAULT_GRPC_PORT = 50051
DEFAULT_TIMEOUT_S = 15.0
#: uuid5 namespace of chunk object ids; changing it would orphan every object already stored.
CHUNK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://sophia.payready.com/search/chunks")
PROPERTIES = ("chunk_id", "document_id", "source", "type", "account_id", "owner", "occurred_at", "min_role")


def chunk_uuid(chunk_id: int) -> uuid.UUID:
    return uuid.uuid5(CHUNK_NAMESPACE, str(int(chunk_id)))


def _ours(obj: Any) -> int | None:
    """The chunk id of an object Sophia wrote (a chunk id under the object id derived from it), else None."""
    cid = chunk_id_of(obj.properties.get("chunk_id"))
    return cid if cid is not None and str(obj.uuid) == str(chunk_uuid(cid)) else None


def _object_uuid(key: BackendKey) -> uuid.UUID:
    """The object id of a chunk, or of a foreign object (its uuid, as ``ids`` gave it)."""
    return chunk_uuid(key) if isinstance(key, int) else uuid.UUID(key)


class WeaviateBackend:
    name = "weaviate"

    def __init__(
        self,
        *,
        url: str,
        dim: int,
        grpc_port: int = DEFAULT_GRPC_PORT,
        api_key: str | None = None,
        collection: str = COLLECTION,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("SOPHIA_WEAVIATE_URL: must be an http:// or https:// URL, e.g. http://127.0.0.1:8080")
        self.dim = dim
        self._secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._secure else 80)
        self._grpc_port = int(grpc_port)
        self._api_key = api_key or None
        self._collection_name = collection
        self._timeout_s = timeout_s
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.Lock()

    # ---- connection -------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        import weaviate
        from weaviate.classes.init import AdditionalConfig, Auth, Timeout

        with self._lock:
            if self._client is None:
                self._client = self._call(
                    "connect",
                    lambda: weaviate.connect_to_custom(
                        http_host=self._host,
                        http_port=self._port,
                        http_secure=self._secure,
                        grpc_host=self._host,
                        grpc_port=self._grpc_port,
                        grpc_secure=self._secure,
                        auth_credentials=Auth.api_key(self._api_key) if self._api_key else None,
                        additional_config=AdditionalConfig(
                            timeout=Timeout(
                                init=min(5.0, self._timeout_s), query=self._timeout_s, insert=self._timeout_s
                            )
                        ),
                        skip_init_checks=True,
                    ),
                )
            return self._client

    def _coll(self) -> Any:
        client = self._connect()
        if self._collection is None:
            self._collection = self._call("schema", lambda: self._ensure_collection(client))
        return self._collection

    def _ensure_collection(self, client: Any) -> Any:
        from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
        from weaviate.exceptions import UnexpectedStatusCodeError

        name = self._collection_name
        if not client.collections.exists(name):
            try:
                client.collections.create(
                    name,
                    properties=[
                        Property(name="chunk_id", data_type=DataType.INT),
                        Property(name="document_id", data_type=DataType.INT),
                        Property(name="source", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                        Property(name="type", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                        Property(name="account_id", data_type=DataType.INT),
                        Property(name="owner", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                        Property(name="occurred_at", data_type=DataType.DATE),
                        Property(name="min_role", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                    ],
                    vector_config=Configure.Vectors.self_provided(
                        name=VECTOR_NAME,
                        vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
                    ),
                )
            except UnexpectedStatusCodeError:
                if not client.collections.exists(name):  # another process may have created it first
                    raise
        return client.collections.use(name)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with _vendor_errors(what, secret=self._api_key or "", where=f"{self._host}:{self._port}"):
            return fn()

    def ping(self) -> None:
        client = self._connect()
        self._call("meta", client.get_meta)  # REST: fails fast when the server is down
        self._coll()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:  # closing a connection that already broke; nothing to report
                    pass
            self._client = self._collection = None

    # ---- writes ---------------------------------------------------------------------------------------------

    def upsert(self, items: Sequence[ChunkVector]) -> None:
        from weaviate.classes.data import DataObject

        coll = self._coll()
        for start in range(0, len(items), UPSERT_BATCH):
            objects = [
                DataObject(
                    properties=_properties(item),
                    uuid=chunk_uuid(item.chunk_id),
                    vector={VECTOR_NAME: _floats(item.vector, self.dim, item.chunk_id)},
                )
                for item in items[start : start + UPSERT_BATCH]
            ]
            res = self._call("batch objects", lambda: coll.data.insert_many(objects))
            if res.has_errors:
                first = next(iter(res.errors.values()))
                raise SophiaError(
                    f"weaviate refused {len(res.errors)} of {len(objects)} objects: {first.message}",
                    code="backend_error",
                )

    def delete(self, chunk_ids: Sequence[BackendKey]) -> None:
        from weaviate.classes.query import Filter

        coll = self._coll()
        ids = list(chunk_ids)
        for start in range(0, len(ids), DELETE_BATCH):
            uuids = [_object_uuid(i) for i in ids[start : start + DELETE_BATCH]]
            res = self._call("batch delete", lambda: coll.data.delete_many(where=Filter.by_id().contains_any(uuids)))
            if res.failed:
                raise SophiaError(f"weaviate failed to delete {res.failed} objects", code="backend_error")

    def clear(self) -> None:
        client = self._connect()
        self._call("delete collection", lambda: client.collections.delete(self._collection_name))
        self._collection = None
        self._coll()

    # ---- reads ----------------------------------------------------------------------------------------------

    def query(self, vector: np.ndarray, *, k: int, where: VectorFilter | None = None) -> list[tuple[int, float]]:
        from weaviate.classes.query import MetadataQuery

        coll = self._coll()
        res = self._call(
            "search",
            lambda: coll.query.near_vector(
                near_vector=_floats(vector, self.dim),
                limit=k,
                filters=weaviate_filter(where),
                target_vector=VECTOR_NAME,
                return_properties=["chunk_id"],
                return_metadata=MetadataQuery(distance=True),
            ),
        )
        # cosine distance is 1 - cosine similarity
        hits = [(_ours(o), 1.0 - float(o.metadata.distance)) for o in res.objects]
        return [(cid, score) for cid, score in hits if cid is not None]  # a foreign object is no result

    def count(self) -> int:
        coll = self._coll()
        res = self._call("aggregate", lambda: coll.aggregate.over_all(total_count=True))
        return int(res.total_count or 0)

    def ids(self) -> Iterator[BackendKey]:
        coll = self._coll()
        objects = self._call(
            "iterate", lambda: iter(coll.iterator(return_properties=["chunk_id"], cache_size=ITER_PAGE))
        )
        done: Any = object()
        while (obj := self._call("iterate", lambda: next(objects, done))) is not done:
            cid = _ours(obj)
            yield cid if cid is not None else str(obj.uuid)

    def fetch(self, chunk_ids: Sequence[int]) -> dict[int, ChunkVector]:
        """The stored vector and properties of these chunks (absent ids are left out): reconcile's spot-check."""
        from weaviate.classes.query import Filter

        coll = self._coll()
        found: dict[int, ChunkVector] = {}
        ids = list(chunk_ids)
        for start in range(0, len(ids), ITER_PAGE):
            uuids = [chunk_uuid(i) for i in ids[start : start + ITER_PAGE]]
            res = self._call(
                "search",
                lambda: coll.query.fetch_objects(
                    filters=Filter.by_id().contains_any(uuids),
                    limit=len(uuids),
                    include_vector=[VECTOR_NAME],
                    return_properties=list(PROPERTIES),
                ),
            )
            for obj in res.objects:
                if chunk_id_of(obj.properties.get("chunk_id")) is not None:
                    item = _from_object(obj.properties, obj.vector.get(VECTOR_NAME))
                    found[item.chunk_id] = item
        return found


# ---- mapping --------------------------------------------------------------------------------------------------


def _floats(vector: np.ndarray, dim: int, chunk_id: int | None = None) -> list[float]:
    arr = np.asarray(vector, dtype=np.float32)
    if arr.shape != (dim,):
        what = f"chunk {chunk_id}" if chunk_id is not None else "the query"
        raise SophiaError(f"weaviate: {what} has a vector of shape {arr.shape}, expected ({dim},)")
    return arr.tolist()


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _properties(item: ChunkVector) -> dict[str, Any]:
    # a missing value is left out (a batch write replaces the whole object, so an old value goes with it)
    props: dict[str, Any] = {
        "chunk_id": int(item.chunk_id),
        "document_id": int(item.document_id),
        "source": item.source,
        "type": item.type,
        "min_role": item.min_role,
    }
    if item.account_id is not None:
        props["account_id"] = int(item.account_id)
    if item.owner is not None:
        props["owner"] = item.owner
    if item.occurred_at is not None:
        props["occurred_at"] = _utc(item.occurred_at)
    return props


def _from_object(props: dict[str, Any], vector: Sequence[float] | None) -> ChunkVector:
    occurred = props.get("occurred_at")
    account = props.get("account_id")
    return ChunkVector(
        chunk_id=chunk_id_of(props.get("chunk_id")) or 0,
        vector=np.asarray(vector if vector is not None else [], dtype=np.float32),
        document_id=chunk_id_of(props.get("document_id")) or 0,  # malformed: differs, so reconcile re-pushes
        source=str(props.get("source") or ""),
        type=str(props.get("type") or ""),
        account_id=chunk_id_of(account) if account is not None else None,
        owner=props.get("owner"),
        occurred_at=_utc(occurred) if isinstance(occurred, datetime) else None,
        min_role=str(props.get("min_role") or "viewer"),
    )


def weaviate_filter(where: VectorFilter | None) -> Any:
    """A weaviate ``Filter`` for a VectorFilter (all conditions ANDed), or None."""
    from weaviate.classes.query import Filter

    if where is None:
        return None
    parts: list[Any] = []

    def any_of(prop: str, values: Sequence[Any]) -> None:
        if len(values) == 1:
            parts.append(Filter.by_property(prop).equal(values[0]))
        elif values:
            parts.append(Filter.by_property(prop).contains_any(list(values)))

    any_of("source", list(where.sources))
    any_of("type", list(where.types))
    any_of("account_id", [int(a) for a in where.account_ids])
    if where.owner is not None:
        parts.append(Filter.by_property("owner").equal(where.owner))
    if where.since is not None:
        parts.append(Filter.by_property("occurred_at").greater_or_equal(_utc(where.since)))
    if where.until is not None:
        parts.append(Filter.by_property("occurred_at").less_or_equal(_utc(where.until)))
    any_of("min_role", list(where.roles))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


# ---- errors -----------------------------------------------------------------------------------------------------


@contextmanager
def _vendor_errors(what: str, *, secret: str, where: str) -> Iterator[None]:
    """weaviate-client's exceptions as ours: unreachable, overloaded or timed out is BackendUnavailable (the
    sync engine records it and retries on its next run); refused credentials is a ConfigError."""
    import grpc
    from weaviate.exceptions import (
        AuthenticationFailedError,
        InsufficientPermissionsError,
        UnexpectedStatusCodeError,
        WeaviateBaseError,
        WeaviateConnectionError,
        WeaviateGRPCUnavailableError,
        WeaviateRetryError,
        WeaviateStartUpError,
        WeaviateTimeoutError,
    )

    try:
        yield
    except (
        WeaviateConnectionError,
        WeaviateStartUpError,
        WeaviateTimeoutError,
        WeaviateGRPCUnavailableError,
        WeaviateRetryError,
    ) as exc:
        raise BackendUnavailable(_message(f"weaviate unavailable ({what})", exc, secret, where)) from None
    except (AuthenticationFailedError, InsufficientPermissionsError) as exc:
        raise ConfigError(_message("SOPHIA_WEAVIATE_API_KEY: refused by Weaviate", exc, secret, where)) from None
    except UnexpectedStatusCodeError as exc:
        status = getattr(exc, "status_code", 0) or 0
        if status in (401, 403):
            raise ConfigError(_message("SOPHIA_WEAVIATE_API_KEY: refused by Weaviate", exc, secret, where)) from None
        if status >= 500 or status in (408, 429):
            raise BackendUnavailable(_message(f"weaviate unavailable ({what})", exc, secret, where)) from None
        raise SophiaError(_message(f"weaviate {what} failed", exc, secret, where), code="backend_error") from None
    except WeaviateBaseError as exc:
        if _transient(exc):
            raise BackendUnavailable(_message(f"weaviate unavailable ({what})", exc, secret, where)) from None
        raise SophiaError(_message(f"weaviate {what} failed", exc, secret, where), code="backend_error") from None
    except grpc.RpcError as exc:  # a gRPC error the client passed through unwrapped
        raise BackendUnavailable(_message(f"weaviate unavailable ({what})", exc, secret, where)) from None


def _transient(exc: BaseException) -> bool:
    """Query/batch/delete errors wrap the gRPC status in their text: UNAVAILABLE and DEADLINE_EXCEEDED
    are the server being down or slow, not a bad request."""
    text = str(exc)
    return any(
        code in text
        for code in (
            "UNAVAILABLE",
            "DEADLINE_EXCEEDED",
            "Deadline Exceeded",
            "failed to connect",
            "Connection refused",
            "Socket closed",
        )
    )


def _message(prefix: str, exc: BaseException, secret: str, where: str) -> str:
    detail = " ".join(str(exc).split())[:300]
    if secret:
        detail = detail.replace(secret, "••••")
    return f"{prefix}: {detail} [{where}]"
