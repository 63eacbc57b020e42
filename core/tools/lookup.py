"""What several tools share: a name or id to a record (an account, a rep), findings to a tool result, and the
search documents of records (so a citation opens the richest page)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.db.models import Account, Employee
from core.errors import InvalidInput, NotFound
from core.insights.findings import SEVERITY_RANK, Finding
from core.records import documents_of
from core.tools.base import Citation, ToolContext, ToolResult

MAX_CANDIDATES = 5


def find_account(session: Session, text: str) -> Account:
    """An account by external id, exact name (any case) or, failing those, one name containing ``text``."""
    text = text.strip()
    if not text:
        raise InvalidInput("name an account")
    exact = session.scalars(
        select(Account)
        .where(or_(Account.external_id == text, func.lower(Account.name) == text.lower()))
        .order_by(Account.id)
        .limit(1)
    ).first()
    if exact is not None:
        return exact
    found = session.scalars(
        select(Account).where(Account.name.icontains(text, autoescape=True)).order_by(Account.name).limit(10)
    ).all()
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"no account named like {text!r}")
    names = ", ".join(a.name for a in found[:MAX_CANDIDATES])
    raise InvalidInput(f"{len(found)} accounts match {text!r}: {names}; name one exactly")


def find_employee(session: Session, text: str) -> Employee:
    """A person at PayReady by email, full name or a unique first name / part of the name."""
    text = text.strip()
    if not text:
        raise InvalidInput("name a person")
    exact = session.scalars(
        select(Employee)
        .where(or_(func.lower(Employee.email) == text.lower(), func.lower(Employee.name) == text.lower()))
        .limit(1)
    ).first()
    if exact is not None:
        return exact
    found = session.scalars(
        select(Employee).where(Employee.name.icontains(text, autoescape=True)).order_by(Employee.name).limit(10)
    ).all()
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"nobody at PayReady named like {text!r}")
    names = ", ".join(e.name for e in found[:MAX_CANDIDATES])
    raise InvalidInput(f"{len(found)} people match {text!r}: {names}; name one exactly")


def finding_item(f: Finding) -> dict[str, Any]:
    return {
        "type": f.type,
        "subject": {"table": f.subject.table, "external_id": f.subject.external_id, "name": f.subject.name},
        "severity": f.severity,
        "title": f.title,
        "score": round(f.score, 3),
        "reasons": list(f.reasons),
        "details": {k: v for k, v in f.details.items() if k != "series"},
    }


def finding_citations(session: Session, findings: Iterable[Finding], *, evidence_per: int = 3) -> list[Citation]:
    """The subject of each finding (with its document) and its first pieces of evidence."""
    findings = list(findings)
    by_table: dict[str, set[int]] = {}
    for f in findings:
        if f.subject.id is not None:
            by_table.setdefault(f.subject.table, set()).add(f.subject.id)
    docs = {t: documents_of(session, t, ids) for t, ids in by_table.items()}
    out: list[Citation] = []
    for f in findings:
        s = f.subject
        doc = docs.get(s.table, {}).get(s.id) if s.id is not None else None
        out.append(Citation(table=s.table, external_id=s.external_id, title=s.name, doc_id=doc))
        for e in f.evidence[:evidence_per]:
            out.append(
                Citation(table=e.table, external_id=e.external_id, title=e.label or e.external_id, doc_id=e.doc_id)
            )
    return out


def findings_result(
    ctx: ToolContext, session: Session, findings: list[Finding], *, what: str, limit: int = 50
) -> ToolResult:
    """Findings as a tool result: one line each (its title and first reason), most severe and strongest first;
    the ones the caller's role may not see are left out."""
    visible = [f for f in findings if ctx.identity.can(f.min_role)]
    visible.sort(key=lambda f: (SEVERITY_RANK[f.severity], -f.score, f.subject.name))
    shown = visible[:limit]
    if not shown:
        return ToolResult(text=f"No {what} found.", data={"items": [], "total": 0})
    head = what[:1].upper() + what[1:]
    lines = [f"{head} ({len(visible)}" + (f", the first {limit} shown" if len(visible) > limit else "") + "):"]
    lines += [f"- {line_of(f)}" for f in shown]
    return ToolResult(
        text="\n".join(lines),
        data={"items": [finding_item(f) for f in shown], "total": len(visible)},
        citations=finding_citations(session, shown),
    )


def line_of(f: Finding) -> str:
    """A finding in one line: its title, then the first reason that adds to it."""
    title = f.title.rstrip(".")
    reason = adding_reason(title, f.reasons)
    return f"{title}. {reason}" if reason else f"{title}."


def adding_reason(title: str, reasons: Iterable[str]) -> str:
    """The first reason that adds to ``title``: not a heading (ends with ":"), not a repeat of the title; or ""."""
    for reason in reasons:
        text = reason.strip()
        if text and not text.endswith(":") and not _repeats(text, title):
            return text
    return ""


def _repeats(reason: str, title: str) -> bool:
    """Whether ``reason`` opens with what ``title`` already says ("In Discovery for 43 days" after "…has been in
    Discovery for 43 days")."""
    head = reason.split("(")[0].strip().rstrip(".,").lower()
    return bool(head) and head in title.lower()
