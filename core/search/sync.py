"""Vector synchronization: every enabled backend kept in line with the chunks table, which is the truth.

The indexing code writes each chunk insert/update/delete together with a ``chunk_changes`` row in one
transaction. Per backend, ``index_sync_state`` records how far that backend has consumed the log.

- ``sync_backend`` reads the changes after the backend's position in batches, keeps the latest operation per
  chunk, and pushes it: an upsert reads the chunk's vector and metadata (chunks JOIN documents) as they are
  *now* (a chunk that is gone, or has no vector, is deleted instead), a delete removes it. The position
  advances in the transaction that records the batch's success; the last batch of a run also records
  ``chunks_indexed``, the backend's own count (beside the table's count it shows drift). When the backend fails
  (down, 5xx, timeouts) the error is recorded with its time and the position does not move: ingestion never
  waits for a backend, nothing is lost, and the next run catches up.
- A backend at position 0 (never synced, or a rebuild that did not finish) gets a full push of every chunk
  instead of a replay of the whole log, then continues from the log position read before the push began.
- ``rebuild`` clears a backend and pushes every chunk; ``reconcile`` catches up, compares the backend's ids
  with the table's (pushes the missing, deletes the extra) and spot-checks a sample of stored vectors and
  metadata against the table (re-pushing stale ones) when the backend can return them (``fetch``).
- ``index_status`` reads only the database, so it answers while a backend is down: a backend with an error
  and a growing ``pending`` is the alert-worthy state.
- ``prune_changes`` (housekeeping) deletes the log rows every enabled backend has consumed once they are older
  than ``PRUNE_KEEP_S`` (but never the newest row: SQLite would reuse the ids of an emptied table), and records
  the highest id deleted as the log's floor (a ``meta`` row). A backend whose
  position is below the floor (one that was disabled meanwhile, or a full push that started before the rows
  it needed were pruned) cannot replay the log, so its next sync is a full push instead.

Runs of one backend are serialised by a lease (``core.leases``, on its ``index_sync_state`` row, renewed
per batch): the scheduler, the CLI and
a rebuild never push the same backend at once, so an old upsert can never land after a newer delete.

Change ids come from an auto-increment key, which on PostgreSQL is not in commit order: a change can be
committed after a higher id is already visible. A run therefore never advances past a hole in the ids that
is younger than ``GAP_GRACE_S`` (an insert still in flight); an older hole is a rolled-back insert. A
writing transaction held open longer than that could still slip behind a backend's position; reconcile's
id comparison and vector spot-check are the safety net for it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.batches import in_batches
from core.db.engine import changed_rows
from core.db.models import Chunk, ChunkChange, Document, IndexSyncState, Meta
from core.db.types import utcnow
from core.errors import Conflict, SophiaError
from core.leases import Lease, LeaseSlot
from core.observability.logging import get_logger
from core.search.backends.base import BackendKey, ChunkVector, VectorBackend

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = [
    "RebuildReport",
    "ReconcileReport",
    "SupportsFetch",
    "SyncReport",
    "index_status",
    "pending_count",
    "prune_changes",
    "rebuild",
    "reconcile",
    "sync_all",
    "sync_backend",
    "table_counts",
    "vector_count",
]

Progress = Callable[[int, int, str], None]

DEFAULT_BATCH = 500
#: A run's lease on its backend; renewed after every batch, so only a run that died holds it this long.
LEASE_S = 300
#: How long a hole in the change ids may be an insert still in flight (see the module notes).
GAP_GRACE_S = 60
#: Chunks whose stored vector and metadata reconcile compares with the table by default.
DEFAULT_SAMPLE = 256
#: Vectors read back from a backend may differ from the stored float32 by rounding in transit.
VECTOR_ATOL = 1e-6
ERROR_MAX = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The ``meta`` row holding the highest chunk_changes id pruned (every id at or below it is gone).
FLOOR_KEY = "chunk_changes_floor"
#: Consumed changes are kept this long (what changed recently stays readable; a full push never races it).
PRUNE_KEEP_S = 24 * 3600
PRUNE_BATCH = 50_000

log = get_logger("search.sync")


@runtime_checkable
class SupportsFetch(Protocol):
    """A backend that can return what it stores for given chunks (Pinecone, Weaviate): reconcile uses it
    to spot-check stored vectors and metadata. Optional; a candidate for ``VectorBackend`` itself."""

    def fetch(self, chunk_ids: Sequence[int]) -> dict[int, ChunkVector]: ...


@dataclass
class SyncReport:
    backend: str
    upserted: int = 0
    deleted: int = 0
    position: int = 0  # the change id the backend has consumed up to
    pending: int = 0  # chunks with changes after it (collapsed per chunk)
    full_push: bool = False  # position was 0: every chunk was pushed
    error: str | None = None  # set when the run failed; the position did not move
    skipped: str | None = None  # another run of this backend held its lease
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None


@dataclass
class RebuildReport:
    backend: str
    pushed: int = 0
    position: int = 0
    seconds: float = 0.0


@dataclass
class ReconcileReport:
    backend: str
    chunks: int = 0  # chunks with a vector in the table
    backend_count: int = 0  # ids the backend held before repairs
    missing: list[int] = field(default_factory=list)  # in the table, not the backend: pushed
    extra: list[BackendKey] = field(default_factory=list)  # in the backend, not the table (or foreign): deleted
    checked: int = 0  # stored vectors and metadata compared with the table
    stale: list[int] = field(default_factory=list)  # differed: pushed again
    seconds: float = 0.0

    @property
    def repaired(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.stale)


# ---- the public entry points ----------------------------------------------------------------------------


def sync_backend(
    *, runtime: Runtime, backend: VectorBackend, batch: int = DEFAULT_BATCH, progress: Progress | None = None
) -> SyncReport:
    """Push the chunk changes this backend has not seen. Never raises for a backend failure: the error is
    recorded on the backend's state (and in the report) and its position stays where it was."""
    started = time.monotonic()
    report = SyncReport(backend.name)
    try:
        lease = _take_lease(runtime, backend.name)
    except Conflict as exc:
        report.skipped = exc.message
        _finish(runtime, report, started)
        return report
    try:
        backend.ping()
        position = _ensure_state(runtime, backend.name).last_change_id
        with runtime.session() as session:
            behind_floor = position < _floor(session)
        if position == 0 or behind_floor:  # never synced, or the changes it needs were pruned
            report.full_push = True
            report.upserted, report.deleted, report.position = _full_push(
                runtime, backend, lease, batch, progress, clear=False
            )
        else:
            _replay(runtime, backend, lease, position, batch, progress, report)
    except Exception as exc:  # noqa: BLE001 - a backend failure is recorded, never raised into ingestion's way
        report.error = _describe(exc)
        _record_error(runtime, backend.name, report.error)
        if isinstance(exc, SophiaError):  # expected (a backend down): the caller reports it, the state shows it
            log.info("vector sync failed", backend=backend.name, error=report.error)
        else:
            log.exception("vector sync failed unexpectedly", backend=backend.name)
    finally:
        lease.release()
    _finish(runtime, report, started)
    return report


def sync_all(*, runtime: Runtime, backends: Sequence[VectorBackend], batch: int = DEFAULT_BATCH) -> list[SyncReport]:
    """``sync_backend`` for each backend in turn; one that fails does not stop the others."""
    return [sync_backend(runtime=runtime, backend=b, batch=batch) for b in backends]


def sync_enabled(*, runtime: Runtime) -> list[SyncReport]:
    """Push pending chunk changes to every backend in SOPHIA_VECTOR_BACKENDS (opened and closed here)."""
    from core.search.backends.registry import make_backends

    backends = make_backends(runtime.settings)
    try:
        return sync_all(runtime=runtime, backends=backends)
    finally:
        for backend in backends:
            backend.close()


def rebuild(
    *, runtime: Runtime, backend: VectorBackend, batch: int = DEFAULT_BATCH, progress: Progress | None = None
) -> RebuildReport:
    """Clear the backend and push every chunk from the chunks table. Raises when the backend fails (the
    error is recorded too, and the next sync finishes the job with a full push)."""
    started = time.monotonic()
    lease = _take_lease(runtime, backend.name)  # Conflict when another run holds it
    try:
        backend.ping()
        _ensure_state(runtime, backend.name)
        with runtime.session() as session:  # before clearing: if this run dies, the next sync pushes everything
            session.execute(
                update(IndexSyncState).where(IndexSyncState.backend == backend.name).values(last_change_id=0)
            )
        pushed, _, position = _full_push(runtime, backend, lease, batch, progress, clear=True)
    except Exception as exc:
        _record_error(runtime, backend.name, _describe(exc))
        raise
    finally:
        lease.release()
    return RebuildReport(backend.name, pushed, position, round(time.monotonic() - started, 3))


def reconcile(
    *,
    runtime: Runtime,
    backend: VectorBackend,
    sample: int | None = DEFAULT_SAMPLE,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Find and repair drift between the backend and the chunks table.

    First catches up (a normal sync), then compares the backend's ids with the ids of the chunks that have a
    vector: missing ones are pushed, extra ones deleted. Then, when the backend can return what it stores
    (``SupportsFetch``), compares the stored vector and metadata of ``sample`` random chunks (``None``: every
    chunk) with the table and pushes again those that differ. Raises when the backend fails."""
    started = time.monotonic()
    caught_up = sync_backend(runtime=runtime, backend=backend, batch=batch, progress=progress)
    if caught_up.skipped:
        raise Conflict(caught_up.skipped)
    if caught_up.error:
        raise SophiaError(f"{backend.name}: {caught_up.error}")
    report = ReconcileReport(backend.name)
    lease = _take_lease(runtime, backend.name)
    try:
        if progress:
            progress(0, 0, "listing ids")
        held, table, report.extra = _drop_extra(runtime, backend)
        report.backend_count = len(held) + sum(not isinstance(k, int) for k in report.extra)
        report.chunks = len(table)
        report.missing = sorted(table - held)
        for part in in_batches(report.missing, batch):
            _push(runtime, backend, upserts=part, deletes=())
            lease.renew()
        if isinstance(backend, SupportsFetch) and sample != 0:
            _spot_check(runtime, backend, sorted(table & held), sample, batch, report, lease, progress)
        _record_success(runtime, backend.name, None, indexed=backend.count())
    except Exception as exc:
        _record_error(runtime, backend.name, _describe(exc))
        raise
    finally:
        lease.release()
    report.seconds = round(time.monotonic() - started, 3)
    log.info(
        "reconciled",
        backend=backend.name,
        missing=len(report.missing),
        extra=len(report.extra),
        stale=len(report.stale),
        checked=report.checked,
    )
    return report


def _spot_check(
    runtime: Runtime,
    backend: VectorBackend,
    both: list[int],
    sample: int | None,
    batch: int,
    report: ReconcileReport,
    lease: Lease,
    progress: Progress | None,
) -> None:
    """Compare the stored vector and metadata of ``sample`` random chunks (``None``: all of ``both``) with the
    table, and push again those that differ."""
    assert isinstance(backend, SupportsFetch)
    chosen = both if sample is None or sample >= len(both) else sorted(random.sample(both, sample))
    for part in in_batches(chosen, batch):
        stored = backend.fetch(part)
        with runtime.session() as session:
            truth = {item.chunk_id: item for item in _load(session, part, backend.dim, _model(runtime))[0]}
        stale = [cid for cid, item in truth.items() if cid not in stored or not _same(item, stored[cid])]
        if stale:
            backend.upsert([truth[cid] for cid in stale])
        report.checked += len(truth)
        report.stale += stale
        lease.renew()
        if progress:
            progress(report.checked, len(chosen), "checking vectors")


def index_status(*, runtime: Runtime, backends: Sequence[VectorBackend | str]) -> list[dict[str, Any]]:
    """Per backend, from the database only (it answers while a backend is down):
    ``{"name", "chunks", "pending", "last_sync", "error"}``. ``chunks`` is how many chunks the backend said it
    held at its last successful sync; ``pending`` how many chunks have changes it has not received yet;
    ``last_sync`` the last successful contact (ISO 8601, UTC); ``error`` the last failure since then."""
    out = []
    with runtime.session() as session:
        for item in backends:
            name = item if isinstance(item, str) else item.name
            state = session.get(IndexSyncState, name)
            out.append(
                {
                    "name": name,
                    "chunks": state.chunks_indexed if state else 0,
                    "pending": pending_count(session, state.last_change_id if state else 0),
                    "last_sync": state.last_sync_at.isoformat() if state and state.last_sync_at else None,
                    "error": state.last_error if state else None,
                }
            )
    return out


def table_counts(*, runtime: Runtime) -> dict[str, int]:
    """What the truth holds: ``{"documents", "chunks", "vectors"}`` (vectors: chunks that have one)."""
    with runtime.session() as session:
        return {
            "documents": session.scalar(select(func.count()).select_from(Document)) or 0,
            "chunks": session.scalar(select(func.count()).select_from(Chunk)) or 0,
            "vectors": vector_count(session),
        }


def vector_count(session: Session) -> int:
    """Chunks that have a vector (of any model)."""
    return session.scalar(select(func.count()).select_from(Chunk).where(Chunk.embedding.is_not(None))) or 0


def pending_count(session: Session, position: int) -> int:
    """Chunks a backend at this position has yet to receive (changes collapsed per chunk). At position 0 (or
    below the pruned floor) the backend gets a full push, so that is every chunk with a vector."""
    if position == 0 or position < _floor(session):
        return vector_count(session)
    return session.scalar(select(func.count(func.distinct(ChunkChange.chunk_id))).where(ChunkChange.id > position)) or 0


def prune_changes(*, runtime: Runtime, enabled: Sequence[str], keep_s: float = PRUNE_KEEP_S) -> int:
    """Delete the chunk changes that every enabled backend has consumed and that are older than ``keep_s``;
    returns how many. Nothing is pruned while an enabled backend has not consumed anything yet (it is due a
    full push, after which it has a position). A backend not enabled does not hold the log back: if it is
    enabled again below the floor, its next sync is a full push."""
    cutoff = utcnow() - timedelta(seconds=keep_s)
    with runtime.session() as session:
        positions = [
            session.scalar(select(IndexSyncState.last_change_id).where(IndexSyncState.backend == name)) or 0
            for name in enabled
        ]
        if not positions or min(positions) == 0:
            return 0
        # the newest change both consumed by all and old enough; every id at or below it goes
        upto = session.scalar(
            select(func.max(ChunkChange.id)).where(ChunkChange.id <= min(positions), ChunkChange.at < cutoff)
        )
        # the newest row always stays: SQLite hands out max(id) + 1, so an emptied table would reuse ids
        newest = session.scalar(select(func.max(ChunkChange.id))) or 0
        upto = min(upto or 0, newest - 1)
        floor = _floor(session)
    if not upto or upto <= floor:
        return 0
    with runtime.session() as session:  # the floor first: a reader never sees ids gone above a stale floor
        if session.get(Meta, FLOOR_KEY) is None:
            session.add(Meta(key=FLOOR_KEY, value={"id": upto}))
        else:
            session.execute(update(Meta).where(Meta.key == FLOOR_KEY).values(value={"id": upto}, updated_at=utcnow()))
    deleted = 0
    start = floor
    while start < upto:  # in id ranges, so no transaction grows with the log
        end = min(upto, start + PRUNE_BATCH)
        with runtime.session() as session:
            stmt = delete(ChunkChange).where(ChunkChange.id > start, ChunkChange.id <= end)
            deleted += changed_rows(session, stmt)
        start = end
    log.info("chunk changes pruned", deleted=deleted, floor=upto)
    return deleted


def _floor(session: Session) -> int:
    row = session.get(Meta, FLOOR_KEY)
    return int(row.value.get("id", 0)) if row is not None else 0


# ---- replaying the change log ----------------------------------------------------------------------------


def _replay(
    runtime: Runtime,
    backend: VectorBackend,
    lease: Lease,
    position: int,
    batch: int,
    progress: Progress | None,
    report: SyncReport,
) -> None:
    with runtime.session() as session:
        total = pending_count(session, position) if progress else 0
    while True:
        with runtime.session() as session:
            changes, blocked = _settled_changes(session, position, batch)
        if changes:
            latest: dict[int, str] = {}
            for _, chunk_id, op in changes:  # in id order: the last operation on a chunk wins
                latest[chunk_id] = op
            upserted, deleted = _push(
                runtime,
                backend,
                upserts=[c for c, op in latest.items() if op == "u"],
                deletes=[c for c, op in latest.items() if op == "d"],
            )
            report.upserted += upserted
            report.deleted += deleted
            position = changes[-1][0]
        caught_up = blocked or len(changes) < batch
        # the last batch also records what the backend now holds, in the same transaction as the position
        _record_success(runtime, backend.name, position, indexed=backend.count() if caught_up else None)
        lease.renew()
        if progress:
            progress(report.upserted + report.deleted, max(total, report.upserted + report.deleted), "syncing")
        if caught_up:
            break
    report.position = position


def _settled_changes(session: Session, after: int, limit: int) -> tuple[list[tuple[int, int, str]], bool]:
    """The next changes after ``after`` in id order, stopping before a hole in the ids younger than
    GAP_GRACE_S (an insert that may still commit). Returns the changes and whether a hole stopped them."""
    rows = session.execute(
        select(ChunkChange.id, ChunkChange.chunk_id, ChunkChange.op, ChunkChange.at)
        .where(ChunkChange.id > after)
        .order_by(ChunkChange.id)
        .limit(limit)
    ).all()
    young = utcnow() - timedelta(seconds=GAP_GRACE_S)
    settled: list[tuple[int, int, str]] = []
    previous = after
    for change_id, chunk_id, op, at in rows:
        if change_id != previous + 1 and at > young:
            return settled, True
        settled.append((change_id, chunk_id, op))
        previous = change_id
    return settled, False


def _settled_max(session: Session) -> int:
    """The highest change id below which no young hole remains: a full push covers every change up to it."""
    young = utcnow() - timedelta(seconds=GAP_GRACE_S)
    recent = list(session.scalars(select(ChunkChange.id).where(ChunkChange.at > young).order_by(ChunkChange.id)))
    if not recent:
        return session.scalar(select(func.max(ChunkChange.id))) or 0
    # below the first recent change: the row before it, or the pruned floor (no hole: those were consumed)
    previous = session.scalar(select(func.max(ChunkChange.id)).where(ChunkChange.id < recent[0])) or _floor(session)
    for change_id in recent:
        if change_id != previous + 1:
            return previous
        previous = change_id
    return previous


def _full_push(
    runtime: Runtime, backend: VectorBackend, lease: Lease, batch: int, progress: Progress | None, *, clear: bool
) -> tuple[int, int, int]:
    """Push every chunk with a vector; returns (pushed, deleted, the position recorded). The log position is
    read before the first chunk, so every change made during the push is replayed by the next sync. Without
    ``clear``, what the backend held that the table no longer has (deleted while the backend was not following
    the log) is deleted after the push."""
    with runtime.session() as session:
        position = _settled_max(session)
        total = session.scalar(select(func.count()).select_from(Chunk).where(_embedded(runtime))) or 0
    if clear:
        backend.clear()
    pushed, last_id = 0, 0
    if progress:
        progress(0, total, "pushing")
    while True:
        with runtime.session() as session:
            ids = list(
                session.scalars(
                    select(Chunk.id).where(Chunk.id > last_id, _embedded(runtime)).order_by(Chunk.id).limit(batch)
                )
            )
            items, _ = _load(session, ids, backend.dim, _model(runtime))
        if not ids:
            break
        if items:
            backend.upsert(items)
        pushed += len(items)
        last_id = ids[-1]
        lease.renew()
        if progress:
            progress(pushed, max(total, pushed), "pushing")
    deleted = 0 if clear else len(_drop_extra(runtime, backend)[2])
    _record_success(runtime, backend.name, position, indexed=backend.count())
    return pushed, deleted, position


def _drop_extra(runtime: Runtime, backend: VectorBackend) -> tuple[set[int], set[int], list[BackendKey]]:
    """Delete from the backend the chunks the table no longer has, and every key Sophia did not write (a
    leftover or foreign vector, whatever its shape); returns (the chunk ids the backend held, the ids of the
    table's chunks with a vector, the keys deleted)."""
    keys = set(backend.ids())  # the backend first: a chunk added meanwhile then looks missing (harmless)
    held = {k for k in keys if isinstance(k, int)}
    foreign = sorted(str(k) for k in keys if not isinstance(k, int))
    with runtime.session() as session:
        table = set(session.scalars(select(Chunk.id).where(_embedded(runtime))))
    gone = sorted(held - table)
    with runtime.session() as session:  # an id that reappeared meanwhile arrives through the log instead
        reborn = set(_existing(session, gone))
    extra: list[BackendKey] = [*(i for i in gone if i not in reborn), *foreign]
    if foreign:
        log.warning("foreign ids in a vector backend deleted", backend=backend.name, count=len(foreign))
    for part in in_batches(extra):
        backend.delete(part)
    return held, table, extra


def _push(
    runtime: Runtime, backend: VectorBackend, *, upserts: Sequence[int], deletes: Sequence[int]
) -> tuple[int, int]:
    """Upsert these chunks as they are now (one that is gone or has no vector is deleted instead) and delete
    those; returns (upserted, deleted)."""
    with runtime.session() as session:
        items, gone = _load(session, upserts, backend.dim, _model(runtime))
    removed = sorted(set(deletes) | set(gone))
    if removed:
        backend.delete(removed)
    if items:
        backend.upsert(items)
    return len(items), len(removed)


def _model(runtime: Runtime) -> str:
    from core.search.embeddings import make_embedder

    return make_embedder(runtime.settings).model_name


def _embedded(runtime: Runtime) -> Any:
    """Chunks with a vector of the configured model: after a change of model, a chunk not re-embedded yet has
    no vector the backends can use (it arrives through the log once it is re-embedded)."""
    return and_(Chunk.embedding.is_not(None), Chunk.embedding_model == _model(runtime))


def _load(session: Session, chunk_ids: Sequence[int], dim: int, model: str) -> tuple[list[ChunkVector], list[int]]:
    """The current vector and metadata of these chunks (chunks JOIN documents), and the ids that have no vector
    of ``model`` (gone, not embedded, or embedded by another model and not re-embedded yet)."""
    found: dict[int, ChunkVector] = {}
    for part in in_batches(chunk_ids):
        rows = session.execute(
            select(
                Chunk.id,
                Chunk.embedding,
                Document.id,
                Document.source,
                Document.type,
                Document.account_id,
                Document.owner,
                Document.occurred_at,
                Document.min_role,
            )
            .join(Document, Document.id == Chunk.document_id)
            .where(Chunk.id.in_(part), Chunk.embedding.is_not(None), Chunk.embedding_model == model)
        ).all()
        for cid, emb, doc_id, source, type_, account_id, owner, occurred_at, min_role in rows:
            if emb is None:  # filtered out above; this tells the type checker
                continue
            vector = np.frombuffer(emb, dtype="<f4")
            if vector.shape != (dim,):
                raise SophiaError(
                    f"chunk {cid} has a {vector.size}-dimensional vector but the {dim}-dimensional backend cannot take "
                    "it; re-embed the chunks or point the backend at an index of that dimension",
                    code="config_invalid",
                )
            found[cid] = ChunkVector(
                chunk_id=cid,
                vector=vector.astype(np.float32),
                document_id=doc_id,
                source=source,
                type=type_,
                account_id=account_id,
                owner=owner,
                occurred_at=occurred_at,
                min_role=min_role or "viewer",
            )
    items = [found[c] for c in sorted(set(chunk_ids)) if c in found]
    gone = sorted({c for c in chunk_ids if c not in found})
    return items, gone


def _same(truth: ChunkVector, stored: ChunkVector) -> bool:
    if stored.vector.shape != truth.vector.shape or not np.allclose(
        stored.vector, truth.vector, atol=VECTOR_ATOL, rtol=0
    ):
        return False
    if (truth.document_id, truth.source, truth.type, truth.account_id, truth.owner, truth.min_role) != (
        stored.document_id,
        stored.source,
        stored.type,
        stored.account_id,
        stored.owner,
        stored.min_role,
    ):
        return False
    if truth.occurred_at is None or stored.occurred_at is None:
        return truth.occurred_at is None and stored.occurred_at is None
    return abs((truth.occurred_at - stored.occurred_at).total_seconds()) < 0.001


def _existing(session: Session, chunk_ids: Sequence[int]) -> Iterable[int]:
    for part in in_batches(chunk_ids):
        yield from session.scalars(select(Chunk.id).where(Chunk.id.in_(part)))


# ---- state ---------------------------------------------------------------------------------------------------


def _ensure_state(runtime: Runtime, name: str) -> IndexSyncState:
    with runtime.session() as session:
        state = session.get(IndexSyncState, name)
        if state is not None:
            return state
    try:
        with runtime.session() as session:
            session.add(IndexSyncState(backend=name, last_change_id=0, chunks_indexed=0))
    except IntegrityError:
        pass  # created by another run meanwhile
    with runtime.session() as session:
        return session.get_one(IndexSyncState, name)


def _record_success(runtime: Runtime, name: str, position: int | None, *, indexed: int | None) -> None:
    """A clean bill of health with the new position and, when given, the number of chunks the backend
    holds (its own count: beside the table's count it shows drift), in one transaction."""
    now = utcnow()
    values: dict[str, Any] = {"last_sync_at": now, "last_error": None, "error_at": None, "updated_at": now}
    if position is not None:
        values["last_change_id"] = position
    if indexed is not None:
        values["chunks_indexed"] = indexed
    with runtime.session() as session:
        session.execute(update(IndexSyncState).where(IndexSyncState.backend == name).values(**values))


def _record_error(runtime: Runtime, name: str, message: str) -> None:
    now = utcnow()
    try:
        _ensure_state(runtime, name)
        with runtime.session() as session:
            session.execute(
                update(IndexSyncState)
                .where(IndexSyncState.backend == name)
                .values(last_error=message[:ERROR_MAX], error_at=now, updated_at=now)
            )
    except Exception:  # noqa: BLE001 - the database itself failing: the log still has it
        log.exception("could not record the vector sync error", backend=name)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SophiaError):
        return exc.message
    text = " ".join(str(exc).split())
    return f"unexpected {type(exc).__name__}: {text}"[:ERROR_MAX]


def _finish(runtime: Runtime, report: SyncReport, started: float) -> None:
    with runtime.session() as session:
        state = session.get(IndexSyncState, report.backend)
        if state is not None and not report.position:
            report.position = state.last_change_id
        report.pending = pending_count(session, state.last_change_id if state else 0)
    report.seconds = round(time.monotonic() - started, 3)


def _take_lease(runtime: Runtime, name: str) -> Lease:
    """One run per backend at a time (``core.leases``, on the backend's sync state row); ``Conflict`` when
    another sync, rebuild or reconcile of it is running."""
    _ensure_state(runtime, name)
    slot = LeaseSlot(IndexSyncState, IndexSyncState.backend == name, name)
    busy = f"{name}: another sync, rebuild or reconcile of this backend is running; try again later"
    return Lease.take(runtime=runtime, slot=slot, ttl=timedelta(seconds=LEASE_S), busy=busy)
