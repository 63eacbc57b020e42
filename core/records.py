"""One record by its table and external id, for the record page: a deal, an invoice, a month of rent, a contact
... whether or not search has a document for it (insight evidence points at records either way).

Only the tables in ``RECORD_TABLES`` can be read, each from a least role; a record that has a search document
also needs that document's role. Like ``core.search.service.get_document``, "not found" does not tell whether
the record is missing or not the caller's to see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import ROLE_RANK, Identity
from core.db import models as m
from core.db.batches import in_batches
from core.db.models.base import SourceRecord
from core.errors import InvalidInput, NotFound

__all__ = ["RECORD_TABLES", "RecordTable", "RecordView", "documents_of", "get_record", "record_label"]


@dataclass(frozen=True)
class RecordTable:
    model: type[SourceRecord]
    kind: str  # "Deal": what one record is called
    title_field: str  # the field that names it
    min_role: str = "viewer"


RECORD_TABLES: dict[str, RecordTable] = {
    "accounts": RecordTable(m.Account, "Account", "name"),
    "deals": RecordTable(m.Deal, "Deal", "name"),
    "invoices": RecordTable(m.Invoice, "Invoice", "number"),
    "payments": RecordTable(m.Payment, "Payment", "external_id"),
    "rent_payment_volumes": RecordTable(m.RentPaymentVolume, "Rent month", "month"),
    "contacts": RecordTable(m.Contact, "Contact", "email"),
    "job_changes": RecordTable(m.JobChange, "Job change", "person_name"),
    "calls": RecordTable(m.Call, "Call", "title"),
    "activities": RecordTable(m.Activity, "Activity", "subject"),
    "slack_messages": RecordTable(m.SlackMessage, "Slack message", "channel"),
    "employees": RecordTable(m.Employee, "Employee", "name"),
    "prospects": RecordTable(m.Prospect, "Prospect", "company_name"),
    "reviews": RecordTable(m.Review, "Performance review", "cycle", min_role="admin"),
    "goals": RecordTable(m.Goal, "Goal", "title", min_role="admin"),
}
HIDDEN_FIELDS = {"id", "raw", "account_id", "ingested_at"}  # the account is shown by name instead


@dataclass(frozen=True)
class RecordView:
    table: str
    kind: str
    title: str
    source: str
    external_id: str
    fields: dict[str, Any]  # column -> value (dates, numbers, text), in the table's column order
    account_external_id: str | None
    account_name: str | None
    doc_id: int | None  # its search document, when it has one the caller may see


def _allowed(identity: Identity, role: str) -> bool:
    return ROLE_RANK.get(identity.role, 0) >= ROLE_RANK.get(role, 0)


def _title(spec: RecordTable, row: SourceRecord) -> str:
    value = getattr(row, spec.title_field, None)
    if isinstance(value, date | datetime):
        value = f"{value:%B %Y}" if spec.model is m.RentPaymentVolume else value.isoformat()
    if spec.model is m.Contact:
        name = " ".join(p for p in (getattr(row, "first_name", None), getattr(row, "last_name", None)) if p)
        value = name or value
    return f"{spec.kind} {value}" if value else f"{spec.kind} {row.external_id}"


def get_record(
    *, session: Session, identity: Identity, table: str, external_id: str, source: str | None = None
) -> RecordView:
    """The record of ``table`` with this external id (and ``source``, when two sources share an id)."""
    spec = RECORD_TABLES.get(table)
    if spec is None:
        raise InvalidInput(f"no record table {table!r}; expected one of {', '.join(sorted(RECORD_TABLES))}")
    missing = NotFound(f"no {table} record {external_id}")
    if not _allowed(identity, spec.min_role):
        raise missing
    model: Any = spec.model
    q = select(model).where(model.external_id == external_id)
    if source:
        q = q.where(model.source == source)
    row = session.scalars(q.order_by(model.id).limit(1)).first()
    if row is None:
        raise missing
    doc = session.execute(
        select(m.Document.id, m.Document.min_role).where(
            m.Document.record_table == table, m.Document.record_id == row.id
        )
    ).first()
    if doc is not None and not _allowed(identity, doc.min_role):
        raise missing
    account = None
    account_id = getattr(row, "account_id", None)
    if account_id is not None:
        account = session.get(m.Account, account_id)
    if spec.model is m.Account:
        account = row
    fields = {c.key: getattr(row, c.key) for c in spec.model.__table__.columns if c.key not in HIDDEN_FIELDS}
    return RecordView(
        table=table,
        kind=spec.kind,
        title=_title(spec, row),
        source=row.source,
        external_id=row.external_id,
        fields=fields,
        account_external_id=account.external_id if account else None,
        account_name=account.name if account else None,
        doc_id=doc.id if doc is not None else None,
    )


def documents_of(session: Session, table: str, ids: Iterable[int]) -> dict[int, int]:
    """record id -> its search document's id, for the records of ``table`` that have one."""
    found: dict[int, int] = {}
    for part in in_batches(sorted(set(ids))):
        q = select(m.Document.record_id, m.Document.id).where(
            m.Document.record_table == table, m.Document.record_id.in_(part)
        )
        found.update((r, d) for r, d in session.execute(q) if r is not None)
    return found


def record_label(table: str) -> str:
    """What one record of ``table`` is called ("Deal"); the table's name when it is not a record table."""
    spec = RECORD_TABLES.get(table)
    return spec.kind if spec else table.replace("_", " ")
