"""Records become search documents, and documents become chunks.

Every ingested record that carries text becomes one ``DocumentIn``: a call (its transcript as
"Speaker: text" turns), an activity (email, meeting, note, task), a Slack thread (parent and replies), an
invoice, a deal, an account profile, a review (admins only: HR) and a goal. Imported files become documents
in ``core.search.files``.

Chunking fits the type, and every chunk starts with a one-line context (the document's title and its
account) so that a chunk read alone, by the embedding model or in a result, still says what it is about:

- transcripts: speaker turns packed into windows, each window repeating the last turn of the one before;
- Slack threads: messages packed into groups, in order;
- everything else: whole, or split at paragraph (then sentence, then word) boundaries.

A chunk is at most ``MAX_CHUNK_PIECES`` word pieces of the embedding model (its limit is 256, two of which
are its [CLS] and [SEP] markers), counted with the model's own tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.db import models as m
from core.db.batches import in_batches

__all__ = [
    "BUILDERS",
    "CHUNKER_VERSION",
    "MAX_CHUNK_PIECES",
    "DocumentIn",
    "build_documents",
    "chunk_paragraphs",
    "chunk_turns",
    "count_pieces",
]

#: The embedding model sees at most 256 word pieces, two of which are [CLS] and [SEP].
MAX_CHUNK_PIECES = 254
#: Windows are filled to about this many pieces: short enough that one chunk is about one thing (MiniLM
#: was trained on sentence pairs), long enough that a turn and its answer stay together.
TARGET_CHUNK_PIECES = 192
#: A transcript or thread window repeats the end of the previous one, up to this many pieces.
OVERLAP_PIECES = 48
#: Changing how documents are written or chunked changes every content hash, so everything re-chunks.
CHUNKER_VERSION = "1"


# ---- counting word pieces ---------------------------------------------------------------------------------

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    """The embedding model's own tokenizer (no truncation, no special tokens), or None without it."""
    try:
        from tokenizers import Tokenizer

        from core.search.embeddings import LocalMiniLM

        _, path = LocalMiniLM.model_files()
        tok = Tokenizer.from_file(str(path))
    except Exception:  # noqa: BLE001 - no local model: fall back to the estimate
        return None
    tok.no_truncation()
    tok.no_padding()
    return tok


def estimate_pieces(text: str) -> int:
    """A cheap upper estimate of word pieces: words and punctuation, long words counted as several."""
    return sum(1 + len(w) // 6 for w in _WORDISH.findall(text))


def count_pieces(text: str) -> int:
    """Word pieces of ``text`` for the embedding model (without [CLS]/[SEP])."""
    tok = _tokenizer()
    if tok is None:
        return estimate_pieces(text)
    return len(tok.encode(text, add_special_tokens=False).ids)


def count_many(texts: Sequence[str]) -> list[int]:
    tok = _tokenizer()
    if tok is None:
        return [estimate_pieces(t) for t in texts]
    return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]


# ---- the document ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentIn:
    """A document as built from its record (or file), before it is stored."""

    source: str
    external_id: str
    type: str
    title: str
    text: str
    chunks: tuple[str, ...]
    account_id: int | None = None
    author: str | None = None
    owner: str | None = None
    occurred_at: datetime | None = None
    min_role: str = "viewer"
    url: str | None = None
    record_table: str | None = None
    record_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.external_id

    @property
    def content_hash(self) -> str:
        """Changes whenever anything stored about the document changes (text, chunks or metadata)."""
        payload = [
            CHUNKER_VERSION,
            self.source,
            self.external_id,
            self.type,
            self.title,
            self.text,
            list(self.chunks),
            self.account_id,
            self.author,
            self.owner,
            self.occurred_at.isoformat() if self.occurred_at else None,
            self.min_role,
            self.url,
            self.record_table,
            self.record_id,
        ]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def chunk_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---- chunking -------------------------------------------------------------------------------------------

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def _split_long(text: str, budget: int) -> list[str]:
    """Pieces of ``text`` each within ``budget`` word pieces: at sentence, then at word boundaries."""
    if count_pieces(text) <= budget:
        return [text]
    parts: list[str] = []
    sentences = _SENTENCES.split(text)
    if len(sentences) > 1:
        for s in sentences:
            parts += _split_long(s, budget)
        return _pack(parts, budget, sep=" ")
    words = text.split()
    if len(words) <= 1:  # one enormous "word": cut by characters
        step = max(1, budget * 2)
        return [text[i : i + step] for i in range(0, len(text), step)]
    half = len(words) // 2
    return _split_long(" ".join(words[:half]), budget) + _split_long(" ".join(words[half:]), budget)


def _pack(units: list[str], budget: int, *, sep: str) -> list[str]:
    """Greedily join consecutive units while the result stays within ``budget``."""
    sizes = count_many(units) if units else []
    out: list[str] = []
    current: list[str] = []
    size = 0
    sep_cost = 0 if sep.isspace() else 1
    for unit, n in zip(units, sizes, strict=True):
        if current and size + sep_cost + n > budget:
            out.append(sep.join(current))
            current, size = [], 0
        current.append(unit)
        size += n + (sep_cost if len(current) > 1 else 0)
    if current:
        out.append(sep.join(current))
    return out


def _budget(context: str) -> tuple[str, int]:
    """The context line (cut when absurdly long) and the pieces left for the body after it."""
    context = " ".join(context.split())
    if count_pieces(context) > MAX_CHUNK_PIECES // 3:
        context = _split_long(context, MAX_CHUNK_PIECES // 3)[0]
    return context, MAX_CHUNK_PIECES - count_pieces(context) - 1  # the newline


def chunk_paragraphs(context: str, body: str) -> tuple[str, ...]:
    """A note, email or other prose: whole if it fits, else split at paragraph boundaries (paragraphs
    that are too long alone are split at sentences), each chunk prefixed with the context line."""
    context, budget = _budget(context)
    body = body.strip()
    if not body:
        return (context,)
    target = min(budget, max(TARGET_CHUNK_PIECES, budget // 2))
    if count_pieces(body) <= budget:
        return (f"{context}\n{body}",)
    paragraphs: list[str] = []
    for p in _PARAGRAPHS.split(body):
        if p.strip():
            paragraphs += _split_long(p.strip(), target)
    return tuple(f"{context}\n{c}" for c in _pack(paragraphs, target, sep="\n\n"))


def chunk_turns(context: str, turns: Sequence[str]) -> tuple[str, ...]:
    """Turns of a conversation (transcript or thread) in windows of about ``TARGET_CHUNK_PIECES``; each
    window after the first starts with the last turns of the one before (up to ``OVERLAP_PIECES``)."""
    context, budget = _budget(context)
    target = min(budget, TARGET_CHUNK_PIECES)
    units: list[str] = []
    for t in turns:
        t = t.strip()
        if t:
            units += _split_long(t, target) if count_pieces(t) > target else [t]
    if not units:
        return (context,)
    sizes = count_many(units)
    windows: list[list[int]] = []
    start = 0
    while start < len(units):
        end, size = start, 0
        while end < len(units) and (end == start or size + sizes[end] + 1 <= target):
            size += sizes[end] + 1
            end += 1
        windows.append(list(range(start, end)))
        if end >= len(units):
            break
        # the next window starts with the tail of this one (at most OVERLAP_PIECES), never at its start
        back, carried = end, 0
        while back - 1 > start and carried + sizes[back - 1] <= OVERLAP_PIECES:
            back -= 1
            carried += sizes[back]
        start = back
    return tuple(f"{context}\n" + "\n".join(units[i] for i in w) for w in windows)


# ---- builders, one per kind of record -------------------------------------------------------------------


@dataclass
class _Accounts:
    """Names and owners of accounts, loaded once per run."""

    names: dict[int, str] = field(default_factory=dict)
    owners: dict[int, str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> _Accounts:
        acc = cls()
        for id_, name, owner in session.execute(select(m.Account.id, m.Account.name, m.Account.owner)):
            acc.names[id_] = name
            acc.owners[id_] = owner
        return acc

    def context(self, title: str, account_id: int | None) -> str:
        name = self.names.get(account_id) if account_id else None
        return title if not name or name.lower() in title.lower() else f"{title} · {name}"


def _at(d: date | datetime | None) -> datetime | None:
    if d is None or isinstance(d, datetime):
        return d
    return datetime.combine(d, time(0), tzinfo=UTC)


def _money(amount: float | None, currency: str = "USD") -> str:
    return f"{amount:,.2f} {currency}" if amount is not None else "unknown amount"


def _doc_id(table: str, external_id: str) -> str:
    """Document external ids name their table: the same source may use one id in two tables."""
    return f"{table}/{external_id}"


def _record_url(table: str, record_id: int) -> str:
    """A link to the record inside Sophia, for records whose source gives none."""
    return f"/records/{table}/{record_id}"


#: A builder makes the documents of its entity's records: all of them, or only those with these ids.
Builder = Callable[[Session, _Accounts, Sequence[int] | None], Iterator[DocumentIn]]
YIELD_PER = 500


def _records(session: Session, model: Any, ids: Sequence[int] | None, *where: Any) -> Iterator[Any]:
    """The model's rows in id order: all of them, or those with these ids (read in parts)."""
    stmt = select(model).where(*where).order_by(model.id)
    if ids is None:
        yield from session.scalars(stmt).yield_per(YIELD_PER)
        return
    for part in in_batches(sorted(set(ids))):
        yield from session.scalars(stmt.where(model.id.in_(part)))


def _of(column: Any, ids: Sequence[int] | None) -> Iterator[Any]:
    """Conditions limiting a child query to these parents (none: every parent), one per part."""
    if ids is None:
        yield True
        return
    for part in in_batches(sorted(set(ids))):
        yield column.in_(part)


def _calls(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    names: dict[int, dict[str, str]] = defaultdict(dict)
    segments: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for scope in _of(m.CallParticipant.call_id, ids):
        for call_id, speaker, name in session.execute(
            select(m.CallParticipant.call_id, m.CallParticipant.speaker_id, m.CallParticipant.name).where(scope)
        ):
            names[call_id][speaker] = name
    for scope in _of(m.TranscriptSegment.call_id, ids):
        for call_id, speaker, text in session.execute(
            select(m.TranscriptSegment.call_id, m.TranscriptSegment.speaker_id, m.TranscriptSegment.text)
            .where(scope)
            .order_by(m.TranscriptSegment.call_id, m.TranscriptSegment.position)
        ):
            segments[call_id].append((speaker, text))
    for call in _records(session, m.Call, ids):
        who = names.get(call.id, {})
        turns: list[str] = []
        last_speaker = None
        for speaker, text in segments.get(call.id, []):  # consecutive segments of one speaker: one turn
            if speaker == last_speaker and turns:
                turns[-1] += f" {text.strip()}"
            else:
                turns.append(f"{who.get(speaker, 'Speaker')}: {text.strip()}")
            last_speaker = speaker
        people = ", ".join(sorted(set(who.values())))
        header = f"{call.title}\nParticipants: {people}" if people else call.title
        yield DocumentIn(
            source=call.source,
            external_id=_doc_id("calls", call.external_id),
            type="call",
            title=call.title,
            text=header + "\n\n" + "\n".join(turns),
            chunks=chunk_turns(acc.context(call.title, call.account_id), turns),
            account_id=call.account_id,
            author=call.owner,
            owner=call.owner or acc.owners.get(call.account_id),
            occurred_at=call.started_at,
            url=call.url or _record_url("calls", call.id),
            record_table="calls",
            record_id=call.id,
        )


def _activities(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    for a in _records(session, m.Activity, ids):
        body = (a.body or "").strip()
        subject = (a.subject or "").strip()
        if not body and not subject:
            continue
        title = subject or f"{a.type.capitalize()} on {a.occurred_at:%Y-%m-%d}"
        yield DocumentIn(
            source=a.source,
            external_id=_doc_id("activities", a.external_id),
            type=a.type,
            title=title,
            text=f"{title}\n\n{body}" if body else title,
            chunks=chunk_paragraphs(acc.context(title, a.account_id), body),
            account_id=a.account_id,
            author=a.owner,
            owner=a.owner or acc.owners.get(a.account_id),
            occurred_at=a.occurred_at,
            url=_record_url("activities", a.id),
            record_table="activities",
            record_id=a.id,
        )


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)\|([^>]*)>")


def slack_readable(text: str, people: dict[str, str]) -> str:
    """Slack's markup as people read it: ``<@U123>`` becomes ``@Their Name`` (from the names Slack sync
    stored with each author, else the label Slack put in the mention), ``<#C1|general>`` ``#general``."""

    def person(m: re.Match[str]) -> str:
        return "@" + (people.get(m.group(1)) or m.group(2) or m.group(1))

    return _CHANNEL.sub(lambda m: "#" + m.group(2), _MENTION.sub(person, text))


def _slack_people(session: Session) -> dict[str, str]:
    """Slack user id -> name, as Slack sync stored them on the messages people wrote."""
    rows = session.execute(
        select(m.SlackMessage.user_id, m.SlackMessage.user_name)
        .where(m.SlackMessage.user_id.is_not(None), m.SlackMessage.user_name.is_not(None))
        .distinct()
    )
    return {uid: name for uid, name in rows if uid and name}


def _thread_messages(session: Session, ids: Sequence[int] | None) -> Iterator[m.SlackMessage]:
    """Every message, or every message of the threads these messages belong to."""
    stmt = select(m.SlackMessage).order_by(m.SlackMessage.posted_at, m.SlackMessage.id)
    if ids is None:
        yield from session.scalars(stmt)
        return
    keys: set[tuple[str, str, str]] = set()
    for part in in_batches(sorted(set(ids))):
        rows = select(m.SlackMessage.source, m.SlackMessage.channel_id, m.SlackMessage.thread_ts, m.SlackMessage.ts)
        keys |= {(src, ch, tts or ts) for src, ch, tts, ts in session.execute(rows.where(m.SlackMessage.id.in_(part)))}
    for tss in in_batches(sorted({k[2] for k in keys})):
        wanted = or_(m.SlackMessage.thread_ts.in_(tss), m.SlackMessage.ts.in_(tss))
        for msg in session.scalars(stmt.where(wanted)):
            if (msg.source, msg.channel_id, msg.thread_ts or msg.ts) in keys:
                yield msg


def _slack_threads(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    threads: dict[tuple[str, str, str], list[m.SlackMessage]] = defaultdict(list)
    for msg in sorted(_thread_messages(session, ids), key=lambda x: (x.posted_at, x.id)):
        threads[(msg.source, msg.channel_id, msg.thread_ts or msg.ts)].append(msg)
    people = _slack_people(session)
    for (source, channel_id, thread_ts), msgs in threads.items():
        parent = next((x for x in msgs if x.ts == thread_ts), msgs[0])
        msgs = [parent] + [x for x in msgs if x is not parent]
        account_id = next((x.account_id for x in msgs if x.account_id), None)
        first_line = " ".join(slack_readable(parent.text, people).split())
        title = f"#{parent.channel}: {first_line[:80]}{'…' if len(first_line) > 80 else ''}"
        lines = [f"{x.user_name or x.user_id or 'someone'}: {slack_readable(x.text.strip(), people)}" for x in msgs]
        yield DocumentIn(
            source=source,
            external_id=_doc_id("slack_threads", f"{channel_id}/{thread_ts}"),
            type="slack_thread",
            title=title,
            text=f"#{parent.channel}\n\n" + "\n".join(lines),
            chunks=chunk_turns(acc.context(f"#{parent.channel} thread", account_id), lines),
            account_id=account_id,
            author=parent.user_name,
            owner=acc.owners.get(account_id) if account_id is not None else None,
            occurred_at=parent.posted_at,
            url=_record_url("slack_messages", parent.id),
            record_table="slack_messages",
            record_id=parent.id,
        )


def _invoices(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    payments: dict[int, list[m.Payment]] = defaultdict(list)
    for scope in _of(m.Payment.invoice_id, ids):
        for p in session.scalars(
            select(m.Payment).where(m.Payment.invoice_id.is_not(None), scope).order_by(m.Payment.paid_at)
        ):
            payments[p.invoice_id].append(p)  # type: ignore[index]
    for inv in _records(session, m.Invoice, ids):
        account = acc.names.get(inv.account_id) if inv.account_id else None
        title = f"Invoice {inv.number}" + (f" — {account}" if account else "")
        period = f", service period {inv.period_start:%B %Y}" if inv.period_start else ""
        status = {
            "paid": f"paid on {inv.paid_on}" if inv.paid_on else "paid",
            "open": "open (unpaid)",
            "void": "void",
        }.get(inv.status, inv.status)
        lines = [
            f"Invoice {inv.number} to {account or 'an unknown account'}: {inv.kind}{period}.",
            f"Amount {_money(inv.amount, inv.currency)}. Issued {inv.issued_on}, due {inv.due_on}. Status: {status}.",
        ]
        for p in payments.get(inv.id, []):
            how = f" by {p.method}" if p.method else ""
            lines.append(f"Payment of {_money(p.amount, p.currency)}{how} on {p.paid_at:%Y-%m-%d}: {p.status}.")
        body = "\n".join(lines)
        yield DocumentIn(
            source=inv.source,
            external_id=_doc_id("invoices", inv.external_id),
            type="invoice",
            title=title,
            text=f"{title}\n\n{body}",
            chunks=chunk_paragraphs(title, body),
            account_id=inv.account_id,
            owner=acc.owners.get(inv.account_id),
            occurred_at=_at(inv.issued_on),
            url=_record_url("invoices", inv.id),
            record_table="invoices",
            record_id=inv.id,
        )


def _deals(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    for d in _records(session, m.Deal, ids):
        account = acc.names.get(d.account_id) if d.account_id else None
        stage = d.stage.replace("_", " ")
        parts = [
            f"{d.deal_type.capitalize()} deal {d.name}" + (f" with {account}" if account else "") + f", stage {stage},",
            f"amount {_money(d.amount, d.currency)}",
        ]
        if d.close_date:
            parts.append(f"{'closed' if d.closed_at else 'expected to close'} {d.close_date}")
        if d.owner:
            parts.append(f"owner {d.owner}")
        body = ", ".join(parts[1:])
        body = f"{parts[0]} {body}."
        yield DocumentIn(
            source=d.source,
            external_id=_doc_id("deals", d.external_id),
            type="deal",
            title=d.name,
            text=f"{d.name}\n\n{body}",
            chunks=chunk_paragraphs(acc.context(d.name, d.account_id), body),
            account_id=d.account_id,
            author=d.owner,
            owner=d.owner or acc.owners.get(d.account_id),
            occurred_at=d.created_at,
            url=_record_url("deals", d.id),
            record_table="deals",
            record_id=d.id,
        )


def _accounts(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    for a in _records(session, m.Account, ids):
        where = ", ".join(x for x in (a.city, a.state) if x)
        seg = (a.segment or "").replace("_", "-")
        lines = [
            f"{a.name}"
            + (f" ({a.domain})" if a.domain else "")
            + (f", a {seg} property management company" if seg else "")
            + (f" in {where}" if where else "")
            + (f", managing {a.units_managed:,} units." if a.units_managed else ".")
        ]
        stage = f"Lifecycle stage: {a.lifecycle_stage}"
        if a.customer_since:
            stage += f", customer since {a.customer_since}"
        if a.churned_on:
            stage += f", churned on {a.churned_on}"
        lines.append(stage + ".")
        if a.arr:
            lines.append(f"ARR {_money(a.arr)}.")
        if a.health:
            lines.append(
                f"Health: {a.health.replace('_', ' ')}"
                + (f" (score {a.health_score})." if a.health_score is not None else ".")
            )
        if a.products:
            lines.append("Products: " + ", ".join(str(p) for p in a.products) + ".")
        if a.pms:
            lines.append(f"Property-management system: {a.pms}.")
        if a.owner:
            lines.append(f"Account owner: {a.owner}.")
        body = " ".join(lines)
        yield DocumentIn(
            source=a.source,
            external_id=_doc_id("accounts", a.external_id),
            type="account",
            title=a.name,
            text=f"{a.name}\n\n{body}",
            chunks=chunk_paragraphs(a.name, body),
            account_id=a.id,
            owner=a.owner,
            occurred_at=_at(a.customer_since) or a.created_at,
            url=_record_url("accounts", a.id),
            record_table="accounts",
            record_id=a.id,
        )


def _employees(session: Session) -> dict[int, m.Employee]:
    return {e.id: e for e in session.scalars(select(m.Employee))}


def _reviews(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    people = _employees(session)
    for r in _records(session, m.Review, ids):
        if not (r.body or "").strip():
            continue
        person = people.get(r.employee_id) if r.employee_id else None
        name = person.name if person else "an employee"
        title = f"Performance review: {name} ({r.cycle})"
        rating = f"Rating {r.rating} of 5. " if r.rating is not None else ""
        body = f"{rating}Reviewer: {r.reviewer_email or 'unknown'}.\n\n{(r.body or '').strip()}"
        yield DocumentIn(
            source=r.source,
            external_id=_doc_id("reviews", r.external_id),
            type="review",
            title=title,
            text=f"{title}\n\n{body}",
            chunks=chunk_paragraphs(title, body),
            author=r.reviewer_email,
            owner=person.manager_email if person else None,
            occurred_at=r.submitted_at,
            min_role="admin",
            url=_record_url("reviews", r.id),
            record_table="reviews",
            record_id=r.id,
        )


def _goals(session: Session, acc: _Accounts, ids: Sequence[int] | None) -> Iterator[DocumentIn]:
    people = _employees(session)
    for g in _records(session, m.Goal, ids):
        person = people.get(g.employee_id) if g.employee_id else None
        name = person.name if person else "an employee"
        body = (
            f"Goal of {name}"
            + (f" ({person.title}, {person.department})" if person and person.title else "")
            + f": {g.title}. Status: {g.status.replace('_', ' ')}, {round((g.progress or 0) * 100)}% done"
            + (f", due {g.due_on}." if g.due_on else ".")
        )
        yield DocumentIn(
            source=g.source,
            external_id=_doc_id("goals", g.external_id),
            type="goal",
            title=g.title,
            text=f"{g.title}\n\n{body}",
            chunks=chunk_paragraphs(f"Goal: {g.title}", body),
            author=person.email if person else None,
            owner=person.manager_email if person else None,
            occurred_at=g.created_at,
            url=_record_url("goals", g.id),
            record_table="goals",
            record_id=g.id,
        )


#: entity name (as in core.ingest.service.ENTITIES) -> builder. Payments are part of their invoice's
#: document; transcript segments and participants part of their call's.
BUILDERS: dict[str, Builder] = {
    "accounts": _accounts,
    "deals": _deals,
    "activities": _activities,
    "calls": _calls,
    "slack_messages": _slack_threads,
    "invoices": _invoices,
    "reviews": _reviews,
    "goals": _goals,
}
#: The record tables whose documents each builder owns (a document of one of them whose record is gone
#: is deleted by the next run of that builder).
RECORD_TABLES: dict[str, str] = {
    "accounts": "accounts",
    "deals": "deals",
    "activities": "activities",
    "calls": "calls",
    "slack_messages": "slack_messages",
    "invoices": "invoices",
    "reviews": "reviews",
    "goals": "goals",
}


def build_documents(
    *, session: Session, entities: Sequence[str] | None = None, record_ids: Mapping[str, Sequence[int]] | None = None
) -> Iterator[tuple[str, DocumentIn]]:
    """(entity, document) for every text-bearing record of these entities (all by default); with
    ``record_ids`` (entity -> ids), only the documents of those records (a Slack message: its thread's)."""
    from core.errors import InvalidInput

    chosen = list(BUILDERS) if entities is None else list(entities)
    if record_ids is not None:
        chosen = [e for e in chosen if record_ids.get(e)] + [e for e in record_ids if e not in BUILDERS]
    unknown = [e for e in chosen if e not in BUILDERS]
    if unknown:
        raise InvalidInput(f"no documents are built from {', '.join(unknown)}; expected some of {', '.join(BUILDERS)}")
    acc = _Accounts.load(session)
    for entity in chosen:
        for doc in BUILDERS[entity](session, acc, None if record_ids is None else record_ids[entity]):
            yield entity, doc
