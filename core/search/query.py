"""Query text and filters: the terms a query is made of, and the filters resolved to what both queries apply.

``parse_query`` splits a query into keyword terms, identifier-like tokens (anything with a digit, an @ or
inner punctuation, or a quoted phrase) and names (pairs of capitalised words); ``fts5_query`` turns the
terms into an FTS5 MATCH expression within a cost budget; ``resolve_scope`` turns ``SearchFilters`` and the
caller's role into a ``Scope`` both the keyword and the vector query apply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.auth import ROLE_RANK, Identity
from core.db.models import Account, Document
from core.errors import InvalidInput
from core.search.backends.base import VectorFilter

__all__ = ["STOPWORDS", "Scope", "SearchFilters", "Terms", "fts5_query", "parse_query", "phrases", "resolve_scope"]

#: Chunk matches the keyword query may score (see ``fts5_query``): BM25 costs one to two microseconds per
#: match (scored, then sorted), so this bounds the keyword query to a few milliseconds at any corpus size
#: (measured: 17 ms per query at 10,000, 100k chunks, bench/search_latency.py). On the small demo the
#: labelled questions score the same with or without it.
MATCH_BUDGET = 4_000

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves anything something
    tell show find give get got say said says any""".split()
)


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


# ---- query text -------------------------------------------------------------------------------------------

_TERM = re.compile(r'"[^"]+"|\w(?:[\w\-./@+#]|,(?=\d))*\w|\w', re.UNICODE)
_NAME = re.compile(r"\b[A-Z][\w'&.-]*(?:\s+(?:[A-Z][\w'&.-]*|&))+")
ALNUM = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Terms:
    words: tuple[str, ...]  # keyword terms (lowercased); multi-part ones are phrases
    exact: tuple[str, ...]  # identifier-like tokens and quoted phrases (lowercased)
    names: tuple[str, ...] = ()  # runs of two or more capitalised words: names of people and companies


def _is_identifier(token: str) -> bool:
    return any(ch.isdigit() for ch in token) or "@" in token or bool(re.search(r"\w[\-./#+,]\w", token))


def parse_query(query: str) -> Terms:
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
        words = [t.lower() for t in ALNUM.findall(query)]
    return Terms(tuple(dict.fromkeys(words)), tuple(dict.fromkeys(exact)), _names(query))


def _names(query: str) -> tuple[str, ...]:
    """Consecutive pairs of capitalised words, so "Emily Walker Rogers Housing" matches either name."""
    names = []
    for m in _NAME.finditer(query):
        parts = m.group().lower().split()
        names += [f"{a} {b}" for a, b in zip(parts, parts[1:], strict=False)]
    return tuple(dict.fromkeys(names))


def phrases(terms: Terms) -> list[str]:
    """Each keyword term as the list of its alphanumeric pieces (several for "INV-2025-000214")."""
    return [" ".join(p) for w in terms.words if (p := ALNUM.findall(w))]


def fts5_query(session: Session, terms: Terms) -> str:
    """An FTS5 MATCH expression: terms (or phrases) OR-ed, each quoted so nothing is syntax.

    BM25 scores every chunk that matches, one to two microseconds each, so the terms are taken rarest first
    (the most telling: highest IDF) while the chunks they match stay within ``MATCH_BUDGET``; the rarest is
    always taken. A term's count comes from the index itself (the same tokenizer and stemmer), counted only up
    to the budget, which keeps the counting as cheap as the budget."""
    found = phrases(terms)
    if len(found) <= 1:
        return " OR ".join(f'"{p}"' for p in found)
    probe = text("SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH :m LIMIT :cap)")
    counts = {p: int(session.execute(probe, {"m": f'"{p}"', "cap": MATCH_BUDGET + 1}).scalar_one()) for p in found}
    chosen: list[str] = []
    spent = 0
    for p in sorted(found, key=lambda p: counts[p]):
        if chosen and spent + counts[p] > MATCH_BUDGET:
            continue
        chosen.append(p)
        spent += counts[p]
    return " OR ".join(f'"{p}"' for p in chosen)


# ---- filters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
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


def roles_for(identity: Identity) -> tuple[str, ...]:
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


def _until(value: date | datetime | None) -> datetime | None:
    if not value:
        return None
    until = _day_start(value)
    if not isinstance(value, datetime):  # a date: the whole day
        until += timedelta(days=1) - timedelta(microseconds=1)
    return until


def resolve_scope(session: Session, identity: Identity, filters: SearchFilters) -> Scope:
    account_ids: tuple[int, ...] | None = None
    if filters.account not in (None, ""):
        account_ids = _resolve_account(session, filters.account)
    since = _day_start(filters.since) if filters.since else None
    until = _until(filters.until)
    if since and until and since > until:
        raise InvalidInput("--since is after --until")
    return Scope(
        _as_tuple(filters.source),
        _as_tuple(filters.type),
        account_ids,
        filters.owner or None,
        since,
        until,
        roles_for(identity),
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
