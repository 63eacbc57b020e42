"""Fusion: the keyword and vector chunk lists become one ranked list of documents, then the list a person
reads: weak filler dropped, near-duplicates folded into one result, no source crowding out the others.

    score(doc) = W_KEYWORD / (RRF_K + keyword rank) + W_VECTOR / (RRF_K + vector rank) + exact-token boost

where a document's rank in each list is the rank of its best chunk there. The exact-token boost rewards a
document whose text holds a query token that looks like an identifier (an invoice number, an error code,
an email address, a quoted phrase), so that a lookup by identifier finds the record even when the vector
query, which does not read digits well, disagrees. The constants were tuned on the labelled questions in
``tests/data/search`` (see ``core/search/README.md``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.batches import in_batches
from core.db.models import Document
from core.search.query import Terms

__all__ = ["Mode", "Ranked", "fuse", "present"]

Mode = Literal["hybrid", "keyword", "vector"]

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
#: A result whose fused score is below this share of the best one's is filler, not an answer: it is not
#: shown (fewer than ``limit`` results then). Tuned on the labelled set (core/search/README.md).
FLOOR = 0.3
#: A document the vector side ranks this high, at this share of its best similarity or more, is no filler.
VECTOR_STRONG_RANK = 10
VECTOR_STRONG_SHARE = 0.85
#: Two documents whose word 3-shingles (digits folded) overlap this much are one result "and N similar":
#: templated notes differ only in a name, a date or an amount.
NEAR_DUPLICATE = 0.5
#: ... or when the shorter holds this share of its shingles in the other (at most three times its size).
CONTAINED = 0.8
#: Documents Sophia writes from a record's fields read alike by construction (every invoice says "Invoice
#: ... Amount ... due ..."); each is its own record, never folded into another.
STRUCTURED_TYPES = frozenset({"invoice", "deal", "account", "goal"})
#: Shingles are taken from this much of a document's text (a transcript's opening is enough to tell).
SHINGLE_CHARS = 4_000
#: No source fills more than this share of a page while other sources have results above the floor.
SOURCE_SHARE = 0.8


@dataclass
class Ranked:
    document_id: int
    score: float
    chunk_id: int  # the chunk the snippet comes from
    keyword_rank: int | None = None
    vector_rank: int | None = None
    fused: float = 0.0  # the rank fusion alone, boosts left out (what the floor compares)
    similarity: float | None = None  # the vector side's score of its best chunk (cosine)
    source: str = ""
    type: str = ""
    similar: list[int] = field(default_factory=list)  # near-duplicates folded into this result


ChunkHits = list[tuple[int, int, float]]


def _doc_ranks(chunks: ChunkHits) -> dict[int, tuple[int, int, float]]:
    """document id -> (rank of its best chunk among documents, 1-based; that chunk's id; its score)."""
    out: dict[int, tuple[int, int, float]] = {}
    for cid, did, score in chunks:
        if did not in out:
            out[did] = (len(out) + 1, cid, score)
    return out


def _rrf(k_rank: int | None, v_rank: int | None, mode: Mode) -> float:
    if mode == "keyword":
        return 1.0 / k_rank  # type: ignore[operator]
    if mode == "vector":
        return 1.0 / v_rank  # type: ignore[operator]
    return (W_KEYWORD / (RRF_K + k_rank) if k_rank else 0.0) + (W_VECTOR / (RRF_K + v_rank) if v_rank else 0.0)


def fuse(session: Session, keyword: ChunkHits, vector: ChunkHits, terms: Terms, mode: Mode) -> list[Ranked]:
    """Every candidate document, best first."""
    kw, vec = _doc_ranks(keyword), _doc_ranks(vector)
    results: dict[int, Ranked] = {}
    for did in kw.keys() | vec.keys():
        k_rank = kw[did][0] if did in kw else None
        v_rank = vec[did][0] if did in vec else None
        score = _rrf(k_rank, v_rank, mode)
        chunk = kw[did][1] if did in kw else vec[did][1]
        similarity = vec[did][2] if did in vec else None
        results[did] = Ranked(did, score, chunk, k_rank, v_rank, fused=score, similarity=similarity)
    if mode == "hybrid" and (terms.exact or terms.names) and results:
        _boost(session, results, terms)
    return sorted(results.values(), key=lambda r: (-r.score, r.document_id))


def _boost(session: Session, results: dict[int, Ranked], terms: Terms) -> None:
    for did, body in texts(session, list(results)).items():
        hay = " ".join(body.lower().split())
        if terms.exact:
            results[did].score += EXACT_BOOST * sum(_contains_token(hay, t) for t in terms.exact) / len(terms.exact)
        if terms.names:
            results[did].score += NAME_BOOST * sum(_contains_token(hay, t) for t in terms.names) / len(terms.names)


def _contains_token(hay: str, token: str) -> bool:
    """``token`` in ``hay`` as a whole word (a plural "s" allowed: "R02s" holds "R02")."""
    return re.search(r"(?<![\w])" + re.escape(token) + r"(?:s|es)?(?![\w])", hay) is not None


def texts(session: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in in_batches(ids):
        out.update(session.execute(select(Document.id, Document.text).where(Document.id.in_(part))).all())
    return out


# ---- the page a person reads ----------------------------------------------------------------------------


def present(session: Session, ranked: list[Ranked], *, limit: int, floor: float = FLOOR) -> list[Ranked]:
    """The results to show: above the floor, near-duplicates folded, sources mixed; at most ``limit``."""
    kept = above_floor(ranked, floor)
    groups = collapse(session, kept, want=limit + math.ceil(limit * (1 - SOURCE_SHARE)) + 1)
    return diversify(groups, limit=limit)


def above_floor(ranked: list[Ranked], floor: float = FLOOR) -> list[Ranked]:
    """What is not filler: documents holding the identifier asked for (boosted); documents whose fused score
    reaches ``floor`` times the best; and, unless the query's identifier was found, documents the vector side
    ranks among its best few as nearly as close as its best (a paraphrase that shares no word with the query
    has only that side for it)."""
    if not ranked:
        return []
    best = max(r.fused for r in ranked)
    boosted = any(r.score > r.fused for r in ranked)  # the identifier asked for was found: near vectors are not it
    closest = None if boosted else max((r.similarity for r in ranked if r.similarity is not None), default=None)
    return [r for r in ranked if r.score > r.fused or r.fused >= floor * best or _close(r, closest)]


def _close(r: Ranked, closest: float | None) -> bool:
    return (
        closest is not None
        and r.similarity is not None
        and (r.vector_rank or VECTOR_STRONG_RANK + 1) <= VECTOR_STRONG_RANK
        and r.similarity >= VECTOR_STRONG_SHARE * closest
    )


_SHINGLE_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


def shingles(text: str) -> frozenset[str]:
    """Word 3-shingles of the text's body (its title line left out: templated notes differ in their titles),
    lower-cased, every number read as "0"."""
    body = text.split("\n", 1)[1] if "\n" in text.strip() else text
    words = ["0" if w[0].isdigit() else w for w in _SHINGLE_WORD.findall(body[:SHINGLE_CHARS].lower())]
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + 3]) for i in range(len(words) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_duplicates(a: frozenset[str], b: frozenset[str]) -> bool:
    """Mostly the same shingles; or the shorter one almost wholly inside a text at most three times its size
    (a templated note with one sentence added)."""
    if not a or not b:
        return False
    small, large = sorted((len(a), len(b)))
    return jaccard(a, b) >= NEAR_DUPLICATE or (large <= 3 * small and len(a & b) / small >= CONTAINED)


def collapse(session: Session, ranked: list[Ranked], *, want: int) -> list[Ranked]:
    """Fold each document into the first better-ranked one it nearly duplicates; at most ``want`` distinct
    results are kept (the rest is never shown), but every candidate is counted into the one it duplicates."""
    groups: list[tuple[Ranked, frozenset[str]]] = []
    for batch in _batches(ranked, 100):
        bodies = _bodies(session, [r.document_id for r in batch])
        for r in batch:
            r.source, r.type, body = bodies.get(r.document_id, ("", "", ""))
            sig = shingles(body) if _foldable(r) else frozenset()
            twin = next((g for g, s in groups if near_duplicates(sig, s)), None)
            if twin is not None:
                twin.similar.append(r.document_id)
            elif len(groups) < want:
                groups.append((r, sig))
    return [g for g, _ in groups]


def _foldable(r: Ranked) -> bool:
    """Text people wrote, and not a document holding the identifier asked for."""
    return r.type not in STRUCTURED_TYPES and r.score <= r.fused


def _bodies(session: Session, ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """document id -> (source, type, the opening of its text)."""
    text = func.substr(Document.text, 1, SHINGLE_CHARS)
    stmt = select(Document.id, Document.source, Document.type, text)
    out: dict[int, tuple[str, str, str]] = {}
    for part in in_batches(ids):
        out.update(
            {
                did: (src, kind, body or "")
                for did, src, kind, body in session.execute(stmt.where(Document.id.in_(part)))
            }
        )
    return out


def _batches(items: list[Ranked], size: int) -> Iterable[list[Ranked]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def diversify(ranked: list[Ranked], *, limit: int) -> list[Ranked]:
    """The best ``limit``, with no source taking more than ``SOURCE_SHARE`` of them while another source has
    results left; what a full source could not place comes after, if room is left. A document holding the
    identifier asked for (boosted) is never put back."""
    cap = max(1, math.ceil(limit * SOURCE_SHARE))
    chosen: list[Ranked] = []
    waiting: list[Ranked] = []
    counts: dict[str, int] = {}
    for r in ranked:
        if counts.get(r.source, 0) >= cap and r.score <= r.fused:
            waiting.append(r)
            continue
        chosen.append(r)
        counts[r.source] = counts.get(r.source, 0) + 1
    return (chosen + waiting)[:limit]
