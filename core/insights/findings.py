"""What a detector returns: a ``Finding`` about one subject, with the numbers that made it and the records
behind it. The engine turns findings into stored insights (``core.db.models.Insight``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.db.models import SEVERITIES, Account

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Subject:
    """The record an insight is about."""

    table: str  # accounts | deals | contacts | employees ...
    external_id: str
    name: str
    id: int | None = None  # the row id in ``table``


@dataclass(frozen=True)
class Evidence:
    """A record (and its search document, when it has one) behind a finding; each opens its record page."""

    table: str
    external_id: str
    label: str = ""  # what it shows: "Invoice INV-1042, due 2026-09-01, paid 2026-09-20"
    id: int | None = None  # the row id in ``table`` (the engine finds its document from it)
    doc_id: int | None = None


@dataclass
class Finding:
    type: str
    subject: Subject
    severity: str
    title: str
    score: float  # 0..1: how strongly it holds; sorts findings of the same severity
    reasons: list[str]
    evidence: list[Evidence] = field(default_factory=list)
    account_id: int | None = None
    owner: str | None = None  # who should act (email)
    details: dict[str, Any] = field(default_factory=dict)  # the numbers; "series" for a chart
    key: str = ""  # what else tells this finding apart for the same subject (a month, a competitor)
    min_role: str = "viewer"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"severity {self.severity!r}: expected one of {', '.join(SEVERITIES)}")

    @property
    def fingerprint(self) -> str:
        """The same finding always has the same fingerprint: type, subject and key."""
        raw = "|".join((self.type, self.subject.table, self.subject.external_id, self.key))
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


def account_finding(type_: str, acct: Account, **fields: Any) -> Finding:
    """A finding about a customer account: the account is its subject, and its owner the one who should act."""
    subject = Subject("accounts", acct.external_id, acct.name, acct.id)
    return Finding(type=type_, subject=subject, account_id=acct.id, owner=acct.owner, **fields)


@dataclass(frozen=True)
class DetectContext:
    """What a detector reads: a session, 'now', and its parameters (defaults merged with an admin's)."""

    session: Session
    now: datetime  # start of the UTC day detection runs for: thresholds are in days and months
    params: dict[str, Any]
    found: dict[str, list[Finding]] = field(default_factory=dict)  # this run's findings so far, by type

    @property
    def today(self) -> date:
        return self.now.date()

    def days_ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)


def severity_from(value: float, *, bands: tuple[tuple[float, str], ...], default: str = "low") -> str:
    """The first severity whose lower bound ``value`` reaches: ``bands`` from the highest bound down, e.g.
    ``((0.5, "critical"), (0.3, "high"), (0.15, "medium"))``."""
    for bound, severity in bands:
        if value >= bound:
            return severity
    return default


def plural(count: int, word: str) -> str:
    """``1 call``, ``3 calls``: a count in a reason."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def account_line(arr: float, owner: str | None) -> str:
    """The reason line that places an account: ``ARR $124,000; owner amanda@payready.com.``"""
    return f"ARR ${arr:,.0f}" + (f"; owner {owner}." if owner else ".")
