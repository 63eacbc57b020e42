"""``coaching_talk_ratio``: a rep who does most of the talking. A call's talk share is the owner's segment
seconds over all segment seconds of the call; the rep's share is the mean over the calls they ran in the last
``days`` days (at least ``min_calls``). Fires above ``max_talk_share`` (finding key ``talk_share``); a rep who
asks fewer than ``min_questions`` questions per call (question marks in their own segments) is a second
finding (key ``questions``). Coaching is about people: only analysts and up see it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from core.db.models import Call, CallParticipant, Employee, TranscriptSegment
from core.insights.findings import DetectContext, Evidence, Finding, Subject, severity_from

TYPE = "coaching_talk_ratio"
DESCRIPTION = (
    "A rep whose mean talk share over their calls is above `max_talk_share`, or who asks fewer than "
    "`min_questions` questions per call."
)
DEFAULTS = {"days": 365, "min_calls": 5, "max_talk_share": 0.70, "min_questions": 5.0}
MIN_ROLE = "analyst"
WORST_CALLS = 3


@dataclass(frozen=True)
class CallTalk:
    id: int
    external_id: str
    title: str
    started_at: datetime
    owner: str  # lower-cased email
    share: float  # owner seconds / all seconds
    questions: int  # "?" in the owner's segments


def call_talk(ctx: DetectContext, *, since: datetime) -> list[CallTalk]:
    """Each call's owner talk share and question count, aggregated in the database (one row per call)."""
    in_window = and_(Call.owner.is_not(None), Call.started_at >= since, Call.started_at < ctx.now)
    owners = (  # the owner's speaker id on each call, matched by email once per call, not per segment
        select(CallParticipant.call_id, CallParticipant.speaker_id)
        .join(Call, Call.id == CallParticipant.call_id)
        .where(in_window, func.lower(CallParticipant.email) == func.lower(Call.owner))
        .subquery()
    )
    seconds = TranscriptSegment.end_s - TranscriptSegment.start_s
    is_owner = owners.c.call_id.is_not(None)
    marks = func.length(TranscriptSegment.text) - func.length(func.replace(TranscriptSegment.text, "?", ""))
    q = (
        select(
            Call.id,
            Call.external_id,
            Call.title,
            Call.started_at,
            Call.owner,
            func.sum(seconds),
            func.sum(case((is_owner, seconds), else_=0.0)),
            func.sum(case((is_owner, marks), else_=0)),
        )
        .join(TranscriptSegment, TranscriptSegment.call_id == Call.id)
        .outerjoin(
            owners,
            and_(owners.c.call_id == TranscriptSegment.call_id, owners.c.speaker_id == TranscriptSegment.speaker_id),
        )
        .where(in_window)
        .group_by(Call.id, Call.external_id, Call.title, Call.started_at, Call.owner)
    )
    return [
        CallTalk(cid, ext, title, at, owner.strip().lower(), float(own or 0) / float(total), int(marks_n or 0))
        for cid, ext, title, at, owner, total, own, marks_n in ctx.session.execute(q)
        if total and float(total) > 0
    ]


def detect(ctx: DetectContext) -> list[Finding]:
    days, min_calls = int(ctx.params["days"]), int(ctx.params["min_calls"])
    by_rep: dict[str, list[CallTalk]] = defaultdict(list)
    for c in call_talk(ctx, since=ctx.days_ago(days)):
        by_rep[c.owner].append(c)
    reps = {rep: calls for rep, calls in by_rep.items() if len(calls) >= min_calls}
    staff = _employees(ctx, set(reps))
    findings = []
    for rep, calls in sorted(reps.items()):
        emp = staff.get(rep)
        share = sum(c.share for c in calls) / len(calls)
        spoke = [c for c in calls if c.share > 0]  # the transcript tells the rep's own words
        questions = sum(c.questions for c in spoke) / len(spoke) if spoke else 0.0
        if share > float(ctx.params["max_talk_share"]):
            findings.append(_talk_finding(ctx, rep, emp, calls, share, questions, days))
        if len(spoke) >= min_calls and questions < float(ctx.params["min_questions"]):
            findings.append(_question_finding(ctx, rep, emp, spoke, questions, days))
    return findings


def _employees(ctx: DetectContext, emails: set[str]) -> dict[str, Employee]:
    if not emails:
        return {}
    rows = ctx.session.scalars(select(Employee).where(func.lower(Employee.email).in_(sorted(emails))))
    return {e.email.strip().lower(): e for e in rows}


def _subject(rep: str, emp: Employee | None) -> Subject:
    if emp is None:
        return Subject("employees", rep, rep)
    return Subject("employees", emp.external_id, emp.name, emp.id)


def _base_evidence(rep: str, emp: Employee | None) -> list[Evidence]:
    if emp is None:
        return []
    return [Evidence("employees", emp.external_id, f"{emp.name}, {emp.title or 'rep'}", emp.id)]


def _monthly(calls: list[CallTalk], value: str) -> list[list[object]]:
    months: dict[str, list[float]] = defaultdict(list)
    for c in calls:
        months[f"{c.started_at:%Y-%m}-01"].append(100 * c.share if value == "share" else float(c.questions))
    return [[m, round(sum(v) / len(v), 1)] for m, v in sorted(months.items())]


def _talk_finding(
    ctx: DetectContext,
    rep: str,
    emp: Employee | None,
    calls: list[CallTalk],
    share: float,
    questions: float,
    days: int,
) -> Finding:
    limit = float(ctx.params["max_talk_share"])
    name = emp.name if emp is not None else rep
    over = [c for c in calls if c.share > limit]
    worst = sorted(calls, key=lambda c: c.share, reverse=True)[:WORST_CALLS]
    evidence = _base_evidence(rep, emp) + [
        Evidence("calls", c.external_id, f"Call {c.title}, {c.started_at:%Y-%m-%d}: talked {100 * c.share:.0f} %", c.id)
        for c in worst
    ]
    return Finding(
        type=TYPE,
        subject=_subject(rep, emp),
        severity=severity_from(share - limit, bands=((0.10, "medium"),), default="low"),
        title=f"{name} talks {100 * share:.0f} % of the time on calls",
        score=min(1.0, (share - limit) / max(1e-9, 1 - limit)),
        reasons=[
            f"Mean talk share {100 * share:.1f} % over {len(calls)} calls in the last {days} days "
            f"(threshold {100 * limit:.0f} %).",
            f"{len(over)} of {len(calls)} calls above {100 * limit:.0f} %; the highest "
            + ", ".join(f"{100 * c.share:.0f} %" for c in worst)
            + ".",
            f"Asks {questions:.1f} questions per call (coaching floor {float(ctx.params['min_questions']):.0f}).",
        ],
        evidence=evidence,
        owner=(emp.manager_email if emp is not None and emp.manager_email else rep),
        details={
            "signal": "talk_share",
            "email": rep,
            "calls": len(calls),
            "calls_over": len(over),
            "avg_talk_share": round(share, 4),
            "threshold": limit,
            "questions_per_call": round(questions, 2),
            "series": {"label": "Talk share", "unit": "%", "points": _monthly(calls, "share")},
        },
        key="talk_share",
        min_role=MIN_ROLE,
    )


def _question_finding(
    ctx: DetectContext, rep: str, emp: Employee | None, calls: list[CallTalk], questions: float, days: int
) -> Finding:
    floor = float(ctx.params["min_questions"])
    name = emp.name if emp is not None else rep
    fewest = sorted(calls, key=lambda c: (c.questions, -c.share))[:WORST_CALLS]
    return Finding(
        type=TYPE,
        subject=_subject(rep, emp),
        severity="low",
        title=f"{name} asks {questions:.1f} questions per call",
        score=min(1.0, (floor - questions) / max(floor, 1e-9)),
        reasons=[
            f"{questions:.1f} questions per call over {len(calls)} calls in the last {days} days "
            f"(threshold {floor:.0f}).",
            "Fewest: " + ", ".join(f"{c.questions} on {c.started_at:%Y-%m-%d}" for c in fewest) + ".",
        ],
        evidence=_base_evidence(rep, emp)
        + [
            Evidence("calls", c.external_id, f"Call {c.title}, {c.started_at:%Y-%m-%d}: {c.questions} questions", c.id)
            for c in fewest
        ],
        owner=(emp.manager_email if emp is not None and emp.manager_email else rep),
        details={
            "signal": "questions",
            "email": rep,
            "calls": len(calls),
            "questions_per_call": round(questions, 2),
            "threshold": floor,
            "series": {"label": "Questions per call", "unit": "", "points": _monthly(calls, "questions")},
        },
        key="questions",
        min_role=MIN_ROLE,
    )
