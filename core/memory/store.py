"""The memories table as a vector store: rows in the operational database, similarity by numpy in memory.

Why not mem0's own stores (measured in ``bench/memory_recall.py`` and ``../shared/reference/agents.md``):
qdrant's local mode scores every point in Python (172 ms p95 at 10,000 memories of one user), FAISS rewrites
its whole index on every add and filters after fetching, so it under-returns when users share an index,
chroma is at 39 ms. Here every memory is a row (so forgetting is a DELETE, on SQLite and PostgreSQL alike,
inside the database's backups and transactions), and a search scores one user's vectors at once: a float32
matrix per user (with each row's payload), kept in process and brought up to date before each search by one
primary-key read of the user's ``memory_versions`` number, which every write of their memories raises in its
own transaction: when it moved, only the rows written since are read (and the user's rows counted: one gone
makes it read them all). The scope (user, then agent and conversation) and the expiry are a mask over that
user's matrix, so a filter can never hide a closer memory of the right scope, nor show one of another user.

Scopes as filters (the keys mem0 passes to ``search``/``list``): ``user_id`` is required; ``agent_id`` and
``run_id`` (conversation) match exactly (mem0's meaning); ``recall_agent`` / ``recall_run`` match that agent
or conversation *or none* (a memory shared by every agent or every conversation): what one agent in one
conversation may recall.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db.batches import in_batches
from core.db.engine import changed_rows
from core.db.models import MemoryRow, MemoryVersion, User
from core.db.probe import short_lock_wait
from core.errors import InvalidInput
from core.memory.items import SCOPE_KEYS, MemoryItem, item_from_row
from core.observability.logging import get_logger
from core.runtime import Runtime

__all__ = ["FILTER_KEYS", "Hit", "MemoryStore", "store_for"]

log = get_logger("memory")

FILTER_KEYS = frozenset({"user_id", "agent_id", "run_id", "recall_agent", "recall_run"})
#: How many users' matrices one process keeps (least recently searched dropped first): 10,000 memories are
#: 15 MB of float32 vectors.
CACHED_USERS = 32
#: The longest a recall waits for the write lock before it skips stamping ``last_recalled_at`` (bookkeeping
#: must not hold a conversation up behind a sync).
RECALL_STAMP_WAIT_MS = 50
#: How long a user found in the users table is taken to exist without asking again.
USER_CHECK_TTL_S = 60.0
NO_EXPIRY = np.iinfo(np.int32).max
_COLUMNS = [c for c in MemoryRow.__table__.columns if c.name not in ("embedding",)]


@dataclass
class Hit:
    """One memory as mem0 reads a vector store's answer: ``id``, ``score`` and ``payload``."""

    id: str
    score: float | None
    payload: dict[str, Any]


@dataclass
class _UserMatrix:
    """One user's vectors and the scope of each row, as arrays for masking."""

    ids: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)  # each row as mem0's payload (no SQL per search)
    matrix: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    agents: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))  # code per row, -1 none
    runs: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    expires: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))  # date ordinal, NO_EXPIRY
    codes: dict[str, int] = field(default_factory=dict)  # agent and conversation names -> codes
    version: int | None = None  # the user's memory_versions number the matrix is up to date with

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        return self.codes.setdefault(name, len(self.codes))


class MemoryStore:
    """The ``memories`` table with one process's recall cache. One per runtime (``store_for``); thread-safe."""

    def __init__(self, runtime: Runtime, *, model_name: str, dim: int) -> None:
        self._runtime = weakref.ref(runtime)  # the runtime owns the store (store_for), not the other way round
        self.model_name = model_name
        self.dim = dim
        self._users: OrderedDict[str, _UserMatrix] = OrderedDict()
        self._users_seen: dict[str, float] = {}  # user -> when they were last found in the users table
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime()
        if runtime is None:
            raise RuntimeError("the runtime of this memory store is gone")
        return runtime

    # ---- writing ------------------------------------------------------------------------------------------

    def insert(self, vectors: Sequence[Any], payloads: Sequence[Mapping[str, Any]], ids: Sequence[str]) -> None:
        """Store memories in mem0's shape (``payload["data"]`` the text, ``user_id`` required)."""
        if not (len(vectors) == len(payloads) == len(ids)):
            raise ValueError("vectors, payloads and ids differ in length")
        now = self.runtime.clock.now()
        rows = [
            {
                "id": str(i),
                **_columns_from_payload(p),
                "embedding": self._blob(v),
                "embedding_model": self.model_name,
                "created_at": now,
                "updated_at": now,
                "recall_count": 0,
            }
            for v, p, i in zip(vectors, payloads, ids)
        ]
        if rows:
            with self.runtime.session() as session:
                versions = {u: _raise_version(session, u) for u in sorted({r["username"] for r in rows})}
                session.execute(insert(MemoryRow), [{**r, "version": versions[r["username"]]} for r in rows])

    def update(self, memory_id: str, vector: Any | None = None, payload: Mapping[str, Any] | None = None) -> None:
        """Replace a memory's vector and/or payload (its user never changes)."""
        values: dict[str, Any] = {"updated_at": self.runtime.clock.now()}
        if vector is not None:
            values.update(embedding=self._blob(vector), embedding_model=self.model_name)
        if payload is not None:
            columns = _columns_from_payload(payload)
            columns.pop("username")
            values.update(columns)
        with self.runtime.session() as session:
            user = session.scalar(select(MemoryRow.username).where(MemoryRow.id == memory_id))
            if user is not None:
                values["version"] = _raise_version(session, user)
                session.execute(update(MemoryRow).where(MemoryRow.id == memory_id).values(**values))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete these memories (really: the rows are gone); how many there were."""
        ids = list(dict.fromkeys(ids))
        deleted = 0
        with self.runtime.session() as session:
            for batch in in_batches(ids):
                users = set(session.scalars(select(MemoryRow.username).where(MemoryRow.id.in_(batch)).distinct()))
                for user in sorted(users):
                    _raise_version(session, user)
                deleted += changed_rows(session, delete(MemoryRow).where(MemoryRow.id.in_(batch)))
        self._drop_cached(ids)
        return deleted

    def recalled(self, ids: Sequence[str], now: datetime) -> dict[str, Row[Any]]:
        """Stamp these memories recalled (``last_recalled_at`` = now, one more ``recall_count``) and return
        their rows as stamped, by id: one UPDATE ... RETURNING in a short transaction of its own. When the
        database is busy past ``RECALL_STAMP_WAIT_MS`` the stamp is skipped (bookkeeping must not hold a
        conversation up) and the rows are read as they are."""
        if not ids:
            return {}
        try:
            with self.runtime.engine.connect() as conn:
                with short_lock_wait(conn, RECALL_STAMP_WAIT_MS):
                    stamped = conn.execute(
                        update(MemoryRow)
                        .where(MemoryRow.id.in_(list(ids)))
                        .values(last_recalled_at=now, recall_count=MemoryRow.recall_count + 1)
                        .returning(*_COLUMNS)
                    ).all()
                    conn.commit()
            return {row.id: row for row in stamped}
        except DBAPIError as exc:
            log.info("memory recall not stamped", reason=str(exc.orig).splitlines()[0][:200])
        return self.rows(ids)

    def user_exists(self, user: str) -> bool:
        """Whether ``user`` is a Sophia user; a yes is remembered for ``USER_CHECK_TTL_S`` (a user deleted in
        that time has no memories left to return: theirs are deleted with them)."""
        now = time.monotonic()
        seen = self._users_seen.get(user)
        if seen is not None and now - seen < USER_CHECK_TTL_S:
            return True
        with self.runtime.engine.connect() as conn:
            found = conn.scalar(select(User.id).where(User.username == user)) is not None
        if found:
            if len(self._users_seen) > 10_000:
                self._users_seen.clear()
            self._users_seen[user] = now
        return found

    def _blob(self, vector: Any) -> bytes:
        v = np.asarray(vector, dtype="<f4").reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"a vector of {v.shape[0]} dimensions; this store holds {self.dim}")
        return v.tobytes()

    # ---- reading ------------------------------------------------------------------------------------------

    def rows(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        """The rows of these ids that exist (without their vectors), by id."""
        out: dict[str, Row[Any]] = {}
        with self.runtime.engine.connect() as conn:
            for batch in in_batches(list(ids)):
                for row in conn.execute(select(*_COLUMNS).where(MemoryRow.id.in_(batch))):
                    out[row.id] = row
        return out

    def get(self, memory_id: str) -> MemoryItem | None:
        row = self.rows([memory_id]).get(memory_id)
        return None if row is None else item_from_row(row._mapping)

    def get_hit(self, memory_id: str) -> Hit | None:
        row = self.rows([memory_id]).get(memory_id)
        return None if row is None else Hit(id=row.id, score=None, payload=payload_of(row._mapping))

    def list_rows(
        self, filters: Mapping[str, Any], *, limit: int | None = None, today: date | None = None
    ) -> list[Row]:
        """The rows in this scope, newest first (``today``: only those not expired by then)."""
        stmt = select(*_COLUMNS).where(*_sql_scope(filters)).order_by(MemoryRow.created_at.desc(), MemoryRow.id)
        if today is not None:
            stmt = stmt.where((MemoryRow.expires_on.is_(None)) | (MemoryRow.expires_on >= today))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.runtime.engine.connect() as conn:
            return list(conn.execute(stmt))

    def search(self, vector: Any, filters: Mapping[str, Any], *, top_k: int, today: date) -> list[Hit]:
        """The ``top_k`` closest memories in this scope that have not expired by ``today``, closest first, with
        their cosine similarity as the score and their payload (a copy) as mem0 reads it."""
        user = _required_user(filters)
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        with self._lock:
            m = self._fresh(user)
            if not m.ids or top_k <= 0:
                return []
            mask = m.expires >= today.toordinal()
            mask &= _scope_mask(m.agents, m, filters.get("agent_id"), filters.get("recall_agent"))
            mask &= _scope_mask(m.runs, m, filters.get("run_id"), filters.get("recall_run"))
            candidates = np.flatnonzero(mask)
            if candidates.size == 0:
                return []
            # numpy's own loop on one thread, not ``@``: OpenBLAS threads a matrix-vector product, and on 2 busy
            # cores 10,000 x 384 took 0.1 ms at best but 8 ms at the median, 12 ms at p95; einsum 0.6 / 0.8 ms
            picked = np.einsum("ij,j->i", m.matrix, q)[candidates]
            if candidates.size > top_k:
                part = np.argpartition(-picked, top_k - 1)[:top_k]
                candidates, picked = candidates[part], picked[part]
            order = np.argsort(-picked, kind="stable")
            return [
                Hit(id=m.ids[j], score=float(picked[i]), payload=dict(m.payloads[j]))
                for i, j in ((int(i), int(candidates[i])) for i in order)
            ]

    # ---- the per-user matrices ------------------------------------------------------------------------------

    def _fresh(self, user: str) -> _UserMatrix:
        """The user's matrix, brought up to date with the table (call with the lock held)."""
        with self.runtime.engine.connect() as conn:
            # read first: rows written after this read have a higher version and are read again next time
            version = conn.scalar(select(MemoryVersion.version).where(MemoryVersion.username == user))
            m = self._users.get(user)
            if m is not None and m.version == version:
                self._users.move_to_end(user)
                return m
            if m is not None and m.version is not None and version is not None:
                self._merge(m, conn.execute(_vector_rows(user).where(MemoryRow.version > m.version)).all())
                count = conn.scalar(select(func.count()).where(MemoryRow.username == user))
                if len(m.ids) == count:  # none was deleted elsewhere
                    m.version = version
                    self._users.move_to_end(user)
                    return m
            m = _UserMatrix(matrix=np.empty((0, self.dim), np.float32))
            self._merge(m, conn.execute(_vector_rows(user)).all())
            m.version = version
        self._users[user] = m
        self._users.move_to_end(user)
        while len(self._users) > CACHED_USERS:
            self._users.popitem(last=False)
        return m

    def _merge(self, m: _UserMatrix, rows: Sequence[Row[Any]]) -> None:
        """Add new rows to the matrix and overwrite changed ones in place."""
        position = {memory_id: i for i, memory_id in enumerate(m.ids)}
        fresh: list[Row[Any]] = []
        for row in rows:
            i = position.get(row.id)
            if i is None:
                fresh.append(row)
                continue
            m.matrix[i] = self._vector(row)
            m.payloads[i] = payload_of(row._mapping)
            m.agents[i], m.runs[i] = m.code(row.agent), m.code(row.conversation)
            m.expires[i] = row.expires_on.toordinal() if row.expires_on else NO_EXPIRY
        if not fresh:
            return
        block = np.frombuffer(b"".join(self._vector(r).tobytes() for r in fresh), dtype="<f4")
        block = block.reshape(len(fresh), self.dim)
        m.matrix = np.vstack([m.matrix, block]) if len(m.ids) else block.copy()
        m.agents = np.concatenate([m.agents, np.array([m.code(r.agent) for r in fresh], np.int32)])
        m.runs = np.concatenate([m.runs, np.array([m.code(r.conversation) for r in fresh], np.int32)])
        expiry = [r.expires_on.toordinal() if r.expires_on else NO_EXPIRY for r in fresh]
        m.expires = np.concatenate([m.expires, np.array(expiry, np.int32)])
        m.ids.extend(r.id for r in fresh)
        m.payloads.extend(payload_of(r._mapping) for r in fresh)

    def _vector(self, row: Row[Any]) -> np.ndarray:
        """A row's vector; a zero vector (never recalled) for one embedded by another model, which this
        process cannot compare (memories are always embedded by the local model, so this is a guard only)."""
        if row.embedding_model != self.model_name or len(row.embedding) != 4 * self.dim:
            log.warning("memory embedded by another model is not recalled", id=row.id, model=row.embedding_model)
            return np.zeros(self.dim, np.float32)
        return np.frombuffer(row.embedding, dtype="<f4")

    def _drop_cached(self, ids: Sequence[str]) -> None:
        """Take deleted memories out of the cached matrices, so a forget costs no re-read of the user's rows."""
        gone = set(ids)
        with self._lock:
            for m in self._users.values():
                keep = np.fromiter((i not in gone for i in m.ids), dtype=bool, count=len(m.ids))
                removed = int((~keep).sum())
                if not removed:
                    continue
                m.ids = [i for i in m.ids if i not in gone]
                m.payloads = [p for p, k in zip(m.payloads, keep) if k]
                m.matrix, m.agents, m.runs, m.expires = m.matrix[keep], m.agents[keep], m.runs[keep], m.expires[keep]


# ---- helpers -----------------------------------------------------------------------------------------------


def _raise_version(session: Session, user: str) -> int:
    """Raise the user's memory version (in the caller's transaction, holding its row until commit); the new one."""
    insert_ = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert_(MemoryVersion).values(username=user, version=1)
    stmt = stmt.on_conflict_do_update(index_elements=["username"], set_={"version": MemoryVersion.version + 1})
    return int(session.execute(stmt.returning(MemoryVersion.version)).scalar_one())


def _vector_rows(user: str) -> Any:
    """A user's rows as the recall cache keeps them: vector, scope and payload."""
    return select(*_COLUMNS, MemoryRow.embedding).where(MemoryRow.username == user)


def _required_user(filters: Mapping[str, Any]) -> str:
    unknown = sorted(set(filters) - FILTER_KEYS)
    if unknown:
        raise InvalidInput(f"memory filter {unknown[0]!r} is not supported (only {', '.join(sorted(FILTER_KEYS))})")
    user = filters.get("user_id")
    if not isinstance(user, str) or not user:
        raise InvalidInput("a memory search is always for one user: user_id is required")
    return user


def _sql_scope(filters: Mapping[str, Any]) -> list[Any]:
    """The WHERE clauses of a scope (see the module notes)."""
    clauses: list[Any] = [MemoryRow.username == _required_user(filters)]
    for column, exact, shared in (
        (MemoryRow.agent, "agent_id", "recall_agent"),
        (MemoryRow.conversation, "run_id", "recall_run"),
    ):
        if filters.get(exact) is not None:
            clauses.append(column == filters[exact])
        if filters.get(shared) is not None:
            clauses.append(column.is_(None) | (column == filters[shared]))
    return clauses


def _scope_mask(codes: np.ndarray, m: _UserMatrix, exact: str | None, shared: str | None) -> np.ndarray:
    mask = np.ones(codes.shape[0], dtype=bool)
    if exact is not None:
        mask &= codes == m.codes.get(exact, -2)
    if shared is not None:
        mask &= (codes == -1) | (codes == m.codes.get(shared, -2))
    return mask


def _columns_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """mem0's payload split into our columns; mem0's other keys and the caller's metadata stay in ``payload``."""
    user = payload.get("user_id")
    if not isinstance(user, str) or not user:
        raise InvalidInput("every memory belongs to one user: user_id is required")
    text = payload.get("data")
    if not isinstance(text, str):
        raise InvalidInput("a memory needs its text (payload 'data')")
    expiry = payload.get("expiration_date")
    return {
        "username": user,
        "agent": payload.get("agent_id") or None,
        "conversation": payload.get("run_id") or None,
        "category": payload.get("category") or None,
        "text": text,
        "expires_on": date.fromisoformat(str(expiry)) if expiry else None,
        "payload": {k: v for k, v in payload.items() if k not in SCOPE_KEYS and k != "text_lemmatized"},
    }


def payload_of(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as mem0's payload: its keys as mem0 wrote them, with the scope, text and dates."""
    payload = dict(row["payload"] or {})
    payload.update(
        data=row["text"],
        user_id=row["username"],
        created_at=row["created_at"].isoformat(),
        updated_at=row["updated_at"].isoformat(),
    )
    for key, column in (("agent_id", "agent"), ("run_id", "conversation"), ("category", "category")):
        if row[column] is not None:
            payload[key] = row[column]
    if row["expires_on"] is not None:
        payload["expiration_date"] = row["expires_on"].isoformat()
    return payload


# ---- one store per runtime -----------------------------------------------------------------------------------

_stores: dict[int, tuple[weakref.ref[Runtime], MemoryStore]] = {}
_stores_lock = threading.Lock()


def store_for(runtime: Runtime) -> MemoryStore:
    """This runtime's store (one per runtime, so its cache is shared by every caller in the process)."""
    from core.memory.embedding import memory_embedder

    with _stores_lock:
        entry = _stores.get(id(runtime))
        if entry is not None and entry[0]() is runtime:
            return entry[1]
        embedder = memory_embedder()
        store = MemoryStore(runtime, model_name=embedder.model_name, dim=embedder.dim)
        key = id(runtime)

        def forget(_ref: weakref.ref[Runtime]) -> None:
            _stores.pop(key, None)

        _stores[key] = (weakref.ref(runtime, forget), store)
        return store
