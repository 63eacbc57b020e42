"""The planted truth: for each pattern, exactly the records an honest query over the loaded data
finds, computed here from the generated data by the stated rule and checked against what was planted."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from connectors.demo import engagement
from connectors.demo.accounts import STUCK_AFTER_DAYS
from connectors.demo.finance import LAST_N, LATE_MIN
from connectors.demo.pipeline import STALLED_AFTER_DAYS
from connectors.demo.volumes import DROP_THRESHOLD
from connectors.demo.world import World

FAILURE_THRESHOLD = 0.05
TALK_THRESHOLD = 0.70

DESCRIPTION = {
    "reference": "'now' is as_of at 00:00 UTC; 'last full month' is the calendar month before as_of's month.",
    "stalled_deals": f"Open deals (stage not closed_won/closed_lost) whose stage_entered_at is at least "
    f"{STALLED_AFTER_DAYS} days before now.",
    "payment_volume_drops": f"Accounts with rent_payment_volumes rows for the last full month and each of the three "
    f"months before it, whose last-full-month volume is below {DROP_THRESHOLD:.2f} x the "
    f"mean volume of those three months (a drop of more than 15 %).",
    "high_failure_rate": "Accounts whose last-full-month rent_payment_volumes row has failed_count / payments_count "
    "above 0.05 (every other account is below 0.03).",
    "declining_engagement": "Accounts with at least one call in each window, where 'before' = [now-120d, now-60d) and "
    "'recent' = [now-60d, now): the mean call sentiment is lower in 'recent' than in "
    "'before' AND the number of calls plus activities (by started_at / occurred_at, "
    "linked by account) is lower in 'recent' than in 'before'.",
    "champions_left": "Contacts with is_champion true that have a job_change (usergems) whose new_company differs "
    "from the contact's account name (a move to another company; promotions in place don't count).",
    "chronic_late_payers": f"Accounts with at least {LATE_MIN} of their last {LAST_N} subscription invoices (by "
    f"period_start, the current month's included) late: paid_on > due_on, or status open "
    f"with due_on before as_of.",
    "talkative_reps": "Call owners whose talk share, averaged over all calls they own, is above 0.70. A call's talk "
    "share = the owner's segment seconds (sum of end_s - start_s of segments by the participant "
    "whose email is the owner) / all segment seconds of the call. Counting every internal "
    "speaker instead of the owner alone gives the same answer.",
    "talkative_calls": "Calls whose owner's talk share (as above) is above 0.70.",
    "competitor_mentions": "Calls whose transcript segments mention a competitor (ClickPay, Zego, RentCafe Payments, "
    "Rentec Direct, PayLease), case-insensitive; exactly one competitor per call. No other "
    "call text names one.",
    "stuck_accounts": f"Accounts in lifecycle_stage onboarding whose stage_changed_at is more than "
    f"{STUCK_AFTER_DAYS} days before now.",
}


def build_truth(w: World) -> dict:
    # each item: its external_id and, to show people, its own "name", its "account"'s and its "rep"'s
    truth = {"size": w.spec.name, "seed": w.seed, "as_of": w.clock.as_of.isoformat(), "description": DESCRIPTION}
    truth["stalled_deals"] = _stalled(w)
    truth["payment_volume_drops"], truth["high_failure_rate"] = _volumes(w)
    truth["declining_engagement"] = _declining(w)
    truth["champions_left"] = _champions(w)
    truth["chronic_late_payers"] = _late(w)
    truth["talkative_reps"], truth["talkative_calls"] = _talkers(w)
    truth["competitor_mentions"] = [
        {
            "external_id": c.ext_id,
            "account": c.acct.name,
            "rep": c.owner.name,
            "competitor": c.competitor,
            "account_external_id": c.acct.ext_id,
            "why": f"{c.call_type} call where {c.competitor} comes up",
        }
        for c in w.calls
        if c.competitor
    ]
    truth["stuck_accounts"] = _stuck(w)
    _check_planted(w, truth)
    return truth


def _stalled(w: World) -> list[dict]:
    items = []
    for d in w.deals:
        days = w.clock.days_before(d.stage_entered_at)
        if d.is_open and days >= STALLED_AFTER_DAYS:
            items.append(
                {
                    "external_id": d.ext_id,
                    "name": d.name,
                    "account": d.acct.name,
                    "rep": d.owner.name,
                    "account_external_id": d.acct.ext_id,
                    "stage": d.stage,
                    "stage_entered_at": d.stage_entered_at.isoformat(),
                    "days_in_stage": int(days),
                    "why": f"open in {d.stage} for {int(days)} days",
                }
            )
    return items


def _volumes(w: World) -> tuple[list[dict], list[dict]]:
    last_month, prior = w.clock.month(1), [w.clock.month(k) for k in (2, 3, 4)]
    names = _account_names(w)
    drops, failing = [], []
    for ext, months in w.volumes.series.items():
        by = {m.month: m for m in months}
        last = by.get(last_month)
        if last is None:
            continue
        if last.payments_count and last.failed / last.payments_count > FAILURE_THRESHOLD:
            rate = last.failed / last.payments_count
            failing.append(
                {
                    "external_id": ext,
                    "name": names[ext],
                    "month": last_month.isoformat(),
                    "failed_count": last.failed,
                    "payments_count": last.payments_count,
                    "failure_rate": round(rate, 4),
                    "why": f"{100 * rate:.1f}% of rent payments failed in {last_month:%B %Y}",
                }
            )
        if all(p in by for p in prior):
            avg = sum(by[p].volume for p in prior) / 3
            if last.volume < DROP_THRESHOLD * avg:
                drop = 1 - last.volume / avg
                drops.append(
                    {
                        "external_id": ext,
                        "name": names[ext],
                        "month": last_month.isoformat(),
                        "volume": last.volume,
                        "prior_3_month_avg": round(avg, 2),
                        "drop_pct": round(100 * drop, 1),
                        "why": f"rent volume fell {100 * drop:.0f}% in {last_month:%B %Y}",
                    }
                )
    return drops, failing


def _declining(w: World) -> list[dict]:
    calls, acts = defaultdict(list), defaultdict(list)
    for c in w.calls:
        calls[c.acct.ext_id].append(c)
    for a in w.acts:
        acts[a.acct.ext_id].append(a)
    items = []
    for acct in w.accts:
        win = engagement.windows(w.clock, calls[acct.ext_id], acts[acct.ext_id])
        if win.declining:
            items.append(
                {
                    "external_id": acct.ext_id,
                    "name": acct.name,
                    "sentiment_before": round(win.sentiment_before, 4),
                    "sentiment_recent": round(win.sentiment_recent, 4),
                    "touches_before": win.touches_before,
                    "touches_recent": win.touches_recent,
                    "why": f"calls+activities {win.touches_before} -> {win.touches_recent}, mean sentiment "
                    f"{win.sentiment_before:.2f} -> {win.sentiment_recent:.2f}",
                }
            )
    return items


def _champions(w: World) -> list[dict]:
    return [
        {
            "external_id": m.contact.ext_id,
            "name": m.contact.name,
            "account": m.acct.name,
            "account_external_id": m.acct.ext_id,
            "job_change_external_id": m.ext_id,
            "new_company": m.new_company,
            "why": f"champion {m.contact.name} left {m.acct.name} for {m.new_company}",
        }
        for m in w.moves
        if m.contact.is_champion and m.left
    ]


def _late(w: World) -> list[dict]:
    subs = defaultdict(list)
    for inv in w.ledger.invoices:
        if inv["kind"] == "subscription":
            subs[inv["account_ref"]["external_id"]].append(inv)
    items, names = [], _account_names(w)
    for ext, invs in subs.items():
        last = sorted(invs, key=lambda i: i["period_start"])[-LAST_N:]
        late = [
            i
            for i in last
            if (i["paid_on"] and i["paid_on"] > i["due_on"]) or (i["status"] == "open" and i["due_on"] < w.clock.as_of)
        ]
        if len(late) >= LATE_MIN:
            items.append(
                {
                    "external_id": ext,
                    "name": names[ext],
                    "late_invoices": [i["external_id"] for i in late],
                    "late_invoice_numbers": [i["number"] for i in late],
                    "why": f"{len(late)} of the last {len(last)} subscription invoices paid late or overdue",
                }
            )
    return items


def _talkers(w: World) -> tuple[list[dict], list[dict]]:
    by_rep = defaultdict(list)
    for c in w.calls:
        by_rep[c.owner.email].append(c.share)
    reps = [
        {
            "email": email,
            "external_id": w.staff.by_email[email].ext_id,
            "name": w.staff.by_email[email].name,
            "calls": len(s),
            "avg_talk_share": round(sum(s) / len(s), 4),
            "why": f"talks {100 * sum(s) / len(s):.0f}% of the time on average",
        }
        for email, s in sorted(by_rep.items())
        if sum(s) / len(s) > TALK_THRESHOLD
    ]
    calls = [
        {
            "external_id": c.ext_id,
            "account": c.acct.name,
            "rep": c.owner.name,
            "owner": c.owner.email,
            "talk_share": round(c.share, 4),
            "why": f"{c.owner.name} talked {100 * c.share:.0f}% of the call",
        }
        for c in w.calls
        if c.share > TALK_THRESHOLD
    ]
    return reps, calls


def _stuck(w: World) -> list[dict]:
    cutoff = w.clock.now - timedelta(days=STUCK_AFTER_DAYS)
    return [
        {
            "external_id": a.ext_id,
            "name": a.name,
            "rep": a.owner.name,
            "onboarding_since": a.stage_changed_at.isoformat(),
            "days_in_onboarding": _calendar_days(w, a.stage_changed_at),
            "why": f"onboarding for {_calendar_days(w, a.stage_changed_at)} days",
        }
        for a in w.accts
        if a.lifecycle == "onboarding" and a.stage_changed_at < cutoff
    ]


def _calendar_days(w: World, when: datetime) -> int:
    """Days from the UTC date of ``when`` to as_of: what the generator planted (``Clock.moment(rng, days_ago)``)
    and what the dashboard counts. Whole days elapsed since as_of 00:00 would be one fewer."""
    return (w.clock.as_of - when.astimezone(UTC).date()).days


def _account_names(w: World) -> dict[str, str]:
    return {a.ext_id: a.name for a in w.accts}


def _check_planted(w: World, truth: dict) -> None:
    """The rules must find exactly what was planted; anything else is a generator bug."""
    flagged = {
        flag: {a.ext_id for a in w.accts if flag in a.flags}
        for flag in ("volume_drop", "high_failure", "declining", "champion_left", "late_payer", "stuck")
    }
    found = {
        "volume_drop": truth["payment_volume_drops"],
        "high_failure": truth["high_failure_rate"],
        "declining": truth["declining_engagement"],
        "late_payer": truth["chronic_late_payers"],
        "stuck": truth["stuck_accounts"],
        "champion_left": [{"external_id": i["account_external_id"]} for i in truth["champions_left"]],
    }
    checks = {flag: ({i["external_id"] for i in items}, flagged[flag]) for flag, items in found.items()}
    checks["stalled"] = ({i["external_id"] for i in truth["stalled_deals"]}, {d.ext_id for d in w.deals if d.stalled})
    checks["talkative_reps"] = ({i["email"] for i in truth["talkative_reps"]}, {e.email for e in w.talkers})
    checks["talkative_calls"] = (
        {i["external_id"] for i in truth["talkative_calls"]},
        {c.ext_id for c in w.calls if c.talkative},
    )
    bad = [name for name, (got, want) in checks.items() if got != want]
    if bad:
        raise RuntimeError(f"demo generator bug: planted and found differ for {', '.join(bad)}")
