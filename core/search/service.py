"""Search: the one call behind the search page, ``sophia search``, the API and the agents' tools.

``search`` runs a keyword query and a vector query over chunks (``retrieval``), both restricted to what the
filters select and the caller may see (``query``), fuses them per document (``fusion``), then shapes the
page a person reads: filler below a relative score floor dropped, near-duplicates folded into one result
("and 9 similar"), no source crowding out the others. Each result carries a snippet of its best chunk
(``snippets``) and a link to its page in the source system (``links``). ``mode`` selects ``keyword`` or
``vector`` alone, for measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth import Identity
from core.db.models import Account, Base, Chunk, Document
from core.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from core.search.backends.base import VectorBackend
from core.search.fusion import Mode, Ranked, fuse, present
from core.search.links import LinkBases, load_link_bases, vendor_url
from core.search.query import SearchFilters, Terms, parse_query, resolve_scope, roles_for
from core.search.retrieval import keyword_chunks, visible_chunks
from core.search.snippets import make_snippet

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.search.embeddings import Embedder

__all__ = [
    "DocumentView",
    "SearchFilters",
    "SearchHit",
    "SearchResponse",
    "Similar",
    "get_document",
    "make_snippet",
    "more_like_this",
    "parse_query",
    "search",
]

MODES = ("hybrid", "keyword", "vector")
MAX_LIMIT = 100
MAX_QUERY_CHARS = 1000
#: Chunks each side contributes to fusion.
KEYWORD_CANDIDATES = 100
VECTOR_CANDIDATES = 100


# ---- the shapes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Similar:
    """A near-duplicate folded into a result ("and 9 similar"), still reachable from it."""

    doc_id: str
    title: str
    source: str
    external_id: str

    def as_json(self) -> dict[str, str]:
        return {"doc_id": self.doc_id, "title": self.title}


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: str
    title: str
    source: str
    type: str
    snippet: str
    score: float  # for measurement and --json; not shown to people
    url: str
    account: str | None = None
    account_id: int | None = None
    occurred_at: datetime | None = None
    external_id: str = ""
    similar: tuple[Similar, ...] = ()  # near-duplicates folded into this result ("and 9 similar")

    def as_json(self) -> dict[str, Any]:
        """The contract of ``sophia search --json`` (and the API): exactly these keys."""
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "type": self.type,
            "snippet": self.snippet,
            "score": self.score,
            "url": self.url,
            "similar": [s.as_json() for s in self.similar],
        }


@dataclass(frozen=True)
class SearchResponse:
    query: str
    took_ms: float
    results: list[SearchHit] = field(default_factory=list)
    #: set when the vector backend could not be reached and the results are keyword-only (not in the JSON)
    degraded: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"query": self.query, "took_ms": self.took_ms, "results": [h.as_json() for h in self.results]}


@dataclass(frozen=True)
class DocumentView:
    """One document whole, as a result links to it."""

    doc_id: str
    title: str
    source: str
    type: str
    text: str
    url: str  # the vendor's page, an imported file's original, or Sophia's own /records/<table>/<id>
    account: str | None
    account_id: int | None
    owner: str | None
    author: str | None
    occurred_at: datetime | None
    updated_at: datetime
    chunks: int


# ---- the public calls --------------------------------------------------------------------------------------


def _check(query: str, limit: int, mode: str) -> str:
    query = " ".join((query or "").split())
    if not query:
        raise InvalidInput("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the query is longer than {MAX_QUERY_CHARS} characters")
    _check_limit(limit)
    if mode not in MODES:
        raise InvalidInput(f"unknown search mode {mode!r}; expected one of {', '.join(MODES)}")
    return query


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def search(
    *,
    runtime: Runtime,
    embedder: Embedder,
    backend: VectorBackend | None,
    identity: Identity,
    query: str,
    limit: int = 10,
    filters: SearchFilters | None = None,
    mode: Mode = "hybrid",
) -> SearchResponse:
    """The documents that best answer ``query`` among those ``identity`` may see, best first."""
    started = time.perf_counter()
    query = _check(query, limit, mode)
    if backend is None and mode != "keyword":
        mode = "keyword"  # no vector backend: keyword search still answers
    terms = parse_query(query)
    with runtime.session() as session:
        scope = resolve_scope(session, identity, filters or SearchFilters())
        keyword = keyword_chunks(session, terms, scope, KEYWORD_CANDIDATES) if mode != "vector" else []
        vector, degraded = [], None
        if mode != "keyword":
            try:
                found = backend.query(embedder.embed_query(query), k=VECTOR_CANDIDATES, where=scope.vector_filter())  # type: ignore[union-attr]
            except (BackendUnavailable, ConfigError) as exc:  # the backend, or the embedding provider
                if mode == "vector":
                    raise
                found, degraded = [], f"vector search unavailable ({exc.message}); keyword results only"
            vector = visible_chunks(session, found, scope)
        ranked = present(session, fuse(session, keyword, vector, terms, mode), limit=limit)
        hits = _hits(session, runtime, ranked, terms)
    return SearchResponse(query=query, took_ms=_ms(started), results=hits, degraded=degraded)


def more_like_this(
    *,
    runtime: Runtime,
    embedder: Embedder,
    backend: VectorBackend,
    identity: Identity,
    doc_id: str | int,
    limit: int = 10,
    filters: SearchFilters | None = None,
) -> SearchResponse:
    """Documents like this one (by the mean of its chunks' vectors), this one excluded."""
    started = time.perf_counter()
    _check_limit(limit)
    did = _doc_id(doc_id)
    with runtime.session() as session:
        scope = resolve_scope(session, identity, filters or SearchFilters())
        doc = session.get(Document, did)
        if doc is None or doc.min_role not in scope.roles:
            raise NotFound(f"no document {doc_id}")
        embedded = select(Chunk.embedding).where(Chunk.document_id == did, Chunk.embedding.is_not(None))
        blobs = [b for b in session.scalars(embedded) if b is not None]
        if not blobs:
            return SearchResponse(query=f"like: {doc.title}", took_ms=0.0, results=[])
        q = np.mean([np.frombuffer(b, dtype="<f4") for b in blobs], axis=0)
        q = (q / max(float(np.linalg.norm(q)), 1e-12)).astype(np.float32)
        found = backend.query(q, k=VECTOR_CANDIDATES + 4 * len(blobs), where=scope.vector_filter())
        vector = [(c, d, s) for c, d, s in visible_chunks(session, found, scope) if d != did]
        ranked = present(session, fuse(session, [], vector, Terms((), ()), "vector"), limit=limit, floor=0.0)
        hits = _hits(session, runtime, ranked, parse_query(doc.title))
    return SearchResponse(query=f"like: {doc.title}", took_ms=_ms(started), results=hits)


def _doc_id(doc_id: str | int) -> int:
    try:
        return int(doc_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"doc_id {doc_id!r} is not a document id") from None


def get_document(*, runtime: Runtime, identity: Identity, doc_id: str | int) -> DocumentView:
    """One document, whole, if ``identity`` may see it; ``NotFound`` otherwise (whether it does not exist or
    is not theirs to see: the answer does not tell which)."""
    did = _doc_id(doc_id)
    with runtime.session() as session:
        doc = session.get(Document, did)
        if doc is None or doc.min_role not in roles_for(identity):
            raise NotFound(f"no document {doc_id}")
        account = session.get(Account, doc.account_id) if doc.account_id else None
        chunks = session.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == did)) or 0
        links = _Links(session, runtime, load_link_bases(session), [doc])
        return DocumentView(
            doc_id=str(doc.id),
            title=doc.title,
            source=doc.source,
            type=doc.type,
            text=doc.text,
            url=links.url(doc),
            account=account.name if account else None,
            account_id=doc.account_id,
            owner=doc.owner,
            author=doc.author,
            occurred_at=doc.occurred_at,
            updated_at=doc.updated_at,
            chunks=chunks,
        )


# ---- results -----------------------------------------------------------------------------------------------


def _hits(session: Session, runtime: Runtime, ranked: list[Ranked], terms: Terms) -> list[SearchHit]:
    if not ranked:
        return []
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_([r.document_id for r in ranked])))}
    folded = _similar(session, [s for r in ranked for s in r.similar])
    chunks = dict(session.execute(select(Chunk.id, Chunk.text).where(Chunk.id.in_([r.chunk_id for r in ranked]))).all())
    account_ids = {d.account_id for d in docs.values() if d.account_id}
    names = (
        dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids))).all())
        if account_ids
        else {}
    )
    links = _Links(session, runtime, load_link_bases(session), list(docs.values()))
    hits: list[SearchHit] = []
    for r in ranked:
        d = docs.get(r.document_id)
        if d is None:
            continue
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                doc_id=str(d.id),
                title=d.title,
                source=d.source,
                type=d.type,
                snippet=make_snippet(chunks.get(r.chunk_id) or d.text, terms),
                score=round(r.score, 6),
                url=links.url(d),
                account=names.get(d.account_id) if d.account_id else None,
                account_id=d.account_id,
                occurred_at=d.occurred_at,
                external_id=d.external_id,
                similar=tuple(folded[s] for s in r.similar if s in folded),
            )
        )
    return hits


def _similar(session: Session, ids: list[int]) -> dict[int, Similar]:
    if not ids:
        return {}
    rows = session.execute(
        select(Document.id, Document.title, Document.source, Document.external_id).where(Document.id.in_(ids))
    )
    return {did: Similar(str(did), title, source, ext) for did, title, source, ext in rows}


class _Links:
    """Each document's link: the vendor's page when it can be built, else what is stored."""

    def __init__(self, session: Session, runtime: Runtime, bases: LinkBases, docs: list[Document]) -> None:
        self.runtime, self.bases = runtime, bases
        self.raws = (
            _raws(session, docs) if any(bases.__dict__.values()) or any(d.source == "slack" for d in docs) else {}
        )

    def url(self, doc: Document) -> str:
        if doc.url and doc.url.startswith(("http://", "https://")):
            return doc.url
        raw = self.raws.get((doc.record_table, doc.record_id))
        found = vendor_url(source=doc.source, table=doc.record_table, kind=doc.type, raw=raw or {}, bases=self.bases)
        return found or _public_url(self.runtime, doc.url)


def _raws(session: Session, docs: list[Document]) -> dict[tuple[str | None, int | None], Any]:
    """(record table, record id) -> the record's ``raw`` as its source sent it."""
    wanted: dict[str, set[int]] = {}
    for d in docs:
        if d.record_table and d.record_id is not None and d.record_table in Base.metadata.tables:
            wanted.setdefault(d.record_table, set()).add(d.record_id)
    out: dict[tuple[str | None, int | None], Any] = {}
    for name, ids in wanted.items():
        tbl = Base.metadata.tables[name]
        if "raw" in tbl.c:
            out.update({(name, row.id): _raw(row) for row in session.execute(select(tbl).where(tbl.c.id.in_(ids)))})
    return out


def _raw(row: Any) -> Any:
    """The raw payload; a Slack message's channel id and ts from its columns (a demo's raw names the channel)."""
    if "channel_id" in row._fields and isinstance(row.raw, dict):
        return {**row.raw, "channel": row.channel_id, "ts": row.ts}
    return row.raw


def _public_url(runtime: Runtime, url: str | None) -> str:
    """Stored links are kept as they are, except imported files (``object:<key>``), which the object
    store turns into a link at read time (a time-limited one on S3)."""
    if url and url.startswith("object:"):
        from core.storage import make_object_store

        try:
            return make_object_store(runtime.settings).url_for(url.removeprefix("object:"))
        except Exception:  # noqa: BLE001 - a link that cannot be made must not fail the search
            return url
    return url or ""
