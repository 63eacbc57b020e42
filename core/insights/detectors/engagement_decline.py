"""``engagement_decline``: an account that talks to us less, and less happily, in the last ``window_days`` than
in the ``window_days`` before: its mean call sentiment fell and its touches (calls plus activities, linked by
account) fell, with at least ``min_calls`` call in each window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from core.db.models import Account, Activity, Call
from core.insights.findings import (
    DetectContext,
    Evidence,
    Finding,
    account_finding,
    account_line,
    severity_from,
)

TYPE = "engagement_decline"
DESCRIPTION = (
    "An account whose mean call sentiment and touches (calls + activities) both fell: the last `window_days` "
    "days against the `window_days` before."
)
DEFAULTS = {
    "window_days": 60,
    "min_calls": 1,  # calls with a sentiment in each window
    "min_sentiment_drop": 0.0,  # the recent mean must be lower by more than this
    "min_touch_drop_pct": 0.0,  # touches must fall by more than this percentage
    "skip_churned": True,
}
EPSILON = 1e-6  # sentiments are stored with four decimals: a tie is not a fall
WORST_CALLS = 3  # the recent calls with the lowest sentiment, shown as evidence


def detect(ctx: DetectContext) -> list[Finding]:
    days = int(ctx.params["window_days"])
    min_calls = int(ctx.params["min_calls"])
    min_drop = float(ctx.params["min_sentiment_drop"])
    min_touch_drop = float(ctx.params["min_touch_drop_pct"]) / 100
    start, middle, now = ctx.days_ago(2 * days), ctx.days_ago(days), ctx.now
    calls = _call_windows(ctx, start, middle)
    acts = _activity_windows(ctx, start, middle)
    candidates = {
        acct_id: w
        for acct_id, w in calls.items()
        if w["n_before"] >= min_calls
        and w["n_recent"] >= min_calls
        and w["s_recent"] < w["s_before"] - max(min_drop, EPSILON)
    }
    findings = []
    for acct_id, w in sorted(candidates.items()):
        a_before, a_recent = acts.get(acct_id, (0, 0))
        t_before, t_recent = int(w["c_before"]) + a_before, int(w["c_recent"]) + a_recent
        if not t_recent < t_before * (1 - min_touch_drop):
            continue
        acct = ctx.session.get(Account, acct_id)
        if acct is None or (ctx.params["skip_churned"] and acct.lifecycle_stage == "churned"):
            continue
        findings.append(_finding(ctx, acct, w, (t_before, t_recent), (a_before, a_recent), (start, middle, now), days))
    return findings


def _call_windows(ctx: DetectContext, start: datetime, middle: datetime) -> dict[int, dict[str, float]]:
    recent = Call.started_at >= middle
    rated = Call.sentiment.is_not(None)
    q = (
        select(
            Call.account_id,
            func.count(case((~recent, 1))),
            func.count(case((recent, 1))),
            func.count(case((~recent & rated, 1))),
            func.count(case((recent & rated, 1))),
            func.avg(case((~recent, Call.sentiment))),
            func.avg(case((recent, Call.sentiment))),
        )
        .where(Call.account_id.is_not(None), Call.started_at >= start, Call.started_at < ctx.now)
        .group_by(Call.account_id)
    )
    out = {}
    for acct_id, c_before, c_recent, n_before, n_recent, s_before, s_recent in ctx.session.execute(q):
        if s_before is None or s_recent is None:
            continue
        out[acct_id] = {
            "c_before": c_before,
            "c_recent": c_recent,
            "n_before": n_before,
            "n_recent": n_recent,
            "s_before": float(s_before),
            "s_recent": float(s_recent),
        }
    return out


def _activity_windows(ctx: DetectContext, start: datetime, middle: datetime) -> dict[int, tuple[int, int]]:
    recent = Activity.occurred_at >= middle
    q = (
        select(Activity.account_id, func.count(case((~recent, 1))), func.count(case((recent, 1))))
        .where(Activity.account_id.is_not(None), Activity.occurred_at >= start, Activity.occurred_at < ctx.now)
        .group_by(Activity.account_id)
    )
    return {acct_id: (before, recent_n) for acct_id, before, recent_n in ctx.session.execute(q) if acct_id is not None}


def _finding(
    ctx: DetectContext,
    acct: Account,
    w: dict[str, float],
    touches: tuple[int, int],
    acts: tuple[int, int],
    bounds: tuple[datetime, datetime, datetime],
    days: int,
) -> Finding:
    start, middle, now = bounds
    t_before, t_recent = touches
    s_before, s_recent = w["s_before"], w["s_recent"]
    touch_drop = 1 - t_recent / t_before
    sentiment_drop = s_before - s_recent
    rows = ctx.session.execute(
        select(Call.id, Call.external_id, Call.title, Call.started_at, Call.sentiment)
        .where(Call.account_id == acct.id, Call.started_at >= start, Call.started_at < now)
        .order_by(Call.started_at)
    ).all()
    worst = sorted((r for r in rows if r.started_at >= middle and r.sentiment is not None), key=lambda r: r.sentiment)
    evidence = [Evidence("accounts", acct.external_id, f"Account {acct.name}", acct.id)]
    evidence += [
        Evidence("calls", r.external_id, f"Call {r.title}, {r.started_at:%Y-%m-%d}, sentiment {r.sentiment:+.2f}", r.id)
        for r in worst[:WORST_CALLS]
    ]
    # both signals strong (sentiment turned negative, touches at least halved) is high
    strength = min(1.0, sentiment_drop / 0.8) * 0.5 + touch_drop * 0.5
    severity = severity_from(
        strength, bands=((0.6, "high"), (0.3, "medium")), default="low" if s_recent >= 0 else "medium"
    )
    details: dict[str, Any] = {
        "window_days": days,
        "before": [start.date(), middle.date()],
        "recent": [middle.date(), now.date()],
        "sentiment_before": round(s_before, 4),
        "sentiment_recent": round(s_recent, 4),
        "calls_before": int(w["c_before"]),
        "calls_recent": int(w["c_recent"]),
        "activities_before": acts[0],
        "activities_recent": acts[1],
        "touches_before": t_before,
        "touches_recent": t_recent,
        "series": {
            "label": "Call sentiment",
            "unit": "",
            "points": [[r.started_at.date(), round(float(r.sentiment), 2)] for r in rows if r.sentiment is not None],
        },
    }
    return account_finding(
        TYPE,
        acct,
        severity=severity,
        title=f"{acct.name}: engagement fell, {t_before} → {t_recent} touches and sentiment "
        f"{s_before:+.2f} → {s_recent:+.2f}",
        score=min(1.0, max(0.0, strength)),
        reasons=[
            f"Mean call sentiment fell from {s_before:+.2f} ({_calls(w['n_before'])}, "
            f"{start:%Y-%m-%d} to {middle:%Y-%m-%d}) to {s_recent:+.2f} ({_calls(w['n_recent'])} in the last "
            f"{days} days); threshold: any fall greater than {float(ctx.params['min_sentiment_drop']):.2f}.",
            f"Touches (calls + activities) fell from {t_before} to {t_recent} ({100 * touch_drop:.0f} % fewer; "
            f"threshold: more than {float(ctx.params['min_touch_drop_pct']):.0f} % fewer).",
            account_line(acct.arr, acct.owner),
        ],
        evidence=evidence,
        details=details,
    )


def _calls(n: float) -> str:
    return f"{int(n)} call" if int(n) == 1 else f"{int(n)} calls"
