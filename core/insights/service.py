"""Reading and acting on insights, the same for every face (CLI, pages, API): the feed with its filters,
one insight, and the lifecycle a person moves it through (acknowledge, resolve, snooze), each audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.auth import ROLE_RANK, Identity
from core.db.models import SEVERITIES, Account, Insight
from core.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "FILTER_STATUSES",
    "InsightFilters",
    "acknowledge",
    "get_insight",
    "insight_dict",
    "list_insights",
    "resolve",
    "snooze",
]

FILTER_STATUSES = ("new", "acknowledged", "resolved", "snoozed", "open")  # open: new or acknowledged, not snoozed
SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "severity": (Insight.severity_rank.asc(), Insight.last_seen.desc()),  # the feed: most severe, newest first
    "newest": (Insight.first_seen.desc(), Insight.severity_rank.asc()),
    "score": (Insight.score.desc(), Insight.severity_rank.asc()),
}
MAX_LIMIT = 500


@dataclass(frozen=True)
class InsightFilters:
    type: str | None = None
    severity: str | None = None  # this severity or worse
    status: str | None = None  # one of FILTER_STATUSES
    account: str | None = None  # the account's external id
    owner: str | None = None
    subject_table: str | None = None
    subject_external_id: str | None = None

    def check(self) -> None:
        if self.status is not None and self.status not in FILTER_STATUSES:
            raise InvalidInput(f"status {self.status!r}: expected one of {', '.join(FILTER_STATUSES)}")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise InvalidInput(f"severity {self.severity!r}: expected one of {', '.join(SEVERITIES)}")


def _visible(identity: Identity) -> ColumnElement[bool]:
    ranks = [role for role, rank in ROLE_RANK.items() if rank <= ROLE_RANK.get(identity.role, 0)]
    return Insight.min_role.in_(ranks)


def _where(session: Session, filters: InsightFilters, now: datetime) -> list[ColumnElement[bool]]:
    filters.check()
    snoozed = and_(Insight.snoozed_until.is_not(None), Insight.snoozed_until > now)
    conds: list[ColumnElement[bool]] = []
    if filters.type:
        conds.append(Insight.type == filters.type)
    if filters.severity:
        conds.append(Insight.severity_rank <= SEVERITIES.index(filters.severity))
    if filters.status == "snoozed":
        conds += [Insight.status != "resolved", snoozed]
    elif filters.status == "open":
        conds += [Insight.status.in_(("new", "acknowledged")), ~snoozed]
    elif filters.status in ("new", "acknowledged"):
        conds += [Insight.status == filters.status, or_(Insight.snoozed_until.is_(None), ~snoozed)]
    elif filters.status == "resolved":
        conds.append(Insight.status == "resolved")
    if filters.account:
        account_id = session.scalar(select(Account.id).where(Account.external_id == filters.account))
        conds.append(Insight.account_id == account_id if account_id is not None else Insight.id < 0)
    if filters.owner:
        conds.append(Insight.owner == filters.owner)
    if filters.subject_table:
        conds.append(Insight.subject_table == filters.subject_table)
    if filters.subject_external_id:
        conds.append(Insight.subject_external_id == filters.subject_external_id)
    return conds


def list_insights(
    *,
    session: Session,
    identity: Identity,
    filters: InsightFilters | None = None,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
    sort: str = "severity",
) -> tuple[list[Insight], int]:
    """The insights ``identity`` may see that match ``filters``, a page of them and how many there are."""
    if sort not in SORTS:
        raise InvalidInput(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset 0 or more")
    conds = [_visible(identity), *_where(session, filters or InsightFilters(), now)]
    total = session.scalar(select(func.count()).select_from(Insight).where(*conds)) or 0
    q = select(Insight).where(*conds).order_by(*SORTS[sort], Insight.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(q)), total


def get_insight(*, session: Session, identity: Identity, insight_id: int) -> Insight:
    row = session.get(Insight, insight_id)
    if row is None or ROLE_RANK.get(row.min_role, 0) > ROLE_RANK.get(identity.role, 0):
        raise NotFound(f"no insight {insight_id}")
    return row


def effective_status(row: Insight, now: datetime) -> str:
    if row.status != "resolved" and row.snoozed_until is not None and row.snoozed_until > now:
        return "snoozed"
    return row.status


def acknowledge(*, session: Session, identity: Identity, insight_id: int, now: datetime) -> Insight:
    row = get_insight(session=session, identity=identity, insight_id=insight_id)
    if row.status == "resolved":
        raise Conflict(f"insight {insight_id} is already resolved")
    if row.status != "acknowledged":
        row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", now, identity.actor
        audit(session=session, actor=identity.actor, action="insight.acknowledge", target=str(insight_id))
    return row


def resolve(
    *, session: Session, identity: Identity, insight_id: int, now: datetime, note: str | None = None
) -> Insight:
    row = get_insight(session=session, identity=identity, insight_id=insight_id)
    if row.status != "resolved":
        row.status, row.resolved_at, row.resolved_by, row.resolution = "resolved", now, identity.actor, "person"
        row.snoozed_until = None
        details = {"note": note} if note else {}
        audit(session=session, actor=identity.actor, action="insight.resolve", target=str(insight_id), details=details)
    return row


def snooze(*, session: Session, identity: Identity, insight_id: int, until: date | datetime, now: datetime) -> Insight:
    """Hide an open insight from the open feed (and from delivery) until ``until`` (a date: its start, UTC)."""
    moment = until if isinstance(until, datetime) else datetime.combine(until, time(0), tzinfo=UTC)
    if moment <= now:
        raise InvalidInput(f"snooze until {moment:%Y-%m-%d %H:%M} UTC: that is not in the future")
    row = get_insight(session=session, identity=identity, insight_id=insight_id)
    if row.status == "resolved":
        raise Conflict(f"insight {insight_id} is resolved; there is nothing to snooze")
    row.snoozed_until, row.snoozed_by = moment, identity.actor
    audit(
        session=session,
        actor=identity.actor,
        action="insight.snooze",
        target=str(insight_id),
        details={"until": moment.isoformat()},
    )
    return row


def insight_dict(row: Insight, *, now: datetime) -> dict[str, Any]:
    """The item shape of `sophia insights list --json` and ``GET /api/v1/insights``."""
    return {
        "id": row.id,
        "type": row.type,
        "severity": row.severity,
        "status": effective_status(row, now),
        "title": row.title,
        "score": row.score,
        "reasons": list(row.reasons),
        "subject": {"table": row.subject_table, "external_id": row.subject_external_id, "name": row.subject_name},
        "evidence": [
            {"table": e.get("table"), "external_id": e.get("external_id"), "doc_id": e.get("doc_id")}
            | ({"label": e["label"]} if e.get("label") else {})
            for e in row.evidence
        ],
        "fingerprint": row.fingerprint,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "owner": row.owner,
        "snoozed_until": row.snoozed_until.isoformat() if row.snoozed_until else None,
        "resolved_by": row.resolved_by,
        "resolution": row.resolution,
    }
