"""Everything one needs before a call with a customer, in one call: the account page's numbers, its recent
records and its open insights (what makes its health, with the reasons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.accounts import get_account_by_external_id
from core.auth import Identity
from core.db.models import (
    Account,
    Call,
    Contact,
    Deal,
    Employee,
    Invoice,
    JobChange,
    RentPaymentVolume,
    SlackMessage,
)
from core.insights.service import InsightFilters
from core.insights.views import FeedItem, insight_feed
from core.metrics.filters import add_months, last_complete_month, money, months_ending
from core.metrics.stages import OPEN_STAGES, label, probability
from core.records import documents_of

__all__ = ["AccountView", "account_view"]

RENT_MONTHS = 12
RECENT_INVOICES = 12
RECENT_CALLS = 8
RECENT_THREADS = 8
OPEN_INSIGHTS = 50
RENT_COLUMNS = ["month", "payments", "failed", "volume", "failure_rate"]
INVOICE_COLUMNS = [
    "external_id",
    "number",
    "kind",
    "period_start",
    "issued_on",
    "due_on",
    "amount",
    "status",
    "paid_on",
]
INVOICE_COLUMNS += ["state", "days_late", "doc_id"]
DEAL_COLUMNS = ["external_id", "name", "stage", "stage_label", "amount", "weighted", "close_date", "owner"]
DEAL_COLUMNS += ["days_in_stage", "doc_id"]


@dataclass(frozen=True)
class CallItem:
    external_id: str
    title: str
    started_at: datetime
    owner: str | None
    sentiment: float | None
    duration_s: int
    doc_id: int | None


@dataclass(frozen=True)
class ThreadItem:
    external_id: str  # the thread's first message
    channel: str
    text: str
    posted_at: datetime
    replies: int
    doc_id: int | None


@dataclass(frozen=True)
class Champion:
    external_id: str
    name: str
    title: str | None
    email: str | None
    left_for: str | None  # the company of their job change away, when there is one
    new_title: str | None
    changed_at: datetime | None


@dataclass(frozen=True)
class JobChangeItem:
    external_id: str
    person_name: str
    previous_title: str | None
    new_company: str | None
    new_title: str | None
    detected_at: datetime
    champion: bool


@dataclass(frozen=True)
class AccountView:
    """One account as the account page shows it. ``rent`` per month (oldest first): payments, failed, volume
    (USD collected) and failure_rate (failed ÷ payments; None without payments). ``invoices`` the recent
    ones, newest first, each with its ``state``: paid | paid_late | open | overdue | void and ``days_late``
    (paid after, or still open past, the due day). ``open_deals`` by close date."""

    id: int
    external_id: str
    name: str
    source: str
    domain: str | None
    segment: str | None
    lifecycle_stage: str
    stage_changed_at: datetime | None
    customer_since: date | None
    churned_on: date | None
    arr: float
    health: str | None
    health_score: int | None
    units_managed: int | None
    products: list[str]
    pms: str | None
    owner: str | None
    owner_name: str | None
    city: str | None
    state: str | None
    as_of: date
    rent: pd.DataFrame = field(repr=False)
    invoices: pd.DataFrame = field(repr=False)
    late_invoices: int = 0  # of the recent ones: paid late or overdue
    overdue_amount: float = 0.0
    open_deals: pd.DataFrame = field(repr=False, default_factory=lambda: pd.DataFrame(columns=DEAL_COLUMNS))
    calls: list[CallItem] = field(default_factory=list)
    threads: list[ThreadItem] = field(default_factory=list)
    champions: list[Champion] = field(default_factory=list)
    job_changes: list[JobChangeItem] = field(default_factory=list)
    insights: list[FeedItem] = field(default_factory=list)  # open ones the caller may see, most severe first

    @property
    def last_rent(self) -> pd.Series | None:
        """The last complete month's rent row, or None without any rent processed."""
        return None if self.rent.empty or not self.rent["payments"].sum() else self.rent.iloc[-1]


def account_view(*, session: Session, identity: Identity, external_id: str, as_of: date, now: datetime) -> AccountView:
    acct = get_account_by_external_id(session=session, external_id=external_id)
    owner_name = (
        session.scalar(select(Employee.name).where(Employee.email == acct.owner).limit(1)) if acct.owner else None
    )
    invoices = _invoices(session, acct, as_of)
    late = invoices[invoices["state"].isin(["paid_late", "overdue"])]
    feed = insight_feed(
        session=session,
        identity=identity,
        filters=InsightFilters(account=acct.external_id, status="open"),
        now=now,
        limit=OPEN_INSIGHTS,
    )
    return AccountView(
        id=acct.id,
        external_id=acct.external_id,
        name=acct.name,
        source=acct.source,
        domain=acct.domain,
        segment=acct.segment,
        lifecycle_stage=acct.lifecycle_stage,
        stage_changed_at=acct.stage_changed_at,
        customer_since=acct.customer_since,
        churned_on=acct.churned_on,
        arr=money(acct.arr),
        health=acct.health,
        health_score=acct.health_score,
        units_managed=acct.units_managed,
        products=[str(p) for p in acct.products or []],
        pms=acct.pms,
        owner=acct.owner,
        owner_name=owner_name,
        city=acct.city,
        state=acct.state,
        as_of=as_of,
        rent=_rent(session, acct.id, as_of),
        invoices=invoices,
        late_invoices=len(late),
        overdue_amount=money(invoices.loc[invoices["state"] == "overdue", "amount"].sum()),
        open_deals=_deals(session, acct.id, now),
        calls=_calls(session, acct.id),
        threads=_threads(session, acct.id),
        champions=_champions(session, acct.id),
        job_changes=_job_changes(session, acct.id),
        insights=feed.items,
    )


def _rent(session: Session, account_id: int, as_of: date) -> pd.DataFrame:
    months = months_ending(last_complete_month(as_of), RENT_MONTHS)
    totals = {mo: [0, 0, 0.0] for mo in months}
    q = select(
        RentPaymentVolume.month,
        RentPaymentVolume.payments_count,
        RentPaymentVolume.failed_count,
        RentPaymentVolume.volume,
    ).where(
        RentPaymentVolume.account_id == account_id,
        RentPaymentVolume.month >= months[0],
        RentPaymentVolume.month < add_months(months[-1], 1),
    )
    for month, payments, failed, volume in session.execute(q):
        t = totals[month.replace(day=1)]
        t[0] += int(payments or 0)
        t[1] += int(failed or 0)
        t[2] += float(volume or 0)
    rows = [
        {"month": mo, "payments": p, "failed": f, "volume": money(v), "failure_rate": f / p if p else None}
        for mo, (p, f, v) in totals.items()
    ]
    return pd.DataFrame(rows, columns=RENT_COLUMNS)


def _invoice_state(inv: Invoice, as_of: date) -> tuple[str, int | None]:
    if inv.status == "void":
        return "void", None
    if inv.status == "paid":
        if inv.paid_on is not None and inv.paid_on > inv.due_on:
            return "paid_late", (inv.paid_on - inv.due_on).days
        return "paid", None
    if inv.due_on < as_of:
        return "overdue", (as_of - inv.due_on).days
    return "open", None


def _invoices(session: Session, acct: Account, as_of: date) -> pd.DataFrame:
    q = (
        select(Invoice)
        .where(Invoice.account_id == acct.id, Invoice.issued_on <= as_of)
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
        .limit(RECENT_INVOICES)
    )
    rows = list(session.scalars(q))
    docs = documents_of(session, "invoices", [i.id for i in rows])
    out = []
    for inv in rows:
        state, days = _invoice_state(inv, as_of)
        out.append(
            {
                "external_id": inv.external_id,
                "number": inv.number,
                "kind": inv.kind,
                "period_start": inv.period_start,
                "issued_on": inv.issued_on,
                "due_on": inv.due_on,
                "amount": money(inv.amount),
                "status": inv.status,
                "paid_on": inv.paid_on,
                "state": state,
                "days_late": days,
                "doc_id": docs.get(inv.id),
            }
        )
    return pd.DataFrame(out, columns=INVOICE_COLUMNS)


def _deals(session: Session, account_id: int, now: datetime) -> pd.DataFrame:
    q = (
        select(Deal)
        .where(Deal.account_id == account_id, Deal.stage.in_(OPEN_STAGES))
        .order_by(Deal.close_date.is_(None), Deal.close_date, Deal.id)
    )
    rows = list(session.scalars(q))
    docs = documents_of(session, "deals", [d.id for d in rows])
    out = [
        {
            "external_id": d.external_id,
            "name": d.name,
            "stage": d.stage,
            "stage_label": label(d.stage),
            "amount": money(d.amount),
            "weighted": money(d.amount * probability(d.stage)),
            "close_date": d.close_date,
            "owner": d.owner,
            "days_in_stage": (now - d.stage_entered_at).days if d.stage_entered_at else None,
            "doc_id": docs.get(d.id),
        }
        for d in rows
    ]
    return pd.DataFrame(out, columns=DEAL_COLUMNS)


def _calls(session: Session, account_id: int) -> list[CallItem]:
    q = select(Call).where(Call.account_id == account_id).order_by(Call.started_at.desc(), Call.id.desc())
    rows = list(session.scalars(q.limit(RECENT_CALLS)))
    docs = documents_of(session, "calls", [c.id for c in rows])
    return [
        CallItem(c.external_id, c.title, c.started_at, c.owner, c.sentiment, c.duration_s, docs.get(c.id)) for c in rows
    ]


def _threads(session: Session, account_id: int) -> list[ThreadItem]:
    """The account's latest Slack threads: each thread's first message, and how many replies it has."""
    thread = func.coalesce(SlackMessage.thread_ts, SlackMessage.ts)
    latest = session.execute(
        select(SlackMessage.channel_id, thread.label("thread"), func.max(SlackMessage.posted_at).label("last"))
        .where(SlackMessage.account_id == account_id)
        .group_by(SlackMessage.channel_id, thread)
        .order_by(func.max(SlackMessage.posted_at).desc())
        .limit(RECENT_THREADS)
    ).all()
    found: list[ThreadItem] = []
    parents: list[tuple[SlackMessage, int]] = []
    for channel_id, ts, _ in latest:
        msgs = list(
            session.scalars(
                select(SlackMessage)
                .where(
                    SlackMessage.channel_id == channel_id,
                    or_(SlackMessage.ts == ts, SlackMessage.thread_ts == ts),
                )
                .order_by(SlackMessage.posted_at, SlackMessage.id)
            )
        )
        if msgs:
            parent = next((x for x in msgs if x.ts == ts), msgs[0])
            parents.append((parent, len(msgs) - 1))
    docs = documents_of(session, "slack_messages", [p.id for p, _ in parents])
    for parent, replies in parents:
        found.append(
            ThreadItem(parent.external_id, parent.channel, parent.text, parent.posted_at, replies, docs.get(parent.id))
        )
    return found


def _champions(session: Session, account_id: int) -> list[Champion]:
    contacts = list(
        session.scalars(
            select(Contact)
            .where(Contact.account_id == account_id, Contact.is_champion.is_(True))
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
        )
    )
    changes: dict[int, JobChange] = {}
    if contacts:
        q = select(JobChange).where(JobChange.contact_id.in_([c.id for c in contacts])).order_by(JobChange.detected_at)
        changes = {j.contact_id: j for j in session.scalars(q) if j.contact_id is not None}  # the latest wins
    out = []
    for c in contacts:
        j = changes.get(c.id)
        name = " ".join(p for p in (c.first_name, c.last_name) if p) or c.email or c.external_id
        out.append(
            Champion(
                external_id=c.external_id,
                name=name,
                title=c.title,
                email=c.email,
                left_for=j.new_company if j else None,
                new_title=j.new_title if j else None,
                changed_at=j.detected_at if j else None,
            )
        )
    return out


def _job_changes(session: Session, account_id: int) -> list[JobChangeItem]:
    champions = select(Contact.id).where(Contact.account_id == account_id, Contact.is_champion.is_(True))
    champion_ids = set(session.scalars(champions))
    q = (
        select(JobChange)
        .where(
            or_(
                JobChange.account_id == account_id,
                JobChange.contact_id.in_(select(Contact.id).where(Contact.account_id == account_id)),
            )
        )
        .order_by(JobChange.detected_at.desc())
    )
    return [
        JobChangeItem(
            j.external_id,
            j.person_name,
            j.previous_title,
            j.new_company,
            j.new_title,
            j.detected_at,
            j.contact_id in champion_ids,
        )
        for j in session.scalars(q)
    ]
