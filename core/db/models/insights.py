"""What Sophia finds and tells: insights, where they are routed in Slack, each delivery, and the job runs
and controls of the scheduler that produces them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import Base
from core.db.types import utcnow

SEVERITIES = ("critical", "high", "medium", "low")  # most severe first
STATUSES = ("new", "acknowledged", "resolved")  # stored; "snoozed" is new/acknowledged with snoozed_until ahead


class Insight(Base):
    """One finding, kept once per fingerprint: a still-true finding updates ``last_seen``; one that no longer
    holds is resolved by the system (``resolution`` "auto"), one a person closes by that person ("person")."""

    __tablename__ = "insights"
    __table_args__ = (Index("ix_insights_feed", "status", "severity_rank", "last_seen"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(Integer)  # 0 critical .. 3 low: sorts the feed
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    title: Mapped[str] = mapped_column(String(512))
    score: Mapped[float] = mapped_column(Float, default=0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # the sentences with the numbers that made it
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{"table", "external_id", "doc_id", "label"}]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the numbers, and a "series" for a chart
    summary: Mapped[str | None] = mapped_column(Text)  # one sentence by a language model, when one is configured
    subject_table: Mapped[str] = mapped_column(String(64))
    subject_external_id: Mapped[str] = mapped_column(String(191))
    subject_name: Mapped[str] = mapped_column(String(255))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)  # who should act: account/deal owner, rep
    min_role: Mapped[str] = mapped_column(String(16), default="viewer")  # the least role that may see it
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(String(16))  # person | auto
    snoozed_until: Mapped[datetime | None]
    snoozed_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotifyRoute(Base):
    """Where insights go in Slack: a channel, for one type or all, from a minimum severity; ``digest_minutes``
    0 posts at once, 15/60/240 gathers them into a digest inside business hours."""

    __tablename__ = "notify_routes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(128))
    type: Mapped[str | None] = mapped_column(String(64))  # None: every type
    min_severity: Mapped[str] = mapped_column(String(16), default="low")
    digest_minutes: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))


class InsightDelivery(Base):
    """One insight to one channel: written before the post (``status`` pending), the message ``ts`` after, so
    nothing is posted twice and nothing undelivered is forgotten."""

    __tablename__ = "insight_deliveries"
    __table_args__ = (UniqueConstraint("insight_id", "channel"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    insight_id: Mapped[int] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"), index=True)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("notify_routes.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(128), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # immediate | digest
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sending | sent | failed
    due_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # not before: the digest's slot
    batch: Mapped[str | None] = mapped_column(String(64))  # the digest message it went out in
    message_ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class JobRun(Base):
    """One run of a scheduled job: start, end, result or error. Kept for ``SOPHIA_JOB_RUNS_KEEP_DAYS``."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job_id", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | succeeded | failed
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual | event
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(128))  # <pid>@<host> of the scheduler that ran it


class JobControl(Base):
    """A job an admin paused, or asked to run now; and the one row (``job_id`` "*scheduler*") whose lease
    makes one scheduler process the active one."""

    __tablename__ = "job_controls"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    run_requested_at: Mapped[datetime | None]
    changed_by: Mapped[str | None] = mapped_column(String(128))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
