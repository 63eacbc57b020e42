"""Search: the one call behind the search page, ``sophia search``, the API and the agents' tools.

``search`` runs a keyword query (BM25 over the FTS5 index on SQLite; ``ts_rank_cd`` over the tsvector
index on PostgreSQL) and a vector query (the query's embedding against a vector backend) over chunks, both
restricted to what the filters select and the caller may see, and fuses them per document:

    score(doc) = W_KEYWORD / (RRF_K + keyword rank) + W_VECTOR / (RRF_K + vector rank) + exact-token boost

where a document's rank in each list is the rank of its best chunk there. The exact-token boost rewards a
document whose text holds a query token that looks like an identifier (an invoice number, an error code,
an email address: anything with a digit, an @ or inner punctuation, or a quoted phrase), so that a lookup
by identifier finds the record even when the vector query, which does not read digits well, disagrees.
The constants were tuned by measurement on the labelled questions in ``tests/data/search`` (see
``core/search/README.md``). ``mode`` selects ``keyword`` or ``vector`` alone, for that measurement.

Snippets come from the document's best chunk, around the densest run of query words, with those words
marked ``**like this**``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sqlalchemy import bindparam, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from core.auth import ROLE_RANK, Identity
from core.db.batches import in_batches
from core.db.models import Account, Chunk, Document
from core.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from core.search.backends.base import VectorBackend, VectorFilter

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.search.embeddings import Embedder

__all__ = ["DocumentView", "SearchFilters", "SearchHit", "SearchResponse", "get_document", "more_like_this", "search"]

Mode = Literal["hybrid", "keyword", "vector"]
MODES = ("hybrid", "keyword", "vector")
MAX_LIMIT = 100
MAX_QUERY_CHARS = 1000

#: Chunks each side contributes to fusion.
KEYWORD_CANDIDATES = 100
VECTOR_CANDIDATES = 100
#: Reciprocal rank fusion, tuned on the labelled questions (core/search/README.md): the textbook k=60 with
#: equal weights lost to keyword alone on paraphrases (recall@10 0.70 against 0.84); a small k (the top
#: ranks count most) and a vector weight of 0.3 beat both single modes on both kinds of question.
RRF_K = 10
W_KEYWORD = 1.0
W_VECTOR = 0.3
#: Added to a document's fused score when its text holds an identifier-like token of the query; it is
#: larger than any fused score can be, so such documents come first (ordered among themselves by fusion).
EXACT_BOOST = 1.0
#: The same for names (pairs of capitalised words in the query: people, companies).
NAME_BOOST = 0.02
SNIPPET_CHARS = 240
#: Chunk matches the keyword query may score (see ``_fts5_query``): BM25 costs one to two microseconds per
#: match (scored, then sorted), so this bounds the keyword query to a few milliseconds at any corpus size
#: (measured: 17 ms per query at 10,000, 100k chunks, bench/search_latency.py). On the small demo the
#: labelled questions score the same with or without it.
MATCH_BUDGET = 4_000
#: The keyword query ranks this many chunks in the FTS index alone, then applies filters and permissions
#: (joining every match first costs twice as much); when filters leave too few, it ranks them all.
KEYWORD_OVERSAMPLE = 4
PG_TS_CONFIG = "english"  # as in migration 0005

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves anything something
    tell show find give get got say said says any""".split()
)


# ---- the shapes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """What to search within. Strings or lists of them; ``account`` is an account id or (part of) a name;
    ``since``/``until`` are dates (whole days, inclusive) or aware datetimes."""

    source: str | Sequence[str] | None = None
    type: str | Sequence[str] | None = None
    account: str | int | None = None
    owner: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: str
    title: str
    source: str
    type: str
    snippet: str
    score: float
    url: str
    account: str | None = None
    account_id: int | None = None
    occurred_at: datetime | None = None
    external_id: str = ""

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


@dataclass(frozen=True)
class _Scope:
    """Filters resolved to what both queries apply."""

    sources: tuple[str, ...]
    types: tuple[str, ...]
    account_ids: tuple[int, ...] | None  # None: any; () would mean none matched (refused earlier)
    owner: str | None
    since: datetime | None
    until: datetime | None
    roles: tuple[str, ...]

    def vector_filter(self) -> VectorFilter:
        return VectorFilter(
            sources=self.sources,
            types=self.types,
            account_ids=self.account_ids or (),
            owner=self.owner,
            since=self.since,
            until=self.until,
            roles=self.roles,
        )

    def sql(self) -> list[Any]:
        conds: list[Any] = [Document.min_role.in_(self.roles)]
        if self.sources:
            conds.append(Document.source.in_(self.sources))
        if self.types:
            conds.append(Document.type.in_(self.types))
        if self.account_ids:
            conds.append(Document.account_id.in_(self.account_ids))
        if self.owner:
            conds.append(func.lower(Document.owner) == self.owner.lower())
        if self.since:
            conds.append(Document.occurred_at >= self.since)
        if self.until:
            conds.append(Document.occurred_at <= self.until)
        return conds


# ---- query text -------------------------------------------------------------------------------------------

_TERM = re.compile(r'"[^"]+"|\w(?:[\w\-./@+#]|,(?=\d))*\w|\w', re.UNICODE)
_NAME = re.compile(r"\b[A-Z][\w'&.-]*(?:\s+(?:[A-Z][\w'&.-]*|&))+")
_ALNUM = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class _Terms:
    words: tuple[str, ...]  # keyword terms (lowercased); multi-part ones are phrases
    exact: tuple[str, ...]  # identifier-like tokens and quoted phrases (lowercased)
    names: tuple[str, ...] = ()  # runs of two or more capitalised words: names of people and companies


def _is_identifier(token: str) -> bool:
    return any(ch.isdigit() for ch in token) or "@" in token or bool(re.search(r"\w[\-./#+,]\w", token))


def parse_query(query: str) -> _Terms:
    words: list[str] = []
    exact: list[str] = []
    for raw in _TERM.findall(query):
        quoted = raw.startswith('"')
        token = raw.strip('"').strip().lower()
        if not token:
            continue
        if quoted or _is_identifier(token):
            exact.append(token)
            words.append(token)
        elif token not in STOPWORDS and len(token) > 1:
            words.append(token)
    if not words:  # only stopwords: search them anyway
        words = [t.lower() for t in _ALNUM.findall(query)]
    names = []  # consecutive pairs of capitalised words, so "Emily Walker Rogers Housing" matches either name
    for m in _NAME.finditer(query):
        parts = m.group().lower().split()
        names += [f"{a} {b}" for a, b in zip(parts, parts[1:])]
    return _Terms(tuple(dict.fromkeys(words)), tuple(dict.fromkeys(exact)), tuple(dict.fromkeys(names)))


def _phrases(terms: _Terms) -> list[str]:
    """Each keyword term as the list of its alphanumeric pieces (several for "INV-2025-000214")."""
    return [" ".join(p) for w in terms.words if (p := _ALNUM.findall(w))]


def _fts5_query(session: Session, terms: _Terms) -> str:
    """An FTS5 MATCH expression: terms (or phrases) OR-ed, each quoted so nothing is syntax.

    BM25 scores every chunk that matches, one to two microseconds each, so the terms are taken rarest first
    (the most telling: highest IDF) while the chunks they match stay within ``MATCH_BUDGET``; the rarest is
    always taken. A term's count comes from the index itself (the same tokenizer and stemmer), counted only up
    to the budget, which keeps the counting as cheap as the budget."""
    phrases = _phrases(terms)
    if len(phrases) <= 1:
        return " OR ".join(f'"{p}"' for p in phrases)
    probe = text("SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH :m LIMIT :cap)")
    counts = {p: int(session.execute(probe, {"m": f'"{p}"', "cap": MATCH_BUDGET + 1}).scalar_one()) for p in phrases}
    chosen, spent = [], 0
    for p in sorted(phrases, key=lambda p: counts[p]):
        if chosen and spent + counts[p] > MATCH_BUDGET:
            continue
        chosen.append(p)
        spent += counts[p]
    return " OR ".join(f'"{p}"' for p in chosen)


# ---- the public calls --------------------------------------------------------------------------------------


def _roles_for(identity: Identity) -> tuple[str, ...]:
    mine = ROLE_RANK.get(identity.role, 0)
    return tuple(r for r, rank in ROLE_RANK.items() if rank <= mine)


def _day_start(d: date | datetime) -> datetime:
    if isinstance(d, datetime):
        if d.tzinfo is None:
            raise InvalidInput(f"naive datetime {d!r}: pass an aware datetime")
        return d.astimezone(UTC)
    return datetime.combine(d, dtime(0), tzinfo=UTC)


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _scope(session: Session, identity: Identity, filters: SearchFilters) -> _Scope:
    account_ids: tuple[int, ...] | None = None
    if filters.account not in (None, ""):
        account_ids = _resolve_account(session, filters.account)  # type: ignore[arg-type]
    since = _day_start(filters.since) if filters.since else None
    until = None
    if filters.until:
        until = _day_start(filters.until)
        if not isinstance(filters.until, datetime):  # a date: the whole day
            until += timedelta(days=1) - timedelta(microseconds=1)
    if since and until and since > until:
        raise InvalidInput("--since is after --until")
    return _Scope(
        _as_tuple(filters.source),
        _as_tuple(filters.type),
        account_ids,
        filters.owner or None,
        since,
        until,
        _roles_for(identity),
    )


def _resolve_account(session: Session, account: str | int) -> tuple[int, ...]:
    """An account id, or a name: exact (any case) first, else every account whose name contains it."""
    value = str(account).strip()
    if value.isdigit() and session.get(Account, int(value)) is not None:
        return (int(value),)
    exact = list(session.scalars(select(Account.id).where(func.lower(Account.name) == value.lower())))
    if exact:
        return tuple(exact)
    like = list(
        session.scalars(select(Account.id).where(func.lower(Account.name).contains(value.lower(), autoescape=True)))
    )
    if not like:
        raise InvalidInput(f"no account matches {value!r}")
    return tuple(like)


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
    query = " ".join((query or "").split())
    if not query:
        raise InvalidInput("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if mode not in MODES:
        raise InvalidInput(f"unknown search mode {mode!r}; expected one of {', '.join(MODES)}")
    if backend is None and mode != "keyword":
        mode = "keyword"  # no vector backend: keyword search still answers
    terms = parse_query(query)
    with runtime.session() as session:
        scope = _scope(session, identity, filters or SearchFilters())
        keyword = _keyword(session, terms, scope, KEYWORD_CANDIDATES) if mode != "vector" else []
        vector: list[tuple[int, int, float]] = []
        degraded = None
        if mode != "keyword":
            assert backend is not None
            try:
                found = backend.query(embedder.embed_query(query), k=VECTOR_CANDIDATES, where=scope.vector_filter())
            except (BackendUnavailable, ConfigError) as exc:  # the backend, or the embedding provider
                if mode == "vector":
                    raise
                found, degraded = [], f"vector search unavailable ({exc.message}); keyword results only"
            vector = _visible_chunks(session, found, scope)
        ranked = _fuse(session, keyword, vector, terms, mode)[:limit]
        hits = _hits(session, runtime, ranked, terms)
    return SearchResponse(
        query=query, took_ms=round((time.perf_counter() - started) * 1000, 2), results=hits, degraded=degraded
    )


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
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    try:
        did = int(doc_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"doc_id {doc_id!r} is not a document id") from None
    with runtime.session() as session:
        scope = _scope(session, identity, filters or SearchFilters())
        doc = session.get(Document, did)
        if doc is None or doc.min_role not in scope.roles:
            raise NotFound(f"no document {doc_id}")
        blobs = [
            b
            for (b,) in session.execute(
                select(Chunk.embedding).where(Chunk.document_id == did, Chunk.embedding.is_not(None))
            )
        ]
        if not blobs:
            return SearchResponse(query=f"like: {doc.title}", took_ms=0.0, results=[])
        q = np.mean([np.frombuffer(b, dtype="<f4") for b in blobs], axis=0)
        q = (q / max(float(np.linalg.norm(q)), 1e-12)).astype(np.float32)
        found = backend.query(q, k=VECTOR_CANDIDATES + 4 * len(blobs), where=scope.vector_filter())
        vector = [(c, d, s) for c, d, s in _visible_chunks(session, found, scope) if d != did]
        ranked = _fuse(session, [], vector, _Terms((), ()), "vector")[:limit]
        hits = _hits(session, runtime, ranked, parse_query(doc.title))
    return SearchResponse(
        query=f"like: {doc.title}", took_ms=round((time.perf_counter() - started) * 1000, 2), results=hits
    )


def get_document(*, runtime: Runtime, identity: Identity, doc_id: str | int) -> DocumentView:
    """One document, whole, if ``identity`` may see it; ``NotFound`` otherwise (whether it does not exist or
    is not theirs to see: the answer does not tell which)."""
    try:
        did = int(doc_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"doc_id {doc_id!r} is not a document id") from None
    with runtime.session() as session:
        doc = session.get(Document, did)
        if doc is None or doc.min_role not in _roles_for(identity):
            raise NotFound(f"no document {doc_id}")
        account = session.get(Account, doc.account_id) if doc.account_id else None
        chunks = session.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == did)) or 0
        return DocumentView(
            doc_id=str(doc.id),
            title=doc.title,
            source=doc.source,
            type=doc.type,
            text=doc.text,
            url=_public_url(runtime, doc.url),
            account=account.name if account else None,
            account_id=doc.account_id,
            owner=doc.owner,
            author=doc.author,
            occurred_at=doc.occurred_at,
            updated_at=doc.updated_at,
            chunks=chunks,
        )


# ---- the two queries ---------------------------------------------------------------------------------------


def _keyword(session: Session, terms: _Terms, scope: _Scope, k: int) -> list[tuple[int, int, float]]:
    """(chunk id, document id, score) best first; a higher score is better."""
    if not terms.words:
        return []
    dialect = session.get_bind().dialect.name
    where = scope.sql()
    if dialect == "sqlite":
        match = _fts5_query(session, terms)
        if not match:
            return []
        fts = table("chunks_fts")
        ranked = (
            select(literal_column("chunks_fts.rowid").label("id"), literal_column("bm25(chunks_fts)").label("rank"))
            .select_from(fts)
            .where(text("chunks_fts MATCH :match"))
        )
        for oversample in (KEYWORD_OVERSAMPLE * k, None):
            inner = (ranked.order_by(literal_column("rank")).limit(oversample) if oversample else ranked).subquery()
            stmt = (
                select(Chunk.id, Chunk.document_id, inner.c.rank)
                .select_from(inner)
                .join(Chunk, Chunk.id == inner.c.id)
                .join(Document, Document.id == Chunk.document_id)
                .where(*where)
                .order_by(inner.c.rank)
                .limit(k)
            )
            rows = session.execute(stmt, {"match": match}).all()
            if (
                oversample is None
                or len(rows) >= k
                or session.execute(
                    select(func.count()).select_from(ranked.limit(oversample + 1).subquery()), {"match": match}
                ).scalar_one()
                <= oversample
            ):
                break
        return [(cid, did, -float(score)) for cid, did, score in rows]
    # PostgreSQL, against the expression index of migration 0005: ts_rank_cd has no IDF, so a chunk holding
    # every term ranks above one holding some (AND first, then OR), as BM25's IDF would mostly have it
    config = literal_column(f"'{PG_TS_CONFIG}'")
    tsv = func.to_tsvector(config, Chunk.text)
    queries = [func.phraseto_tsquery(config, bindparam(f"t{i}", w)) for i, w in enumerate(terms.words)]
    found: list[tuple[int, int, float]] = []
    for joiner in ("&&", "||") if len(queries) > 1 else ("||",):
        tsq = queries[0]
        for q in queries[1:]:
            tsq = tsq.op(joiner)(q)
        rank = func.ts_rank_cd(tsv, tsq, 1).label("rank")
        stmt = (
            select(Chunk.id, Chunk.document_id, rank)
            .join(Document, Document.id == Chunk.document_id)
            .where(tsv.op("@@")(tsq), *where)
            .order_by(rank.desc(), Chunk.id)
            .limit(k)
        )
        seen = {cid for cid, _, _ in found}
        found += [(cid, did, float(score)) for cid, did, score in session.execute(stmt).all() if cid not in seen]
        if len(found) >= k:
            break
    return found[:k]


def _visible_chunks(session: Session, found: list[tuple[int, float]], scope: _Scope) -> list[tuple[int, int, float]]:
    """The backend's hits that still exist and pass the filters and permissions in the database (a backend
    that lags behind the chunks table must never show what the caller may not see). Two lookups by primary
    key: joined with a filter, SQLite may start from the filter's index instead of the hundred ids."""
    if not found:
        return []
    owners = dict(session.execute(select(Chunk.id, Chunk.document_id).where(Chunk.id.in_([c for c, _ in found]))).all())
    docs = set(owners.values())
    allowed = set(session.scalars(select(Document.id).where(Document.id.in_(docs), *scope.sql()))) if docs else set()
    return [(cid, owners[cid], score) for cid, score in found if owners.get(cid) in allowed]


# ---- fusion ------------------------------------------------------------------------------------------------


@dataclass
class _Ranked:
    document_id: int
    score: float
    chunk_id: int  # the chunk the snippet comes from
    keyword_rank: int | None = None
    vector_rank: int | None = None


def _doc_ranks(chunks: list[tuple[int, int, float]]) -> dict[int, tuple[int, int]]:
    """document id -> (rank of its best chunk among documents, 1-based; that chunk's id)."""
    out: dict[int, tuple[int, int]] = {}
    for cid, did, _ in chunks:
        if did not in out:
            out[did] = (len(out) + 1, cid)
    return out


def _fuse(
    session: Session,
    keyword: list[tuple[int, int, float]],
    vector: list[tuple[int, int, float]],
    terms: _Terms,
    mode: Mode,
) -> list[_Ranked]:
    kw, vec = _doc_ranks(keyword), _doc_ranks(vector)
    results: dict[int, _Ranked] = {}
    for did in kw.keys() | vec.keys():
        score = 0.0
        k_rank = kw[did][0] if did in kw else None
        v_rank = vec[did][0] if did in vec else None
        if mode == "keyword":
            score = 1.0 / k_rank  # type: ignore[operator]
        elif mode == "vector":
            score = 1.0 / v_rank  # type: ignore[operator]
        else:
            if k_rank:
                score += W_KEYWORD / (RRF_K + k_rank)
            if v_rank:
                score += W_VECTOR / (RRF_K + v_rank)
        chunk = kw[did][1] if did in kw else vec[did][1]
        results[did] = _Ranked(did, score, chunk, k_rank, v_rank)
    if mode == "hybrid" and (terms.exact or terms.names) and results:
        for did, body in _texts(session, list(results)).items():
            hay = " ".join(body.lower().split())
            if terms.exact:
                results[did].score += EXACT_BOOST * sum(_contains_token(hay, t) for t in terms.exact) / len(terms.exact)
            if terms.names:
                results[did].score += NAME_BOOST * sum(_contains_token(hay, t) for t in terms.names) / len(terms.names)
    return sorted(results.values(), key=lambda r: (-r.score, r.document_id))


def _contains_token(hay: str, token: str) -> bool:
    """``token`` in ``hay`` as a whole word (a plural "s" allowed: "R02s" holds "R02")."""
    return re.search(r"(?<![\w])" + re.escape(token) + r"(?:s|es)?(?![\w])", hay) is not None


def _texts(session: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in in_batches(ids):
        out.update(session.execute(select(Document.id, Document.text).where(Document.id.in_(part))).all())
    return out


# ---- results -----------------------------------------------------------------------------------------------


def _hits(session: Session, runtime: Runtime, ranked: list[_Ranked], terms: _Terms) -> list[SearchHit]:
    if not ranked:
        return []
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_([r.document_id for r in ranked])))}
    chunks = dict(session.execute(select(Chunk.id, Chunk.text).where(Chunk.id.in_([r.chunk_id for r in ranked]))).all())
    account_ids = {d.account_id for d in docs.values() if d.account_id}
    names = (
        dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids))).all())
        if account_ids
        else {}
    )
    hits = []
    for _i, r in enumerate(ranked, start=1):
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
                url=_public_url(runtime, d.url),
                account=names.get(d.account_id) if d.account_id else None,
                account_id=d.account_id,
                occurred_at=d.occurred_at,
                external_id=d.external_id,
            )
        )
    return hits


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


_WORD = re.compile(r"[\w][\w\-'.@/]*[\w]|[\w]", re.UNICODE)
_SUFFIXES = ("ing", "ers", "ies", "ed", "es", "er", "ly", "s")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    w = word.lower()
    for suffix in _SUFFIXES:
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def make_snippet(chunk_text: str, terms: _Terms, size: int = SNIPPET_CHARS) -> str:
    """A window of ``chunk_text`` around its densest run of query words, with those words in **bold**.
    The chunk's first line (its context: the title) is left out, since a result shows the title anyway."""
    body = chunk_text.split("\n", 1)[1] if "\n" in chunk_text else chunk_text
    body = " ".join(body.split())
    stems = {_stem(p) for w in terms.words if w not in terms.exact for p in _ALNUM.findall(w)}
    spans: list[tuple[int, int]] = []
    for token in terms.exact:
        for m in re.finditer(r"(?<![\w])" + re.escape(token) + r"(?![\w])", body, re.IGNORECASE):
            spans.append((m.start(), m.end()))
    for m in _WORD.finditer(body):
        if _stem(m.group()) in stems or m.group().lower() in stems:
            spans.append((m.start(), m.end()))
    spans = _merge(sorted(spans))
    start = 0
    if spans and len(body) > size:
        best, best_n = spans[0][0], 0
        for s, _ in spans:  # the window holding the most marks
            n = sum(1 for a, b in spans if s <= a and b <= s + size)
            if n > best_n:
                best, best_n = s, n
        start = max(0, best - size // 4)
        if start:
            nxt = body.find(" ", start)
            start = nxt + 1 if 0 <= nxt < best else start
    end = min(len(body), start + size)
    if end < len(body):
        cut = body.rfind(" ", start, end)
        end = cut if cut > start + size // 2 else end
    out, pos = [], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out += [body[pos:a], "**", body[a:b], "**"]
        pos = b
    out.append(body[pos:end])
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(body) else "")


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged
