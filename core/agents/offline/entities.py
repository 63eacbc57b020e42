"""Names in a question, found through the record index: accounts, people at PayReady, customers' contacts,
deals, competitors and months. Each name is indexed with the forms people use ("Harbor Point" for "Harbor
Point Properties", "Amy" for "Amy Chen" when only one Amy works here, "Amy's" for Amy); a question is matched
longest span first, and a word that is a near miss of a name ("Harbour Point", "Zegoo") still finds it."""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Account, Contact, Deal, Employee
from core.insights.detectors.competitor_mentioned import DEFAULTS as COMPETITOR_DEFAULTS
from core.metrics.filters import add_months, month_start

if TYPE_CHECKING:
    from core.runtime import Runtime

KINDS = ("account", "employee", "contact", "deal", "competitor", "month")
#: words that end a company's name without telling it apart ("Harbor Point Properties" is "Harbor Point")
GENERIC = {
    "properties", "property", "management", "group", "residential", "realty", "communities", "community", "homes",
    "home", "housing", "partners", "apartments", "apartment", "real", "estate", "services", "asset", "co", "company",
    "llc", "inc", "multifamily", "living", "holdings", "rentals", "the", "and",
}  # fmt: skip
#: words never taken as a name on their own, however a record is called
COMMON = {
    "a", "an", "and", "are", "at", "be", "by", "call", "calls", "can", "customer", "deal", "deals", "did", "do",
    "does", "for", "from", "has", "have", "how", "i", "in", "is", "it", "last", "me", "month", "my", "new", "next",
    "not", "of", "on", "or", "our", "risk", "should", "show", "so", "tell", "that", "the", "their", "them", "they",
    "this", "to", "us", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
    "may", "march", "june", "renewal", "team", "sales", "pay", "payments", "rent", "review", "goals", "park", "point",
    "west", "east", "north", "south", "summit", "union", "pacific", "central", "city", "bay", "lake", "river",
}  # fmt: skip
MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")]
    )
    for name in names
}  # fmt: skip
MAX_SPAN = 6
#: a one-word name that is also among the ~3,000 most common words of the embedding model's vocabulary
#: ("Long", "Union", "Park") names a record only when written with a capital
COMMON_RANK = 3000
FUZZY_CUTOFF = 0.86
REFRESH_S = 30.0


@dataclass(frozen=True)
class Entity:
    kind: str  # one of KINDS
    key: str  # external id, email, competitor name or ISO month
    name: str  # as people call it
    span: str = ""  # the words of the question that named it

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "name": self.name}


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def tokens(text: str) -> list[str]:
    return [w for w, _, _ in _spans(text)]


def _spans(text: str) -> list[tuple[str, int, int]]:
    """Each word of ``text`` (lower case, a possessive's "'s" dropped) with where it stands in ``text``."""
    out = []
    for m in _TOKEN.finditer(text.lower().replace("’", "'")):
        word = m.group(0)
        word = word[:-2] if word.endswith("'s") else word
        out.append((word, m.start(), m.end()))
    return out


@dataclass
class EntityIndex:
    aliases: dict[tuple[str, ...], list[Entity]]
    deals_by_account: dict[str, list[Entity]]
    singles: list[str]  # one-word aliases, for near misses
    proper_only: frozenset[str]  # one-word aliases that are common words: taken only when capitalised
    built_at: float
    signature: tuple[int, ...]

    def find(self, question: str, *, today: date) -> list[Entity]:
        """The entities the question names, longest span first, in the order they appear."""
        return self.read(question, today=today)[0]

    def read(self, question: str, *, today: date) -> tuple[list[Entity], str]:
        """The entities the question names, and the question with each name replaced by what it is ("the
        customer", "the rep", "the competitor"): a model of meaning reads names it never saw as noise."""
        spans = _spans(question)
        words = [w for w, _, _ in spans]
        taken = [False] * len(words)
        found: list[tuple[int, Entity]] = []
        for n in range(min(MAX_SPAN, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                if any(taken[i : i + n]):
                    continue
                key = tuple(words[i : i + n])
                hits = self.aliases.get(key)
                if not hits:
                    continue
                if n == 1 and key[0] in self.proper_only and not question[spans[i][1]].isupper():
                    continue  # "too long", "the park": a common word, not the account
                for j in range(i, i + n):
                    taken[j] = True
                span = " ".join(key)
                found += [(i, Entity(e.kind, e.key, e.name, span)) for e in hits]
        found += [(i, e) for i, e in _months(words, taken, today)]
        for i, word in enumerate(words):  # near misses of one-word names ("zegoo", "harbour")
            if taken[i] or len(word) < 5 or word in COMMON or word in self.proper_only:
                continue
            close = difflib.get_close_matches(word, self.singles, n=1, cutoff=FUZZY_CUTOFF)
            if close:
                found += [(i, Entity(e.kind, e.key, e.name, word)) for e in self.aliases[(close[0],)]]
        found.sort(key=lambda pair: pair[0])
        return _dedupe([e for _, e in found]), _masked(question, spans, found)

    def deals_of(self, account_key: str) -> list[Entity]:
        return self.deals_by_account.get(account_key, [])


PLACEHOLDER = {
    "account": "the customer",
    "employee": "the rep",
    "contact": "the contact",
    "deal": "the deal",
    "competitor": "the competitor",
    "month": "this month",
}


def _masked(question: str, spans: list[tuple[str, int, int]], found: list[tuple[int, Entity]]) -> str:
    """``question`` with each entity's words replaced by its kind's placeholder (the first kind found there);
    everything else as written ("7%", "go-live"), months as they are."""
    at: dict[int, Entity] = {}
    for i, e in found:
        at.setdefault(i, e)
    out, pos, i = [], 0, 0
    while i < len(spans):
        hit = at.get(i)
        if hit is None or hit.kind == "month":
            i += 1
            continue
        last = min(len(spans), i + max(1, len(hit.span.split()))) - 1
        out.append(question[pos : spans[i][1]] + PLACEHOLDER[hit.kind])
        pos = spans[last][2]
        if question[pos : pos + 2] in ("'s", "’s"):
            pos += 2
        i = last + 1
    out.append(question[pos:])
    return "".join(out)


def _dedupe(items: list[Entity]) -> list[Entity]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in items:
        if (e.kind, e.key) not in seen:
            seen.add((e.kind, e.key))
            out.append(e)
    return out


def _months(words: list[str], taken: list[bool], today: date) -> list[tuple[int, Entity]]:
    out = []
    for i, w in enumerate(words):
        if taken[i]:
            continue
        if w == "month" and i > 0 and words[i - 1] in ("this", "last", "previous"):
            m = month_start(today) if words[i - 1] == "this" else add_months(month_start(today), -1)
            out.append((i - 1, Entity("month", m.isoformat(), f"{m:%B %Y}", f"{words[i - 1]} month")))
        elif w in MONTHS and (
            len(w) > 3 or w in ("jan", "feb", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
        ):
            if w == "may" and not (i + 1 < len(words) and words[i + 1].isdigit()):
                continue  # "may" is mostly a verb
            year = today.year if MONTHS[w] <= today.month else today.year - 1
            if i + 1 < len(words) and words[i + 1].isdigit() and len(words[i + 1]) == 4:
                year = int(words[i + 1])
            m = date(year, MONTHS[w], 1)
            out.append((i, Entity("month", m.isoformat(), f"{m:%B %Y}", w)))
    return out


def _account_aliases(name: str) -> list[tuple[str, ...]]:
    words = tuple(tokens(name))
    out = [words]
    core_words = list(words)
    while core_words and core_words[-1] in GENERIC:
        core_words.pop()
    if core_words and tuple(core_words) != words:
        if len(core_words) > 1 or core_words[0] not in COMMON:
            out.append(tuple(core_words))
    return out


def build_index(runtime: Runtime) -> EntityIndex:
    aliases: dict[tuple[str, ...], list[Entity]] = defaultdict(list)
    deals: dict[str, list[Entity]] = defaultdict(list)
    firsts: dict[tuple[str, ...], list[Entity]] = defaultdict(list)
    with runtime.session() as session:
        signature = _signature(session)
        for ext, name in session.execute(select(Account.external_id, Account.name)):
            e = Entity("account", ext, name)
            for alias in _account_aliases(name):
                aliases[alias].append(e)
        for name, email in session.execute(select(Employee.name, Employee.email)):
            e = Entity("employee", email.lower(), name)
            parts = name.split()
            aliases[tuple(tokens(name))].append(e)
            if parts:
                firsts[tuple(tokens(parts[0]))].append(e)
        for first, last, ext in session.execute(select(Contact.first_name, Contact.last_name, Contact.external_id)):
            full = " ".join(p for p in (first, last) if p)
            if full:
                aliases[tuple(tokens(full))].append(Entity("contact", ext, full))
        acct_ext = dict(session.execute(select(Account.id, Account.external_id)).all())
        for ext, name, account_id in session.execute(select(Deal.external_id, Deal.name, Deal.account_id)):
            if account_id in acct_ext:
                deals[acct_ext[account_id]].append(Entity("deal", ext, name))
    for alias, people in firsts.items():  # a first name names someone only when one person has it
        if len(people) == 1 and alias and alias[0] not in COMMON and alias not in aliases:
            aliases[alias].append(people[0])
    competitors = [str(c) for key in ("competitors", "pms_vendors") for c in COMPETITOR_DEFAULTS[key]]  # type: ignore[attr-defined]
    for competitor in competitors:
        aliases[tuple(tokens(competitor))].append(Entity("competitor", competitor, competitor))
        head = tuple(tokens(competitor))[:1]
        if head and head[0] not in COMMON and len(head[0]) >= 4:
            aliases[head].append(Entity("competitor", competitor, competitor))
    for alias in list(aliases):
        if len(alias) == 1 and alias[0] in COMMON:
            del aliases[alias]
    singles = [a[0] for a in aliases if len(a) == 1 and len(a[0]) >= 5]
    vocab = _vocabulary()
    proper_only = frozenset(
        a[0]
        for a in aliases
        if len(a) == 1 and vocab.get(a[0], COMMON_RANK) < COMMON_RANK and aliases[a][0].kind != "competitor"
    )
    return EntityIndex(dict(aliases), dict(deals), singles, proper_only, time.monotonic(), signature)


def _vocabulary() -> dict[str, int]:
    from core.search.embeddings import local_embedder

    return local_embedder(threads=1).vocabulary()


def _signature(session: Session) -> tuple[int, ...]:
    """How many records of each kind the index names: a change in any number means rebuild."""
    return tuple(
        int(session.scalar(select(func.count()).select_from(t)) or 0) for t in (Account, Employee, Contact, Deal)
    )


def _same_records(runtime: Runtime, index: EntityIndex) -> bool:
    with runtime.session() as session:
        return _signature(session) == index.signature


_cache: dict[str, EntityIndex] = {}
_lock = threading.Lock()


def entity_index(runtime: Runtime) -> EntityIndex:
    """The process's index for this database: rebuilt when the records it names changed in number (checked at
    most every ``REFRESH_S`` seconds)."""
    key = str(runtime.engine.url)
    with _lock:
        current = _cache.get(key)
        if current is not None and time.monotonic() - current.built_at < REFRESH_S:
            return current
        if current is not None and _same_records(runtime, current):
            current.built_at = time.monotonic()
            return current
        _cache[key] = build_index(runtime)
        return _cache[key]
