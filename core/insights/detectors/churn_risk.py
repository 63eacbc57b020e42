"""``churn_risk``: a customer whose risk points reach ``threshold`` (of 100) from at least ``min_signals``
signals. The points add up what this run already found about the account (``ctx.found``, filled by the engine
in ``MODULES`` order, so this detector runs last), each signal type once at its ``weight_<type>``, plus the
account's own health (``health_at_risk`` / ``health_critical``). Every contribution is one line of the reasons.

A signal type that did not run in this run (``sophia insights run --type churn_risk``) is detected here, for
this score only, with its own effective settings, so running this type alone gives the same answer; a
disabled type contributes nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from core.db.models import Account
from core.insights.findings import DetectContext, Evidence, Finding, account_finding, severity_from
from core.observability.logging import get_logger

TYPE = "churn_risk"
DESCRIPTION = (
    "A customer whose risk points (signals found this run plus its health) reach `threshold` of 100, from at "
    "least `min_signals` signals."
)
SIGNALS = {  # type -> (how a person says it, default weight)
    "payment_volume_drop": ("Payment volume drop", 25),
    "payment_failure_rate": ("Payment failures", 20),
    "late_payer": ("Late payer", 15),
    "engagement_decline": ("Engagement decline", 20),
    "champion_left": ("Champion left", 20),
    "competitor_mentioned": ("Competitor mentioned", 15),
    "onboarding_stuck": ("Onboarding stuck", 20),
    "deal_stalled": ("Deal stalled", 10),
    "deal_slipping": ("Deal slipping", 10),
    "metric_anomaly": ("Metric anomaly", 10),
}
DEFAULTS: dict[str, Any] = {
    "threshold": 50,
    "min_signals": 2,  # signals found by detectors; health alone is not one
    "health_at_risk": 10,
    "health_critical": 20,
    "stages": ["onboarding", "live"],
    **{f"weight_{t}": w for t, (_, w) in SIGNALS.items()},
}
EVIDENCE_PER_SIGNAL = 2
log = get_logger("insights")


def detect(ctx: DetectContext) -> list[Finding]:
    threshold = float(ctx.params["threshold"])
    min_signals = int(ctx.params["min_signals"])
    by_account: dict[int, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for type_, findings in _signals(ctx).items():
        for f in findings:
            if f.account_id is not None:
                by_account[f.account_id][type_].append(f)
    if not by_account:
        return []
    stages = set(ctx.params["stages"])
    accounts = ctx.session.scalars(select(Account).where(Account.id.in_(sorted(by_account))))
    out = []
    for acct in sorted(accounts, key=lambda a: a.id):
        if stages and acct.lifecycle_stage not in stages:
            continue
        signals = by_account[acct.id]
        contributions = [_contribution(ctx, t, signals[t]) for t in SIGNALS if signals.get(t)]
        contributions = [c for c in contributions if c["points"] > 0]
        found_signals = len(contributions)
        health = _health(ctx, acct)
        if health is not None:
            contributions.append(health)
        points = sum(c["points"] for c in contributions)
        if found_signals < min_signals or points < threshold:
            continue
        out.append(_finding(ctx, acct, signals, contributions, points))
    return out


def _signals(ctx: DetectContext) -> dict[str, list[Finding]]:
    """This run's findings by signal type; a signal type that did not run is detected here."""
    from core.insights.config import effective_params  # the config reads every detector, this one included
    from core.insights.detectors import all_detectors

    wanted = [t for t in SIGNALS if float(ctx.params.get(f"weight_{t}", 0)) > 0]
    found = {t: ctx.found[t] for t in wanted if t in ctx.found}
    missing = [t for t in wanted if t not in ctx.found]
    if not missing:
        return found
    detectors = all_detectors()
    params = effective_params(session=ctx.session, detectors=detectors)
    for t in missing:
        if t not in detectors or not params[t].get("enabled", True):
            continue
        try:
            with ctx.session.begin_nested():
                found[t] = detectors[t].detect(replace(ctx, params=params[t]))
        except Exception:  # noqa: BLE001 - a broken signal leaves the others' score standing
            log.exception("churn_risk could not read a signal", type=t)
    return found


def _contribution(ctx: DetectContext, type_: str, findings: list[Finding]) -> dict[str, Any]:
    name = SIGNALS[type_][0]
    weight = float(ctx.params[f"weight_{type_}"])
    top = max(findings, key=lambda f: f.score)
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return {"signal": type_, "points": weight, "why": f"{name}: {top.title}{more}", "findings": len(findings)}


def _health(ctx: DetectContext, acct: Account) -> dict[str, Any] | None:
    label = acct.health
    if label is None and acct.health_score is not None:
        label = "healthy" if acct.health_score >= 70 else "at_risk" if acct.health_score >= 40 else "critical"
    points = {"at_risk": float(ctx.params["health_at_risk"]), "critical": float(ctx.params["health_critical"])}
    if label not in points or points[label] <= 0:
        return None
    score = f" {acct.health_score}" if acct.health_score is not None else ""
    return {"signal": "health", "points": points[label], "why": f"Health score{score} ({label.replace('_', ' ')})"}


def _finding(
    ctx: DetectContext,
    acct: Account,
    signals: dict[str, list[Finding]],
    contributions: list[dict[str, Any]],
    points: float,
) -> Finding:
    threshold = float(ctx.params["threshold"])
    contributions.sort(key=lambda c: c["points"], reverse=True)
    reasons = [f"Risk {points:.0f} of 100 (threshold {threshold:.0f}) from {len(contributions)} contributions:"]
    reasons += [f"{c['why']}: +{c['points']:.0f}" for c in contributions]
    evidence = [Evidence("accounts", acct.external_id, f"Account {acct.name}", acct.id)]
    seen = {("accounts", acct.external_id)}
    for c in contributions:
        signal = signals.get(c["signal"])
        if not signal:
            continue
        top = max(signal, key=lambda f: f.score)
        fresh = [e for e in top.evidence if e.table != "accounts" and (e.table, e.external_id) not in seen]
        for e in fresh[:EVIDENCE_PER_SIGNAL]:
            seen.add((e.table, e.external_id))
            evidence.append(e)
    leading = ", ".join(c["why"].split(":")[0].lower() for c in contributions[:3])
    return account_finding(
        TYPE,
        acct,
        severity=severity_from(points, bands=((85, "critical"), (70, "high")), default="medium"),
        title=f"{acct.name} is at risk of churning ({points:.0f}/100: {leading})",
        score=min(1.0, points / 100),
        reasons=reasons,
        evidence=evidence,
        details={
            "points": points,
            "threshold": threshold,
            "arr": acct.arr,
            "health_score": acct.health_score,
            "contributions": [{k: v for k, v in c.items() if k != "findings"} for c in contributions],
        },
    )
