"""Documents into the chunks table: chunked, embedded, and logged for the vector backends.

``index_records`` builds the documents of the ingested records (``core.search.documents``) and brings the
``documents``/``chunks`` tables in line with them:

- an unchanged document (same content hash, every chunk embedded by the current model) does no work;
- a changed one is rewritten and its chunks replaced position by position (a chunk whose text did not
  change keeps its row and its vector);
- a document whose record is gone is deleted with its chunks.

Text is embedded once: a chunk whose text (by content hash) is already stored with a vector of the current
model reuses that vector, and identical texts in one batch are embedded once. Embedding happens outside
any transaction; each batch is then written in one short transaction together with its ``chunk_changes``
rows (op ``u`` for a chunk inserted or updated, ``d`` for one deleted), which the vector backends consume.

Changing the embedding model (an embedder whose ``model_name`` differs from the one stored with the
chunks) re-embeds every chunk on the next run.

``index_records`` is the full run (every record read; daily, and ``sophia reindex --full``);
``index_changes`` does the same for the records that changed since the watermark (``core.search.changes``),
or for records named by the caller. ``core.search.searchable.make_searchable`` is what faces call.

Every run of ``index_records`` or ``index_changes`` shows its progress in a ``meta`` row (``indexing_state``): whoever started
it (the scheduler, ``sophia reindex``, ``sophia up --demo``), the Search and Admin pages can say that indexing
is under way and how far it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.batches import in_batches
from core.db.models import Chunk, ChunkChange, Document, Meta
from core.db.types import utcnow
from core.search.changes import Changes, Watermark, affected, orphans, read_changes, save_watermark, table_marks
from core.search.documents import RECORD_TABLES, DocumentIn, build_documents, chunk_hash

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.search.embeddings import Embedder

__all__ = [
    "IndexResult",
    "delete_documents",
    "index_changes",
    "index_documents",
    "index_records",
    "indexing_state",
    "reembed_stale",
]

Progress = Callable[[int, int, str], None]

#: Chunks embedded and then written in one transaction: the embedder sorts the texts of one call by length
#: (padding is most of its cost) within windows of 4,096, so a batch this size pads as little as one call
#: over everything; writing 4,096 chunks is a transaction of well under a second.
BATCH_CHUNKS = 4096
#: The ``meta`` row holding the progress of the current (or the last) run of ``index_records``.
PROGRESS_KEY = "search_indexing"
#: Progress is written at most this often (and at the end of each stage).
PROGRESS_EVERY_S = 2.0
#: A run shown as running whose progress has not moved for this long died (it is shown as stalled).
PROGRESS_STALE_S = 600


@dataclass
class IndexResult:
    documents_seen: int = 0
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    chunks_written: int = 0  # inserted or updated
    chunks_deleted: int = 0
    chunks_embedded: int = 0  # texts that went through the model
    chunks_reused: int = 0  # vectors reused from stored chunks with the same text
    seconds: float = 0.0
    document_ids: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, float | int]:
        return {k: v for k, v in self.__dict__.items() if k != "document_ids"}


def _vec_bytes(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype="<f4").tobytes()


# ---- the public entry points ----------------------------------------------------------------------------


def index_records(
    *,
    runtime: Runtime,
    embedder: Embedder,
    entities: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> IndexResult:
    """The full run: rebuild every document of these entities' records (all by default), compare content
    hashes, write what changed and delete the documents whose record is gone. Reads every record, so it runs
    rarely (daily, ``sophia reindex --full``); ``index_changes`` follows what changed in between. The run's
    progress is shown to every process through ``indexing_state``."""

    def run(tracker: Progress) -> IndexResult:
        with runtime.session() as session:
            now = utcnow()
            mark = Watermark(now, table_marks(session), now, embedder.model_name)
        result = _index_records(runtime, embedder, entities, tracker)
        if entities is None:  # everything is indexed as of the run's start
            with runtime.session() as session:
                save_watermark(session=session, mark=mark)
        return result

    return _tracked(runtime, progress, run)


def index_changes(
    *,
    runtime: Runtime,
    embedder: Embedder,
    records: Mapping[str, Collection[int]] | None = None,
    progress: Progress | None = None,
) -> IndexResult:
    """Bring up to date the documents of the records that changed since the watermark (``core.search.changes``)
    and delete those whose record is gone; with ``records`` (table -> ids, e.g. from a bus event), the
    documents of those records instead, leaving the watermark alone. The first run (no watermark yet) is a
    full run. Unchanged documents do no work; an idle run reads a few indexed columns."""
    with runtime.session() as session:
        since = Watermark.load(session)
    if records is None and since.at is None:
        return index_records(runtime=runtime, embedder=embedder, progress=progress)

    def run(tracker: Progress) -> IndexResult:
        with runtime.session() as session:
            if records is None:
                changes = read_changes(session=session, since=since)
            else:
                changes = Changes(affected(session=session, changed=records), [], since)
        # every chunk has a vector of the watermark's model: only another model needs the scan for stale ones
        result = _index_scope(runtime, embedder, changes, tracker, reembed=since.model != embedder.model_name)
        changes.next = replace(changes.next, model=embedder.model_name)
        if records is None:
            with runtime.session() as session:
                save_watermark(session=session, mark=changes.next)
        return result

    return _tracked(runtime, progress, run)


def _tracked(runtime: Runtime, progress: Progress | None, run: Callable[[Progress], IndexResult]) -> IndexResult:
    tracker = _Tracker(runtime, progress)
    tracker(0, 0, "reading records")
    try:
        result = run(tracker)
    except Exception as exc:
        tracker.finish(error=str(exc)[:500] or type(exc).__name__)
        raise
    tracker.finish(result=result)
    return result


def indexing_state(*, runtime: Runtime) -> dict | None:
    """The progress of the current run of ``index_records``, or the outcome of the last one (None before the
    first): ``{"state": "running"|"stalled"|"done"|"failed", "done", "total", "stage", "started_at",
    "updated_at", "finished_at", "result", "error"}`` (times ISO 8601, UTC)."""
    with runtime.session() as session:
        row = session.get(Meta, PROGRESS_KEY)
        if row is None:
            return None
        state = dict(row.value)
        state["updated_at"] = row.updated_at.isoformat()
        if state.get("state") == "running" and (utcnow() - row.updated_at).total_seconds() > PROGRESS_STALE_S:
            state["state"] = "stalled"
    return state


class _Tracker:
    """Passes progress on to the caller's callback and records it in the ``meta`` row (at most every
    ``PROGRESS_EVERY_S``, and whenever a stage changes or completes)."""

    def __init__(self, runtime: Runtime, forward: Progress | None) -> None:
        self.runtime, self.forward = runtime, forward
        self.started_at = utcnow().isoformat()
        self.last_write = 0.0
        self.last_stage = ""

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if stage != self.last_stage or done >= total or now - self.last_write >= PROGRESS_EVERY_S:
            self.last_write, self.last_stage = now, stage
            self._write(
                {"state": "running", "done": done, "total": total, "stage": stage, "started_at": self.started_at}
            )
        if self.forward is not None and total:
            self.forward(done, total, stage)

    def finish(self, *, result: IndexResult | None = None, error: str | None = None) -> None:
        self._write(
            {
                "state": "failed" if error else "done",
                "started_at": self.started_at,
                "finished_at": utcnow().isoformat(),
                "result": result.as_dict() if result else None,
                "error": error,
            }
        )

    def _write(self, value: dict) -> None:
        for _ in range(2):  # a second run may create the row at the same moment: then update it
            try:
                with self.runtime.session() as session:
                    row = session.get(Meta, PROGRESS_KEY)
                    if row is None:
                        session.add(Meta(key=PROGRESS_KEY, value=value))
                    else:
                        row.value = value
                        row.updated_at = utcnow()
                return
            except IntegrityError:
                continue


def _index_records(
    runtime: Runtime, embedder: Embedder, entities: Sequence[str] | None, progress: Progress
) -> IndexResult:
    started = time.monotonic()
    result = IndexResult()
    reembed_stale(runtime=runtime, embedder=embedder, progress=progress, result=result)
    with runtime.session() as session:
        built = list(build_documents(session=session, entities=entities))
        tables = sorted({RECORD_TABLES[e] for e in (entities or RECORD_TABLES)})
        existing = {
            (src, ext): (id_, h)
            for id_, src, ext, h in session.execute(
                select(Document.id, Document.source, Document.external_id, Document.content_hash).where(
                    Document.record_table.in_(tables)
                )
            )
        }
    unique: dict[tuple[str, str], DocumentIn] = {}
    for _, doc in built:
        unique.setdefault(doc.key, doc)  # the first document built for a key wins
    changed = _changed(unique.values(), existing, result)
    gone = [id_ for key, (id_, _) in existing.items() if key not in unique]
    _write_changed(runtime, embedder, changed, {k: v[0] for k, v in existing.items()}, result, progress)
    if gone:
        with runtime.session() as session:
            _delete_documents(session, gone, result)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _index_scope(
    runtime: Runtime, embedder: Embedder, changes: Changes, progress: Progress, *, reembed: bool
) -> IndexResult:
    """Rebuild the documents of these records; delete those of them that no longer make one, and the
    documents of the tables that lost rows whose record is gone."""
    started = time.monotonic()
    result = IndexResult()
    if reembed:
        reembed_stale(runtime=runtime, embedder=embedder, progress=progress, result=result)
    if changes.empty:
        result.seconds = round(time.monotonic() - started, 3)
        return result
    scope = {e: sorted(ids) for e, ids in changes.records.items()}
    with runtime.session() as session:
        unique: dict[tuple[str, str], DocumentIn] = {}
        for _, doc in build_documents(session=session, record_ids=scope):
            unique.setdefault(doc.key, doc)
        existing = _existing_by_key(session, list(unique))
        before = _documents_of(session, scope)
        gone = [id_ for id_, key in before.items() if key not in unique]
        for entity in changes.shrunk:
            gone += orphans(session=session, entity=entity)
    changed = _changed(unique.values(), existing, result)
    _write_changed(runtime, embedder, changed, {k: v[0] for k, v in existing.items()}, result, progress)
    if gone:
        with runtime.session() as session:
            _delete_documents(session, sorted(set(gone)), result)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _documents_of(session: Session, scope: Mapping[str, Sequence[int]]) -> dict[int, tuple[str, str]]:
    """The stored documents of these records (entity -> record ids): document id -> key."""
    found: dict[int, tuple[str, str]] = {}
    for entity, ids in scope.items():
        for part in in_batches(ids):
            rows = session.execute(
                select(Document.id, Document.source, Document.external_id).where(
                    Document.record_table == RECORD_TABLES[entity], Document.record_id.in_(part)
                )
            )
            found.update({id_: (src, ext) for id_, src, ext in rows})
    return found


def _existing_by_key(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """Stored documents by key: (id, content hash)."""
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    by_source: dict[str, list[str]] = {}
    for source, ext in keys:
        by_source.setdefault(source, []).append(ext)
    for source, exts in by_source.items():
        for part in in_batches(exts):
            for id_, ext, h in session.execute(
                select(Document.id, Document.external_id, Document.content_hash).where(
                    Document.source == source, Document.external_id.in_(part)
                )
            ):
                existing[(source, ext)] = (id_, h)
    return existing


def index_documents(
    *,
    runtime: Runtime,
    embedder: Embedder,
    documents: Sequence[DocumentIn],
    progress: Progress | None = None,
) -> IndexResult:
    """Add or update documents that are not records (imported files); unchanged ones do no work."""
    started = time.monotonic()
    result = IndexResult()
    reembed_stale(runtime=runtime, embedder=embedder, progress=progress, result=result)
    unique = list({d.key: d for d in documents}.values())
    with runtime.session() as session:
        existing = _existing_by_key(session, [d.key for d in unique])
    changed = _changed(unique, existing, result)
    _write_changed(runtime, embedder, changed, {k: v[0] for k, v in existing.items()}, result, progress)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _changed(
    docs: Iterable[DocumentIn], existing: dict[tuple[str, str], tuple[int, str]], result: IndexResult
) -> list[DocumentIn]:
    """The documents (one per key) whose content hash is not the stored one; the unchanged are counted, with
    their ids, and need no work."""
    changed = []
    for doc in docs:
        result.documents_seen += 1
        known = existing.get(doc.key)
        if known is not None and known[1] == doc.content_hash:
            result.documents_unchanged += 1
            result.document_ids[doc.key] = known[0]
        else:
            changed.append(doc)
    return changed


def delete_documents(*, session: Session, document_ids: Sequence[int]) -> IndexResult:
    """Delete documents and their chunks, logging each chunk's deletion (no commit)."""
    result = IndexResult()
    _delete_documents(session, list(document_ids), result)
    return result


def reembed_stale(
    *, runtime: Runtime, embedder: Embedder, progress: Progress | None = None, result: IndexResult | None = None
) -> int:
    """Re-embed every chunk whose vector is missing or comes from another model; returns how many."""
    result = result if result is not None else IndexResult()
    model = embedder.model_name
    stale_filter = or_(Chunk.embedding_model.is_(None), Chunk.embedding_model != model, Chunk.embedding.is_(None))
    with runtime.session() as session:
        total = session.scalar(select(func.count()).select_from(Chunk).where(stale_filter)) or 0
    if not total:
        return 0
    done = 0
    last_id = 0
    while True:
        with runtime.session() as session:
            rows = session.execute(
                select(Chunk.id, Chunk.text)
                .where(stale_filter, Chunk.id > last_id)
                .order_by(Chunk.id)
                .limit(BATCH_CHUNKS)
            ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        vectors = _embed_unique(embedder, [t for _, t in rows], result, progress, done, total, "re-embedding")
        now = utcnow()
        with runtime.session() as session:
            session.execute(
                update(Chunk),
                [
                    {"id": cid, "embedding": _vec_bytes(v), "embedding_model": model, "updated_at": now}
                    for (cid, _), v in zip(rows, vectors, strict=True)
                ],
            )
            _log(session, [cid for cid, _ in rows], "u")
        done += len(rows)
        result.chunks_written += len(rows)
    return done


# ---- the write path -------------------------------------------------------------------------------------


def _embed_unique(
    embedder: Embedder,
    texts: Sequence[str],
    result: IndexResult,
    progress: Progress | None,
    done_before: int,
    total: int,
    label: str,
) -> np.ndarray:
    """Vectors for ``texts``, embedding each distinct text once."""
    order: dict[str, int] = {}
    for t in texts:
        order.setdefault(t, len(order))
    unique = list(order)

    def report(done: int, _total: int) -> None:
        if progress is not None:
            progress(min(total, done_before + round(done * len(texts) / max(1, len(unique)))), total, label)

    vectors = embedder.embed(unique, progress=report) if unique else np.empty((0, embedder.dim), np.float32)
    result.chunks_embedded += len(unique)
    return vectors[[order[t] for t in texts]] if texts else vectors


def _batches(docs: Sequence[DocumentIn]) -> Iterable[list[DocumentIn]]:
    batch: list[DocumentIn] = []
    size = 0
    for doc in docs:
        if batch and size + len(doc.chunks) > BATCH_CHUNKS:
            yield batch
            batch, size = [], 0
        batch.append(doc)
        size += len(doc.chunks)
    if batch:
        yield batch


def _write_changed(
    runtime: Runtime,
    embedder: Embedder,
    changed: Sequence[DocumentIn],
    existing_ids: dict[tuple[str, str], int],
    result: IndexResult,
    progress: Progress | None,
) -> None:
    total = sum(len(d.chunks) for d in changed)
    done = 0
    model = embedder.model_name
    for batch in _batches(changed):
        texts = [c for d in batch for c in d.chunks]
        hashes = [chunk_hash(t) for t in texts]
        # 1. vectors: reuse what is stored for the same text and model, embed the rest (no transaction open)
        with runtime.session() as session:
            stored = _stored_vectors(session, sorted(set(hashes)), model)
        missing = [t for t, h in zip(texts, hashes, strict=True) if h not in stored]
        result.chunks_reused += len(texts) - len(missing)
        fresh = _embed_unique(embedder, missing, result, progress, done, total, "embedding")
        fresh_by_hash = {chunk_hash(t): _vec_bytes(v) for t, v in zip(missing, fresh, strict=True)}
        vectors = [stored.get(h) or fresh_by_hash[h] for h in hashes]
        # 2. one short transaction: documents, chunks, and the change log
        with runtime.session() as session:
            _write_batch(session, batch, hashes, vectors, model, existing_ids, result)
        done += len(texts)
        if progress is not None:
            progress(done, total, "writing")


def _stored_vectors(session: Session, hashes: Sequence[str], model: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in in_batches(hashes):
        for h, emb in session.execute(
            select(Chunk.content_hash, Chunk.embedding).where(
                Chunk.content_hash.in_(part), Chunk.embedding_model == model, Chunk.embedding.is_not(None)
            )
        ):
            if emb is not None:  # filtered out above; this tells the type checker
                found.setdefault(h, emb)
    return found


def _doc_row(doc: DocumentIn) -> dict:
    return {
        "source": doc.source,
        "external_id": doc.external_id,
        "type": doc.type,
        "title": doc.title[:512],
        "text": doc.text,
        "account_id": doc.account_id,
        "author": doc.author,
        "owner": doc.owner,
        "occurred_at": doc.occurred_at,
        "min_role": doc.min_role,
        "url": doc.url,
        "record_table": doc.record_table,
        "record_id": doc.record_id,
        "content_hash": doc.content_hash,
    }


def _write_batch(
    session: Session,
    batch: Sequence[DocumentIn],
    hashes: Sequence[str],
    vectors: Sequence[bytes],
    model: str,
    existing_ids: dict[tuple[str, str], int],
    result: IndexResult,
) -> None:
    now = utcnow()
    _write_documents(session, batch, existing_ids, result, now)
    doc_ids = [existing_ids[d.key] for d in batch]
    result.document_ids.update({d.key: did for d, did in zip(batch, doc_ids, strict=True)})
    plan = _plan_chunks(batch, doc_ids, _stored_chunks(session, doc_ids), hashes, vectors, model)
    _apply_chunks(session, plan, model, now, result)


def _write_documents(
    session: Session,
    batch: Sequence[DocumentIn],
    existing_ids: dict[tuple[str, str], int],
    result: IndexResult,
    now: datetime,
) -> None:
    """Update the known documents, insert the new ones (a document written meanwhile by another run is found
    by its key and updated instead); ``existing_ids`` learns the new ids."""
    for d in [d for d in batch if d.key not in existing_ids]:
        found = session.scalar(
            select(Document.id).where(Document.source == d.source, Document.external_id == d.external_id)
        )
        if found is not None:
            existing_ids[d.key] = found
    updates = [d for d in batch if d.key in existing_ids]
    inserts = [d for d in batch if d.key not in existing_ids]
    if updates:
        session.execute(
            update(Document), [{"id": existing_ids[d.key], **_doc_row(d), "updated_at": now} for d in updates]
        )
    if inserts:
        rows = session.execute(
            insert(Document).returning(Document.id, sort_by_parameter_order=True),
            [{**_doc_row(d), "created_at": now, "updated_at": now} for d in inserts],
        ).all()
        for d, (id_,) in zip(inserts, rows, strict=True):
            existing_ids[d.key] = id_
    result.documents_updated += len(updates)
    result.documents_added += len(inserts)


_Stored = dict[int, dict[int, tuple[int, str, str | None]]]  # document id -> position -> (chunk id, hash, model)


def _stored_chunks(session: Session, doc_ids: list[int]) -> _Stored:
    old: _Stored = {i: {} for i in doc_ids}
    stmt = select(Chunk.id, Chunk.document_id, Chunk.position, Chunk.content_hash, Chunk.embedding_model)
    for part in in_batches(doc_ids):
        for cid, did, pos, h, emb_model in session.execute(stmt.where(Chunk.document_id.in_(part))):
            old[did][pos] = (cid, h, emb_model)
    return old


@dataclass
class _ChunkPlan:
    """What one batch changes in the chunks table, position by position against what is stored."""

    fresh: list[tuple[int, int, str, str, bytes]] = field(default_factory=list)  # (doc, position, text, hash, vec)
    changed: list[tuple[int, str, str, bytes]] = field(default_factory=list)  # (chunk id, text, hash, vec)
    touched: list[int] = field(default_factory=list)  # kept chunks: metadata may have changed, the backends get it
    removed: list[int] = field(default_factory=list)


def _plan_chunks(
    batch: Sequence[DocumentIn],
    doc_ids: Sequence[int],
    old: _Stored,
    hashes: Sequence[str],
    vectors: Sequence[bytes],
    model: str,
) -> _ChunkPlan:
    plan, i = _ChunkPlan(), 0
    for d, did in zip(batch, doc_ids, strict=True):
        have = old[did]
        for pos, text in enumerate(d.chunks):
            h, vec = hashes[i], vectors[i]
            i += 1
            if pos not in have:
                plan.fresh.append((did, pos, text, h, vec))
                continue
            cid, old_hash, old_model = have[pos]
            plan.touched.append(cid)
            if old_hash != h or old_model != model:  # else the stored text and vector stand
                plan.changed.append((cid, text, h, vec))
        plan.removed += [cid for pos, (cid, _, _) in have.items() if pos >= len(d.chunks)]
    return plan


def _apply_chunks(session: Session, plan: _ChunkPlan, model: str, now: datetime, result: IndexResult) -> None:
    if plan.removed:
        for part in in_batches(plan.removed):
            session.execute(delete(Chunk).where(Chunk.id.in_(part)))
        _log(session, plan.removed, "d")
        result.chunks_deleted += len(plan.removed)
    to_update = [
        {"id": cid, "text": text, "content_hash": h, "embedding": vec, "embedding_model": model, "updated_at": now}
        for cid, text, h, vec in plan.changed
    ]
    to_insert = [
        {
            "document_id": did,
            "position": pos,
            "text": text,
            "content_hash": h,
            "embedding": vec,
            "embedding_model": model,
            "created_at": now,
            "updated_at": now,
        }
        for did, pos, text, h, vec in plan.fresh
    ]
    touched = list(plan.touched)
    if to_update:
        session.execute(update(Chunk), to_update)
    if to_insert:
        ids = session.execute(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), to_insert)
        touched += list(ids.scalars().all())
    _log(session, touched, "u")
    result.chunks_written += len(to_update) + len(to_insert)


def _delete_documents(session: Session, document_ids: list[int], result: IndexResult) -> None:
    for part in in_batches(document_ids):
        chunk_ids = list(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(part))))
        for cpart in in_batches(chunk_ids):
            session.execute(delete(Chunk).where(Chunk.id.in_(cpart)))
        _log(session, chunk_ids, "d")
        session.execute(delete(Document).where(Document.id.in_(part)))
        result.chunks_deleted += len(chunk_ids)
        result.documents_deleted += len(part)


def _log(session: Session, chunk_ids: Sequence[int], op: str) -> None:
    if chunk_ids:
        now = utcnow()
        session.execute(insert(ChunkChange), [{"chunk_id": cid, "op": op, "at": now} for cid in chunk_ids])
