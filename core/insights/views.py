"""The insights feed as the pages show it: each insight with its account (name and external id, for the link to
the account page) and its owner's name, and the choices of the feed's filters. Reading only; the lifecycle is
in ``service``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import Identity
from core.db.models import Account, Employee, Insight
from core.insights.detectors import all_detectors
from core.insights.service import InsightFilters, _visible, effective_status, get_insight, list_insights

__all__ = ["FeedItem", "FeedOptions", "FeedPage", "feed_item", "feed_options", "insight_feed"]


@dataclass(frozen=True)
class FeedItem:
    """One insight, with what its card needs besides the stored row."""

    id: int
    type: str
    severity: str
    status: str  # effective: new | acknowledged | resolved | snoozed
    title: str
    score: float
    reasons: list[str]
    evidence: list[dict[str, Any]]  # {"table", "external_id", "doc_id", "label"?}
    details: dict[str, Any]
    subject_table: str
    subject_external_id: str
    subject_name: str
    account_external_id: str | None
    account_name: str | None
    owner: str | None
    owner_name: str | None
    first_seen: datetime
    last_seen: datetime
    snoozed_until: datetime | None
    acknowledged_by: str | None
    resolved_by: str | None
    resolution: str | None
    summary: str | None = None

    @property
    def series(self) -> dict[str, Any] | None:
        """The chart that explains the finding: ``{"label", "unit", "points": [[iso_date, value], ...]}``."""
        s = self.details.get("series")
        return s if isinstance(s, dict) and s.get("points") else None

    @property
    def is_open(self) -> bool:
        return self.status in ("new", "acknowledged", "snoozed")


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    total: int  # how many match, over all pages


@dataclass(frozen=True)
class FeedOptions:
    """What the feed's filters offer: the types (every detector's, and any stored), the accounts and the owners
    that have insights the caller may see."""

    types: list[str]
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (external id, name), by name
    owners: list[tuple[str, str]] = field(default_factory=list)  # (email, name), by name


def _names(session: Session, rows: list[Insight]) -> tuple[dict[int, tuple[str, str]], dict[str, str]]:
    account_ids = {r.account_id for r in rows if r.account_id is not None}
    accounts: dict[int, tuple[str, str]] = {}
    if account_ids:
        q = select(Account.id, Account.external_id, Account.name).where(Account.id.in_(account_ids))
        accounts = {i: (ext, name) for i, ext, name in session.execute(q)}
    emails = {r.owner for r in rows if r.owner}
    owners: dict[str, str] = {}
    if emails:
        owners = dict(session.execute(select(Employee.email, Employee.name).where(Employee.email.in_(emails))).all())
    return accounts, owners


def _item(row: Insight, *, now: datetime, accounts: dict[int, tuple[str, str]], owners: dict[str, str]) -> FeedItem:
    account = accounts.get(row.account_id) if row.account_id is not None else None
    return FeedItem(
        id=row.id,
        type=row.type,
        severity=row.severity,
        status=effective_status(row, now),
        title=row.title,
        score=row.score,
        reasons=[str(r) for r in row.reasons],
        evidence=[dict(e) for e in row.evidence],
        details=dict(row.details or {}),
        subject_table=row.subject_table,
        subject_external_id=row.subject_external_id,
        subject_name=row.subject_name,
        account_external_id=account[0] if account else None,
        account_name=account[1] if account else None,
        owner=row.owner,
        owner_name=owners.get(row.owner) if row.owner else None,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        snoozed_until=row.snoozed_until,
        acknowledged_by=row.acknowledged_by,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        summary=row.summary,
    )


def insight_feed(
    *,
    session: Session,
    identity: Identity,
    filters: InsightFilters | None = None,
    now: datetime,
    limit: int = 20,
    offset: int = 0,
    sort: str = "severity",
) -> FeedPage:
    """A page of the feed ``identity`` may see (``service.list_insights``), each item ready for its card."""
    rows, total = list_insights(
        session=session, identity=identity, filters=filters, now=now, limit=limit, offset=offset, sort=sort
    )
    accounts, owners = _names(session, rows)
    return FeedPage(items=[_item(r, now=now, accounts=accounts, owners=owners) for r in rows], total=total)


def feed_item(*, session: Session, identity: Identity, insight_id: int, now: datetime) -> FeedItem:
    """One insight ``identity`` may see (``NotFound`` otherwise), ready for its card."""
    row = get_insight(session=session, identity=identity, insight_id=insight_id)
    accounts, owners = _names(session, [row])
    return _item(row, now=now, accounts=accounts, owners=owners)


def feed_options(*, session: Session, identity: Identity) -> FeedOptions:
    visible = _visible(identity)
    stored = set(session.scalars(select(Insight.type).where(visible).distinct()))
    types = sorted(set(all_detectors()) | stored)
    accounts = session.execute(
        select(Account.external_id, Account.name)
        .where(Account.id.in_(select(Insight.account_id).where(visible, Insight.account_id.is_not(None))))
        .order_by(Account.name, Account.id)
    ).all()
    emails = set(session.scalars(select(Insight.owner).where(visible, Insight.owner.is_not(None)).distinct()))
    names: dict[str, str] = {}
    if emails:
        names = dict(session.execute(select(Employee.email, Employee.name).where(Employee.email.in_(emails))).all())
    owners = sorted(((e, names.get(e) or e) for e in emails if e), key=lambda o: o[1].lower())
    unique = {ext: name for ext, name in reversed(accounts)}  # two sources sharing an id: the first stored
    by_name = sorted(unique.items(), key=lambda a: (a[1].lower(), a[0]))
    return FeedOptions(types=types, accounts=by_name, owners=owners)
