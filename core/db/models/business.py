"""The business entities the sources bring. Money is in USD unless ``currency`` says otherwise."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.models.base import Base, SourceRecord
from core.db.types import Money, Ratio

# ---- customers and prospects -------------------------------------------------------------

SEGMENTS = ("smb", "mid_market", "enterprise")  # by units managed: <2,000 / <15,000 / more
HEALTH = ("healthy", "at_risk", "critical")
LIFECYCLE = ("prospect", "onboarding", "live", "churned")


class Account(SourceRecord, Base):
    __tablename__ = "accounts"
    name: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str | None] = mapped_column(String(255))
    segment: Mapped[str | None] = mapped_column(String(32), index=True)
    units_managed: Mapped[int | None] = mapped_column(Integer)
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="prospect", index=True)
    stage_changed_at: Mapped[datetime | None]
    customer_since: Mapped[date | None] = mapped_column(Date)
    churned_on: Mapped[date | None] = mapped_column(Date)
    arr: Mapped[float] = mapped_column(Money, default=0)
    health_score: Mapped[int | None] = mapped_column(Integer)
    health: Mapped[str | None] = mapped_column(String(16), index=True)
    products: Mapped[list[Any]] = mapped_column(default=list)
    pms: Mapped[str | None] = mapped_column(String(64))  # property-management system the customer runs
    owner: Mapped[str | None] = mapped_column(String(255), index=True)  # account owner's email
    city: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str | None] = mapped_column(String(8))


class Contact(SourceRecord, Base):
    __tablename__ = "contacts"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    first_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    title: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    is_champion: Mapped[bool] = mapped_column(Boolean, default=False)


# ---- pipeline -----------------------------------------------------------------------------


class Deal(SourceRecord, Base):
    __tablename__ = "deals"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    deal_type: Mapped[str] = mapped_column(String(32), default="new")  # new | expansion | renewal
    stage: Mapped[str] = mapped_column(String(32), index=True)  # see core.metrics.stages
    amount: Mapped[float] = mapped_column(Money, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    close_date: Mapped[date | None] = mapped_column(Date, index=True)
    close_date_pushes: Mapped[int | None] = mapped_column(Integer)  # times the close date moved later (CRM history)
    closed_at: Mapped[datetime | None]
    stage_entered_at: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    stage_history: Mapped[list[DealStageHistory]] = relationship(
        cascade="all, delete-orphan", order_by="DealStageHistory.entered_at"
    )


class DealStageHistory(Base):
    __tablename__ = "deal_stage_history"
    __table_args__ = (UniqueConstraint("deal_id", "stage", "entered_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[datetime]


class Activity(SourceRecord, Base):
    __tablename__ = "activities"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(16), index=True)  # email | meeting | note | task
    subject: Mapped[str | None] = mapped_column(String(512))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    owner: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))


# ---- calls --------------------------------------------------------------------------------


class Call(SourceRecord, Base):
    __tablename__ = "calls"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(512))
    call_type: Mapped[str | None] = mapped_column(String(32))  # discovery | demo | renewal | escalation | check_in
    started_at: Mapped[datetime] = mapped_column(index=True)
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)  # the rep who ran the call
    sentiment: Mapped[float | None] = mapped_column(Ratio)  # -1 .. 1
    url: Mapped[str | None] = mapped_column(String(512))
    participants: Mapped[list[CallParticipant]] = relationship(cascade="all, delete-orphan")
    segments: Mapped[list[TranscriptSegment]] = relationship(
        cascade="all, delete-orphan", order_by="TranscriptSegment.position"
    )


class CallParticipant(Base):
    __tablename__ = "call_participants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    speaker_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    affiliation: Mapped[str] = mapped_column(String(16))  # internal | external
    talk_time_s: Mapped[float] = mapped_column(Float, default=0)


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    speaker_id: Mapped[str] = mapped_column(String(64))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


# ---- Slack --------------------------------------------------------------------------------


class SlackMessage(SourceRecord, Base):
    __tablename__ = "slack_messages"
    channel_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(128), index=True)
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)


# ---- finance ------------------------------------------------------------------------------


class Invoice(SourceRecord, Base):
    __tablename__ = "invoices"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    number: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="subscription")  # subscription | services
    period_start: Mapped[date | None] = mapped_column(Date)  # the month of service
    issued_on: Mapped[date] = mapped_column(Date, index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[float] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | paid | void
    paid_on: Mapped[date | None] = mapped_column(Date)


class Payment(SourceRecord, Base):
    __tablename__ = "payments"
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    amount: Mapped[float] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    paid_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    method: Mapped[str | None] = mapped_column(String(32))


class RentPaymentVolume(SourceRecord, Base):
    """Rent PayReady processed for a customer in one month (PayReady's own platform data)."""

    __tablename__ = "rent_payment_volumes"
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    month: Mapped[date] = mapped_column(Date, index=True)
    payments_count: Mapped[int] = mapped_column(Integer)
    failed_count: Mapped[int] = mapped_column(Integer)
    volume: Mapped[float] = mapped_column(Money)  # USD of rent successfully collected


# ---- people -------------------------------------------------------------------------------


class Employee(SourceRecord, Base):
    __tablename__ = "employees"
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), index=True)
    title: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(128))
    manager_email: Mapped[str | None] = mapped_column(String(255))
    hired_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")


class Review(SourceRecord, Base):
    __tablename__ = "reviews"
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"), index=True)
    reviewer_email: Mapped[str | None] = mapped_column(String(255))
    cycle: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)  # 1..5
    body: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]


class Goal(SourceRecord, Base):
    __tablename__ = "goals"
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(32))  # on_track | at_risk | off_track | done
    progress: Mapped[float] = mapped_column(Ratio, default=0)
    due_on: Mapped[date | None] = mapped_column(Date)


# ---- prospecting --------------------------------------------------------------------------


class Prospect(SourceRecord, Base):
    __tablename__ = "prospects"
    company_name: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str | None] = mapped_column(String(255))
    units_managed: Mapped[int | None] = mapped_column(Integer)
    person_name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str | None] = mapped_column(String(8))
    pms: Mapped[str | None] = mapped_column(String(64))


class JobChange(SourceRecord, Base):
    __tablename__ = "job_changes"
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    person_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    previous_company: Mapped[str | None] = mapped_column(String(255))
    previous_title: Mapped[str | None] = mapped_column(String(255))
    new_company: Mapped[str | None] = mapped_column(String(255))
    new_title: Mapped[str | None] = mapped_column(String(255))
    detected_at: Mapped[datetime] = mapped_column(index=True)
