"""The two queries behind hybrid search: keyword (BM25 over FTS5 on SQLite; ``ts_rank_cd`` over the tsvector
index on PostgreSQL) and the vector backend's hits checked against the database. Each returns chunks as
``(chunk id, document id, score)``, best first, a higher score better."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from core.db.models import Chunk, Document
from core.search.query import Scope, Terms, fts5_query

__all__ = ["keyword_chunks", "visible_chunks"]

#: The keyword query ranks this many chunks in the FTS index alone, then applies filters and permissions
#: (joining every match first costs twice as much); when filters leave too few, it ranks them all.
KEYWORD_OVERSAMPLE = 4
PG_TS_CONFIG = "english"  # as in migration 0005

ChunkHits = list[tuple[int, int, float]]


def keyword_chunks(session: Session, terms: Terms, scope: Scope, k: int) -> ChunkHits:
    """(chunk id, document id, score) best first; a higher score is better."""
    if not terms.words:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite(session, terms, scope, k)
    return _postgres(session, terms, scope, k)


def _sqlite(session: Session, terms: Terms, scope: Scope, k: int) -> ChunkHits:
    match = fts5_query(session, terms)
    if not match:
        return []
    ranked: Any = (
        select(literal_column("chunks_fts.rowid").label("id"), literal_column("bm25(chunks_fts)").label("rank"))
        .select_from(table("chunks_fts"))
        .where(text("chunks_fts MATCH :match"))
    )
    rows: Sequence[Any] = []
    for oversample in (KEYWORD_OVERSAMPLE * k, None):
        inner = (ranked.order_by(literal_column("rank")).limit(oversample) if oversample else ranked).subquery()
        stmt = (
            select(Chunk.id, Chunk.document_id, inner.c.rank)
            .select_from(inner)
            .join(Chunk, Chunk.id == inner.c.id)
            .join(Document, Document.id == Chunk.document_id)
            .where(*scope.sql())
            .order_by(inner.c.rank)
            .limit(k)
        )
        rows = session.execute(stmt, {"match": match}).all()
        if oversample is None or len(rows) >= k or _matches_at_most(session, ranked, match, oversample):
            break
    return [(cid, did, -float(score)) for cid, did, score in rows]


def _matches_at_most(session: Session, ranked: Any, match: str, n: int) -> bool:
    count = select(func.count()).select_from(ranked.limit(n + 1).subquery())
    return session.execute(count, {"match": match}).scalar_one() <= n


def _postgres(session: Session, terms: Terms, scope: Scope, k: int) -> ChunkHits:
    """Against the expression index of migration 0005: ts_rank_cd has no IDF, so a chunk holding every term
    ranks above one holding some (AND first, then OR), as BM25's IDF would mostly have it."""
    config: Any = literal_column(f"'{PG_TS_CONFIG}'")
    tsv = func.to_tsvector(config, Chunk.text)
    queries = [func.phraseto_tsquery(config, bindparam(f"t{i}", w)) for i, w in enumerate(terms.words)]
    found: ChunkHits = []
    for joiner in ("&&", "||") if len(queries) > 1 else ("||",):
        tsq: Any = queries[0]
        for q in queries[1:]:
            tsq = tsq.op(joiner)(q)
        rank = func.ts_rank_cd(tsv, tsq, 1).label("rank")
        stmt = (
            select(Chunk.id, Chunk.document_id, rank)
            .join(Document, Document.id == Chunk.document_id)
            .where(tsv.op("@@")(tsq), *scope.sql())
            .order_by(rank.desc(), Chunk.id)
            .limit(k)
        )
        seen = {cid for cid, _, _ in found}
        found += [(cid, did, float(score)) for cid, did, score in session.execute(stmt).all() if cid not in seen]
        if len(found) >= k:
            break
    return found[:k]


def visible_chunks(session: Session, found: list[tuple[int, float]], scope: Scope) -> ChunkHits:
    """The backend's hits that still exist and pass the filters and permissions in the database (a backend
    that lags behind the chunks table must never show what the caller may not see). Two lookups by primary
    key: joined with a filter, SQLite may start from the filter's index instead of the hundred ids."""
    if not found:
        return []
    owners = dict(session.execute(select(Chunk.id, Chunk.document_id).where(Chunk.id.in_([c for c, _ in found]))).all())
    docs = set(owners.values())
    allowed = set(session.scalars(select(Document.id).where(Document.id.in_(docs), *scope.sql()))) if docs else set()
    return [(cid, owners[cid], score) for cid, score in found if owners.get(cid) in allowed]
