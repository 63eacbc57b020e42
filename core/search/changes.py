"""What changed since search indexing last looked: the records to (re)build and the documents to delete.

Indexing follows the records' ``ingested_at`` (set by every write of ``core.ingest``) from a durable
watermark, a ``meta`` row written only when a run succeeds: a process that dies, or a bus that is down, loses
nothing, the next run reads from the same watermark again. Rows are read from ``OVERLAP_S`` before it: a
transaction stamps ``ingested_at`` when it writes and becomes visible when it commits, so a row stamped
before the watermark may appear after a run read past it; any write transaction shorter than the overlap is
seen (the runner commits a page at a time). Re-reading the overlap costs little: an unchanged document
compares equal by its content hash and does no work.

A record's document also depends on other records: an account's name and owner appear in the documents of
its deals, activities, calls, Slack threads and invoices; payments belong to their invoice's document; a
reviewed employee's name to their reviews and goals; a Slack message to its thread. ``affected`` follows those
links.

Deletes leave no row to read. Per record table the watermark keeps the row count and the highest id; a table
whose count is not the old count plus the rows added above that id lost rows (or gained one out of id order),
and only then are its documents checked against its records (``orphans``). A deleted Slack reply or payment
changes a document whose own record remains: the daily full run (``sophia reindex --full``) catches that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import models as m
from core.db.batches import in_batches
from core.db.types import utcnow
from core.search.documents import RECORD_TABLES

__all__ = ["OVERLAP_S", "WATERMARK_KEY", "Changes", "Watermark", "affected", "read_changes", "save_watermark"]

#: The ``meta`` row holding the watermark.
WATERMARK_KEY = "search_index_watermark"
#: Rows stamped this long before the watermark are read again (see the module notes).
OVERLAP_S = 300

#: The tables whose rows change documents: each document-bearing entity, and the records they include.
MODELS: dict[str, Any] = {
    "accounts": m.Account,
    "deals": m.Deal,
    "activities": m.Activity,
    "calls": m.Call,
    "slack_messages": m.SlackMessage,
    "invoices": m.Invoice,
    "payments": m.Payment,
    "employees": m.Employee,
    "reviews": m.Review,
    "goals": m.Goal,
}
#: Entities whose documents name their account (its name in the context line, its owner as the owner).
BY_ACCOUNT = ("deals", "activities", "calls", "slack_messages", "invoices")
#: Entities whose documents name their employee.
BY_EMPLOYEE = ("reviews", "goals")


@dataclass(frozen=True)
class Watermark:
    """How far indexing has read: records ingested up to ``at``, and each table's (row count, highest id)."""

    at: datetime | None = None
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    full_at: datetime | None = None  # when the last full run started
    model: str | None = None  # the embedding model every chunk had a vector of, as of ``at``

    @classmethod
    def load(cls, session: Session) -> Watermark:
        row = session.get(m.Meta, WATERMARK_KEY)
        if row is None or not row.value.get("at"):
            return cls()
        tables = {t: (int(c), int(x)) for t, (c, x) in (row.value.get("tables") or {}).items()}
        full = row.value.get("full_at")
        return cls(
            datetime.fromisoformat(row.value["at"]),
            tables,
            datetime.fromisoformat(full) if full else None,
            row.value.get("model"),
        )

    def full_due(self, every_s: float) -> bool:
        """True when no full run started within ``every_s`` seconds (never before the first run, which is
        itself a full one)."""
        if self.at is None:
            return False
        return self.full_at is None or (utcnow() - self.full_at).total_seconds() >= every_s


@dataclass
class Changes:
    """One read of what changed: the records to build (entity -> ids), the tables that lost rows, and the
    watermark to save once they are indexed."""

    records: dict[str, set[int]]
    shrunk: list[str]
    next: Watermark

    @property
    def empty(self) -> bool:
        return not any(self.records.values()) and not self.shrunk


def table_marks(session: Session) -> dict[str, tuple[int, int]]:
    """(row count, highest id) of every table that changes documents."""
    out = {}
    for name, model in MODELS.items():
        count, top = session.execute(select(func.count(), func.max(model.id)).select_from(model)).one()
        out[name] = (count or 0, top or 0)
    return out


def read_changes(*, session: Session, since: Watermark) -> Changes:
    """The records ingested since the watermark (less the overlap) and the tables that lost rows. Without a
    watermark (the first run) every record is changed."""
    now = utcnow()
    marks = table_marks(session)
    if since.at is None:
        records = {e: set(session.scalars(select(MODELS[e].id))) for e in RECORD_TABLES}
        return Changes(records, [], Watermark(now, marks, since.full_at, since.model))
    after = since.at - timedelta(seconds=OVERLAP_S)
    changed = {
        name: set(session.scalars(select(model.id).where(model.ingested_at >= after))) for name, model in MODELS.items()
    }
    next_mark = Watermark(now, marks, since.full_at, since.model)
    return Changes(affected(session=session, changed=changed), _shrunk(session, since, marks), next_mark)


def _shrunk(session: Session, since: Watermark, marks: Mapping[str, tuple[int, int]]) -> list[str]:
    out = []
    for name in RECORD_TABLES:
        if name not in since.tables:
            out.append(name)
            continue
        count, top = since.tables[name]
        model = MODELS[name]
        added = session.scalar(select(func.count()).select_from(model).where(model.id > top)) or 0
        if marks[name][0] != count + added:
            out.append(name)
    return out


def affected(*, session: Session, changed: Mapping[str, Collection[int]]) -> dict[str, set[int]]:
    """The records whose documents these changed records (table -> ids) touch, per document entity."""
    out: dict[str, set[int]] = defaultdict(set)
    for entity in RECORD_TABLES:
        out[entity] |= set(changed.get(entity, ()))
    accounts = sorted(changed.get("accounts", ()))
    for entity in BY_ACCOUNT:
        out[entity] |= _where_in(session, MODELS[entity], MODELS[entity].account_id, accounts)
    out["invoices"] |= {
        i for i in _column_of(session, m.Payment.invoice_id, m.Payment.id, sorted(changed.get("payments", ()))) if i
    }
    employees = sorted(changed.get("employees", ()))
    for entity in BY_EMPLOYEE:
        out[entity] |= _where_in(session, MODELS[entity], MODELS[entity].employee_id, employees)
    return {e: ids for e, ids in out.items() if ids}


def _where_in(session: Session, model: Any, column: Any, values: list[int]) -> set[int]:
    return set(_column_of(session, model.id, column, values))


def _column_of(session: Session, wanted: Any, column: Any, values: list[int]) -> list[Any]:
    found: list[Any] = []
    for part in in_batches(values):
        found += session.scalars(select(wanted).where(column.in_(part)))
    return found


def orphans(*, session: Session, entity: str) -> list[int]:
    """Ids of the documents of this entity whose record is gone."""
    model = MODELS[entity]
    gone = ~select(model.id).where(model.id == m.Document.record_id).exists()
    return list(session.scalars(select(m.Document.id).where(m.Document.record_table == RECORD_TABLES[entity], gone)))


def save_watermark(*, session: Session, mark: Watermark) -> None:
    """Record how far indexing has read (after the run that read it succeeded)."""
    value = {
        "at": mark.at.isoformat() if mark.at else None,
        "tables": {t: list(v) for t, v in mark.tables.items()},
        "full_at": mark.full_at.isoformat() if mark.full_at else None,
        "model": mark.model,
    }
    row = session.get(m.Meta, WATERMARK_KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(m.Meta(key=WATERMARK_KEY, value=value))
            return
        except IntegrityError:
            row = session.get(m.Meta, WATERMARK_KEY)
    row.value = value  # type: ignore[union-attr]
    row.updated_at = utcnow()  # type: ignore[union-attr]


def pending_records(*, session: Session) -> int:
    """Records not searchable yet: those ingested after the watermark (every record before the first run)."""
    since = Watermark.load(session)
    total = 0
    for name in RECORD_TABLES:
        model = MODELS[name]
        stmt = select(func.count()).select_from(model)
        if since.at is not None:
            stmt = stmt.where(model.ingested_at > since.at)
        total += session.scalar(stmt) or 0
    return total
