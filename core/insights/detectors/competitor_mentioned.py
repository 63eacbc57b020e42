"""``competitor_mentioned``: a call transcript of the last ``days`` days names a competitor (``competitors``,
case-insensitive, whole words); one finding per account and competitor, with its calls as evidence.

A property-management system (``pms_vendors``) is usually the customer's own system of record, not a threat:
it counts only in a competitive context within the same segment: its payments product ("Yardi Payments",
"AppFolio's payment processing"), a move to it ("switching to RealPage", "going with Buildium"), or talk of
switching / "their payments product" in a segment that names no listed competitor.

The search is a SQL ``LIKE`` prefilter on ``transcript_segments.text`` and a regular expression on the hits."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import Account, Call, Deal, TranscriptSegment
from core.insights.findings import DetectContext, Evidence, Finding, account_finding, plural
from core.metrics.stages import OPEN_STAGES

TYPE = "competitor_mentioned"
DESCRIPTION = (
    "A call in the last `days` days names a competitor; a PMS vendor counts only when the same segment puts it "
    "in a competitive context."
)
DEFAULTS = {
    "days": 365,
    "recent_days": 30,  # a mention this recent is news
    "competitors": ["ClickPay", "Zego", "RentCafe Payments", "Rentec Direct", "PayLease"],
    "pms_vendors": ["Yardi", "RealPage", "AppFolio", "Buildium", "Rent Manager"],
}
MAX_CALLS = 25  # evidence per finding
VERBS = r"(?:switch|switching|switched|move|moving|moved|migrate|migrating|migrated|go|going|went|sign|signing|signed)"
SWITCH_TALK = re.compile(
    r"\bswitch(?:es|ing|ed)?\b|\btheir\s+(?:own\s+)?payments?\s+(?:product|platform|module|processing|solution|offering)\b",
    re.IGNORECASE,
)


def name_pattern(name: str) -> str:
    """``name`` as a case-insensitive whole-word pattern; its spaces match any run of white space."""
    return r"(?<!\w)" + r"\s+".join(re.escape(part) for part in name.split()) + r"(?!\w)"


@dataclass(frozen=True)
class Vendor:
    name: str
    pms: bool
    word: re.Pattern[str]
    anchored: re.Pattern[str] | None = None  # a PMS's own competitive context

    def like(self, dialect: str) -> ColumnElement[bool]:
        text = TranscriptSegment.text

        def has(needle: str) -> ColumnElement[bool]:  # SQLite's LIKE ignores ASCII case already, and is faster
            return text.like(f"%{needle}%") if dialect == "sqlite" else text.ilike(f"%{needle}%")

        if not self.pms:
            return has(self.name)
        cues = [has(p) for p in ("switch", "mov", "migrat", "their%payment", f"with {self.name}")]
        cues += [has(f"go%to {self.name}"), has(f"went%to {self.name}")]
        cues += [has(f"{self.name} pay"), has(f"{self.name}'s pay")]
        return and_(has(self.name), or_(*cues))


def vendors(params: dict[str, Any]) -> list[Vendor]:
    out = [Vendor(n, False, re.compile(name_pattern(n), re.IGNORECASE)) for n in params["competitors"] if n.strip()]
    for n in params["pms_vendors"]:
        if not n.strip():
            continue
        word = name_pattern(n)
        anchored = rf"{word}(?:'s)?\s+pay(?:ments?)?\b|\b{VERBS}\s+(?:over\s+)?(?:to|with)\s+{word}"
        out.append(Vendor(n, True, re.compile(word, re.IGNORECASE), re.compile(anchored, re.IGNORECASE)))
    return out


def mentions(text: str, found: list[Vendor]) -> list[Vendor]:
    """The vendors ``text`` names as competitors (see the module notes for a PMS)."""
    named = [v for v in found if v.word.search(text)]
    rivals = [v for v in named if not v.pms]
    out = list(rivals)
    for v in named:
        if v.pms and v.anchored is not None:
            if v.anchored.search(text) or (not rivals and SWITCH_TALK.search(text)):
                out.append(v)
    return out


@dataclass
class Mention:
    call_id: int
    external_id: str
    title: str
    started_at: datetime
    quote: str


@dataclass
class Group:
    account_id: int
    vendor: Vendor
    calls: dict[int, Mention] = field(default_factory=dict)


def detect(ctx: DetectContext) -> list[Finding]:
    days = int(ctx.params["days"])
    watched = vendors(ctx.params)
    if not watched:
        return []
    dialect = ctx.session.get_bind().dialect.name
    q = (
        select(
            TranscriptSegment.text,
            Call.id,
            Call.external_id,
            Call.title,
            Call.started_at,
            Call.account_id,
        )
        .join(Call, Call.id == TranscriptSegment.call_id)
        .where(
            Call.account_id.is_not(None),
            Call.started_at >= ctx.days_ago(days),
            Call.started_at < ctx.now,
            or_(*(v.like(dialect) for v in watched)),
        )
        .order_by(Call.started_at, TranscriptSegment.position)
    )
    groups: dict[tuple[int, str], Group] = {}
    for text, call_id, ext, title, at, acct_id in ctx.session.execute(q):
        if acct_id is None:  # the WHERE clause
            continue
        for v in mentions(text, watched):
            g = groups.setdefault((acct_id, v.name), Group(acct_id, v))
            if call_id not in g.calls:
                g.calls[call_id] = Mention(call_id, ext, title, at, _quote(text, v))
    accounts = {a.id: a for a in ctx.session.scalars(select(Account).where(Account.id.in_({k[0] for k in groups})))}
    open_deals = _open_deals(ctx, set(accounts))
    return [
        _finding(ctx, accounts[g.account_id], g, open_deals.get(g.account_id, []), days)
        for g in groups.values()
        if g.account_id in accounts
    ]


def _open_deals(ctx: DetectContext, account_ids: set[int]) -> dict[int, list[Deal]]:
    out: dict[int, list[Deal]] = defaultdict(list)
    if account_ids:
        q = select(Deal).where(Deal.account_id.in_(sorted(account_ids)), Deal.stage.in_(OPEN_STAGES))
        for d in ctx.session.scalars(q):
            if d.account_id is not None:
                out[d.account_id].append(d)
    return out


def _quote(text: str, v: Vendor) -> str:
    """The sentence that names the vendor, at most 200 characters."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if v.word.search(sentence):
            return sentence if len(sentence) <= 200 else sentence[:197] + "..."
    return text[:197] + "..." if len(text) > 200 else text


def _finding(ctx: DetectContext, acct: Account, g: Group, deals: list[Deal], days: int) -> Finding:
    calls = sorted(g.calls.values(), key=lambda m: m.started_at, reverse=True)
    latest = calls[0]
    ago = (ctx.now - latest.started_at).days
    recent = ago <= int(ctx.params["recent_days"])
    what = f"{g.vendor.name} (their PMS, in a competitive context)" if g.vendor.pms else g.vendor.name
    severity = "high" if recent and deals else "medium" if recent or deals else "low"
    reasons = [
        f"{what} named on {plural(len(calls), 'call')} in the last {days} days; latest {latest.started_at:%Y-%m-%d}, "
        f"{ago} days ago (news within {int(ctx.params['recent_days'])} days).",
        f"“{latest.quote}”",
    ]
    if deals:
        reasons.append(f"{plural(len(deals), 'open deal')}, ${sum(d.amount for d in deals):,.0f} in play.")
    evidence = [
        Evidence("calls", m.external_id, f"Call {m.title}, {m.started_at:%Y-%m-%d}: “{m.quote}”", m.call_id)
        for m in calls[:MAX_CALLS]
    ]
    evidence.append(Evidence("accounts", acct.external_id, f"Account {acct.name}", acct.id))
    return account_finding(
        TYPE,
        acct,
        severity=severity,
        title=f"{g.vendor.name} came up on a call with {acct.name}",
        score=min(1.0, 0.4 * max(0.0, 1 - ago / max(days, 1)) + 0.2 * len(calls) + (0.2 if deals else 0.0)),
        reasons=reasons,
        evidence=evidence,
        details={
            "competitor": g.vendor.name,
            "pms": g.vendor.pms,
            "calls": [m.external_id for m in calls],
            "latest": latest.started_at,
            "days_ago": ago,
            "open_deals": [d.external_id for d in deals],
        },
        key=g.vendor.name,
    )
