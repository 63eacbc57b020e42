"""The engagement detectors on crafted rows at and around each threshold, and on the demo against its planted
truth: engagement_decline, champion_left, coaching_talk_ratio, competitor_mentioned, churn_risk."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.demo import get_truth, load_demo
from core.db.models import (
    Account,
    Activity,
    Call,
    CallParticipant,
    Contact,
    Employee,
    Insight,
    JobChange,
    TranscriptSegment,
)
from core.insights import run_detection
from core.insights.detectors.competitor_mentioned import DEFAULTS as COMPETITOR_DEFAULTS
from core.insights.detectors.competitor_mentioned import mentions, vendors
from core.runtime import Runtime

AS_OF = date(2026, 10, 15)
NOW = datetime(2026, 10, 15, tzinfo=UTC)
REP = "rita.rep@payready.com"


# ---- crafted rows ------------------------------------------------------------------------------------


def _account(rt: Runtime, ext: str, **fields) -> int:
    with rt.session() as s:
        values = {"name": f"Account {ext}", "lifecycle_stage": "live", "arr": 120_000, "owner": REP, **fields}
        acct = Account(source="test", external_id=ext, **values)
        s.add(acct)
        s.flush()
        return acct.id


def _call(
    rt: Runtime,
    ext: str,
    *,
    account_id: int | None,
    days_ago: float,
    sentiment: float | None = 0.5,
    owner: str = REP,
    talk: tuple[float, float] | None = None,  # (owner seconds, customer seconds)
    text: str | None = None,  # what the customer says
    rep_text: str = "Thanks for the time today.",
    call_type: str = "discovery",
) -> None:
    with rt.session() as s:
        call = Call(
            source="test",
            external_id=ext,
            account_id=account_id,
            title=f"Call {ext}",
            call_type=call_type,
            started_at=NOW - timedelta(days=days_ago),
            owner=owner,
            sentiment=sentiment,
        )
        s.add(call)
        s.flush()
        if talk is None and text is None:
            return
        own, cust = talk or (30.0, 30.0)
        s.add_all(
            [
                CallParticipant(
                    call_id=call.id, speaker_id="1", name="Rep", email=owner.upper(), affiliation="internal"
                ),
                CallParticipant(call_id=call.id, speaker_id="2", name="Cust", email="c@x.com", affiliation="external"),
                TranscriptSegment(call_id=call.id, position=0, speaker_id="1", start_s=0, end_s=own, text=rep_text),
                TranscriptSegment(
                    call_id=call.id, position=1, speaker_id="2", start_s=own, end_s=own + cust, text=text or "Sure."
                ),
            ]
        )


def _activity(rt: Runtime, ext: str, *, account_id: int, days_ago: float) -> None:
    with rt.session() as s:
        s.add(
            Activity(
                source="test",
                external_id=ext,
                account_id=account_id,
                type="email",
                subject="Hello",
                occurred_at=NOW - timedelta(days=days_ago),
            )
        )


def _insights(rt: Runtime, type_: str) -> list[Insight]:
    with rt.session() as s:
        rows = list(s.scalars(select(Insight).where(Insight.type == type_).order_by(Insight.id)))
        s.expunge_all()
        return rows


def _subjects(rt: Runtime, type_: str) -> set[str]:
    return {i.subject_external_id for i in _insights(rt, type_) if i.status == "new"}


# ---- engagement_decline ---------------------------------------------------------------------------------


def _engagement(rt: Runtime, ext: str, *, before: list[float], recent: list[float], acts: tuple[int, int]) -> int:
    """Calls with these sentiments in the 'before' window (days 61..119) and the 'recent' one (days 1..59), and
    this many activities in each."""
    acct = _account(rt, ext)
    for n, sentiment in enumerate(before):
        _call(rt, f"{ext}-b{n}", account_id=acct, days_ago=70 + n, sentiment=sentiment)
    for n, sentiment in enumerate(recent):
        _call(rt, f"{ext}-r{n}", account_id=acct, days_ago=10 + n, sentiment=sentiment)
    for n in range(acts[0]):
        _activity(rt, f"{ext}-ab{n}", account_id=acct, days_ago=80 + n)
    for n in range(acts[1]):
        _activity(rt, f"{ext}-ar{n}", account_id=acct, days_ago=20 + n)
    return acct


def test_engagement_decline_needs_both_sentiment_and_touches_to_fall(any_runtime: Runtime) -> None:
    _engagement(any_runtime, "falls", before=[0.6, 0.4], recent=[-0.2], acts=(3, 1))  # 5 -> 2 touches
    _engagement(any_runtime, "same-touches", before=[0.6, 0.4], recent=[-0.2], acts=(1, 2))  # 3 -> 3
    _engagement(any_runtime, "one-fewer", before=[0.6, 0.4], recent=[0.49], acts=(1, 1))  # 3 -> 2, 0.50 -> 0.49
    _engagement(any_runtime, "same-mood", before=[0.6, 0.4], recent=[0.5], acts=(3, 0))  # tie is no fall
    _engagement(any_runtime, "no-recent-call", before=[0.6, 0.4], recent=[], acts=(3, 0))
    _engagement(any_runtime, "churned", before=[0.6], recent=[-0.5], acts=(3, 0))
    with any_runtime.session() as s:
        s.scalar(select(Account).where(Account.external_id == "churned")).lifecycle_stage = "churned"
    run_detection(runtime=any_runtime, as_of=AS_OF, types=["engagement_decline"])
    assert _subjects(any_runtime, "engagement_decline") == {"falls", "one-fewer"}
    row = next(i for i in _insights(any_runtime, "engagement_decline") if i.subject_external_id == "falls")
    assert any("+0.50" in r and "-0.20" in r and "threshold" in r for r in row.reasons)
    assert any("from 5 to 2" in r and "60 % fewer" in r for r in row.reasons)
    assert row.severity == "high" and row.details["touches_before"] == 5 and row.details["touches_recent"] == 2
    assert [p[1] for p in row.details["series"]["points"]] == [0.4, 0.6, -0.2]  # by date
    assert {e["external_id"] for e in row.evidence} == {"falls", "falls-r0"}


def test_engagement_windows_are_half_open(runtime: Runtime) -> None:
    """[now-120d, now-60d) and [now-60d, now): a call at exactly now-60d is recent, one at now-120d is before."""
    acct = _account(runtime, "edge")
    _call(runtime, "at-120", account_id=acct, days_ago=120, sentiment=0.8)
    _call(runtime, "at-60", account_id=acct, days_ago=60, sentiment=0.1)
    _activity(runtime, "act-before", account_id=acct, days_ago=100)
    _call(runtime, "too-old", account_id=acct, days_ago=120.01, sentiment=-1.0)
    _call(runtime, "today", account_id=acct, days_ago=-0.5, sentiment=-1.0)  # after as_of: not seen
    run_detection(runtime=runtime, as_of=AS_OF, types=["engagement_decline"])
    (row,) = _insights(runtime, "engagement_decline")
    assert (row.details["calls_before"], row.details["calls_recent"]) == (1, 1)
    assert (row.details["sentiment_before"], row.details["sentiment_recent"]) == (0.8, 0.1)
    # a day later the windows have moved: at-120 is gone, at-60 is 'before' and the later call 'recent'
    run_detection(runtime=runtime, as_of=AS_OF + timedelta(days=1), types=["engagement_decline"])
    (row,) = _insights(runtime, "engagement_decline")
    assert (row.details["sentiment_before"], row.details["sentiment_recent"]) == (0.1, -1.0)
    assert (row.details["touches_before"], row.details["touches_recent"]) == (2, 1)


# ---- champion_left ---------------------------------------------------------------------------------------


def _contact(rt: Runtime, ext: str, *, account_id: int, champion: bool) -> int:
    with rt.session() as s:
        c = Contact(
            source="test", external_id=ext, account_id=account_id, first_name="Pat", last_name=ext, is_champion=champion
        )
        s.add(c)
        s.flush()
        return c.id


def _move(rt: Runtime, ext: str, *, contact_id: int, new_company: str, days_ago: float) -> None:
    with rt.session() as s:
        s.add(
            JobChange(
                source="usergems",
                external_id=ext,
                contact_id=contact_id,
                person_name="Pat",
                previous_company="Acme Realty",
                new_company=new_company,
                new_title="VP Operations",
                detected_at=NOW - timedelta(days=days_ago),
            )
        )


def test_champion_left_counts_a_move_to_another_company_only(runtime: Runtime) -> None:
    acct = _account(runtime, "acme", name="Acme Realty")
    _move(
        runtime,
        "jc1",
        contact_id=_contact(runtime, "left", account_id=acct, champion=True),
        new_company="Zen Homes",
        days_ago=10,
    )
    promoted = _contact(runtime, "promoted", account_id=acct, champion=True)
    _move(runtime, "jc2", contact_id=promoted, new_company="acme  realty", days_ago=5)  # in place: case, spaces
    plain = _contact(runtime, "plain", account_id=acct, champion=False)
    _move(runtime, "jc3", contact_id=plain, new_company="Zen Homes", days_ago=5)
    old = _contact(runtime, "long-ago", account_id=acct, champion=True)
    _move(runtime, "jc4", contact_id=old, new_company="Zen Homes", days_ago=181)
    run_detection(runtime=runtime, as_of=AS_OF, types=["champion_left"])
    (row,) = _insights(runtime, "champion_left")
    assert (row.subject_table, row.subject_external_id, row.account_id) == ("contacts", "left", acct)
    assert {(e["table"], e["external_id"]) for e in row.evidence} >= {("job_changes", "jc1"), ("accounts", "acme")}
    assert "Zen Homes" in row.title and any("10 days ago (window 180 days)" in r for r in row.reasons)
    assert row.severity == "high"  # a live customer with ARR above large_arr


# ---- coaching_talk_ratio -----------------------------------------------------------------------------------


def _rep_calls(rt: Runtime, email: str, shares: list[float], *, questions: int = 6) -> None:
    for n, share in enumerate(shares):
        _call(
            rt,
            f"{email}-{n}",
            account_id=None,
            days_ago=5 + n,
            owner=email,
            talk=(100 * share, 100 * (1 - share)),
            rep_text=" ".join(["How is it going?"] * questions),
        )


def test_talk_share_above_the_threshold_with_enough_calls(any_runtime: Runtime) -> None:
    with any_runtime.session() as s:
        s.add(Employee(source="lattice", external_id="emp-1", name="Tess Talker", email="tess@payready.com"))
    _rep_calls(any_runtime, "tess@payready.com", [0.80, 0.75, 0.70, 0.66, 0.72])  # mean 0.726
    _rep_calls(any_runtime, "at@payready.com", [0.70] * 5)  # exactly at the threshold: not above
    _rep_calls(any_runtime, "few@payready.com", [0.90] * 4)  # fewer than min_calls
    _rep_calls(any_runtime, "quiet@payready.com", [0.40] * 5, questions=2)
    run_detection(runtime=any_runtime, as_of=AS_OF, types=["coaching_talk_ratio"])
    rows = {(i.subject_external_id, i.details["threshold"]): i for i in _insights(any_runtime, "coaching_talk_ratio")}
    talk = [i for i in rows.values() if "avg_talk_share" in i.details]
    (tess,) = talk
    assert (tess.subject_table, tess.subject_external_id, tess.subject_name) == ("employees", "emp-1", "Tess Talker")
    assert tess.min_role == "analyst" and tess.details["avg_talk_share"] == pytest.approx(0.726)
    assert any("72.6 %" in r and "threshold 70 %" in r for r in tess.reasons)
    assert [e["external_id"] for e in tess.evidence] == [
        "emp-1",
        "tess@payready.com-0",
        "tess@payready.com-1",
        "tess@payready.com-4",
    ]
    assert tess.details["series"]["unit"] == "%" and tess.details["series"]["points"] == [["2026-10-01", 72.6]]
    (quiet,) = [i for i in rows.values() if "avg_talk_share" not in i.details]
    assert quiet.subject_external_id == "quiet@payready.com" and quiet.details["questions_per_call"] == 2
    assert any("2.0 questions per call" in r and "threshold 5" in r for r in quiet.reasons)


# ---- competitor_mentioned ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We're also talking to clickpay, their pricing came in lower.", ["ClickPay"]),
        ("Honestly RENTCAFE   payments offered to waive setup fees.", ["RentCafe Payments"]),
        ("We looked at ClickPayments once.", []),  # no word boundary
        ("We're on Yardi. Everything posts back to the ledger there.", []),  # their own system
        ("We moved over about two years ago and Yardi is mostly fine, but the payments side is clunky.", []),
        ("Our Yardi rep suggested we look at Zego too.", ["Zego"]),  # a PMS beside a competitor is not one
        ("Yardi's payments product came in cheaper, so we're comparing.", ["Yardi"]),
        ("We're thinking about switching to AppFolio Payments next year.", ["AppFolio"]),
        ("Leadership wants to go with RealPage for everything.", ["RealPage"]),
        ("Rent Manager told us we could switch off the portal.", ["Rent Manager"]),
    ],
)
def test_what_counts_as_a_mention(text: str, expected: list[str]) -> None:
    assert [v.name for v in mentions(text, vendors(COMPETITOR_DEFAULTS))] == expected


def test_competitor_findings_per_account_and_competitor_with_their_calls(any_runtime: Runtime) -> None:
    a = _account(any_runtime, "acct-a")
    b = _account(any_runtime, "acct-b")
    _call(any_runtime, "a1", account_id=a, days_ago=3, text="We're also talking to ClickPay.")
    _call(any_runtime, "a2", account_id=a, days_ago=40, text="clickpay offered to waive setup fees if we switch.")
    _call(any_runtime, "a3", account_id=a, days_ago=50, text="One of our sister companies uses PayLease.")
    _call(any_runtime, "a4", account_id=a, days_ago=5, text="We run Yardi for the rent roll.")
    _call(any_runtime, "b1", account_id=b, days_ago=100, text="We are moving to Yardi Payments in the spring.")
    _call(any_runtime, "b-old", account_id=b, days_ago=366, text="We're also talking to Zego.")
    run_detection(runtime=any_runtime, as_of=AS_OF, types=["competitor_mentioned"])
    rows = {(i.subject_external_id, i.details["competitor"]): i for i in _insights(any_runtime, "competitor_mentioned")}
    assert set(rows) == {("acct-a", "ClickPay"), ("acct-a", "PayLease"), ("acct-b", "Yardi")}
    clickpay = rows["acct-a", "ClickPay"]
    assert [e["external_id"] for e in clickpay.evidence if e["table"] == "calls"] == ["a1", "a2"]
    assert clickpay.severity == "medium" and any("named on 2 calls" in r for r in clickpay.reasons)
    assert rows["acct-b", "Yardi"].details["pms"] is True and rows["acct-b", "Yardi"].severity == "low"
    assert len({i.fingerprint for i in rows.values()}) == 3  # the competitor is part of the key


# ---- churn_risk ------------------------------------------------------------------------------------------


def test_churn_risk_adds_up_signals_and_health(any_runtime: Runtime) -> None:
    risky = _engagement(any_runtime, "risky", before=[0.6, 0.4], recent=[-0.2], acts=(3, 1))
    with any_runtime.session() as s:
        acct = s.get(Account, risky)
        acct.name, acct.health_score, acct.health = "Risky Realty", 35, "critical"
    _move(
        any_runtime,
        "jc1",
        contact_id=_contact(any_runtime, "champ", account_id=risky, champion=True),
        new_company="Elsewhere",
        days_ago=4,
    )
    one = _engagement(any_runtime, "one-signal", before=[0.6, 0.4], recent=[-0.2], acts=(3, 1))
    with any_runtime.session() as s:
        s.get(Account, one).health = "critical"  # 20 + 20 = 40: below 50, and one signal only
    result = run_detection(
        runtime=any_runtime, as_of=AS_OF, types=["engagement_decline", "champion_left", "churn_risk"]
    )
    assert result.by_type["churn_risk"] == 1
    (row,) = _insights(any_runtime, "churn_risk")
    assert row.subject_external_id == "risky" and row.details["points"] == 60
    assert row.reasons[0] == "Risk 60 of 100 (threshold 50) from 3 contributions:"
    assert any(r.startswith("Engagement decline: ") and r.endswith(": +20") for r in row.reasons)
    assert any(r.startswith("Champion left: Champion Pat champ left Risky Realty") for r in row.reasons)
    assert "Health score 35 (critical): +20" in row.reasons
    assert {e["table"] for e in row.evidence} >= {"accounts", "calls", "job_changes"}
    # run alone, it reads the signals itself and finds the same
    again = run_detection(runtime=any_runtime, as_of=AS_OF, types=["churn_risk"])
    assert again.counts() == {"created": 0, "updated": 1, "resolved": 0}


def test_churn_risk_threshold_is_configurable(runtime: Runtime) -> None:
    from core.insights.config import set_param

    acct = _engagement(runtime, "two", before=[0.6, 0.4], recent=[-0.2], acts=(3, 1))
    _move(
        runtime,
        "jc1",
        contact_id=_contact(runtime, "champ", account_id=acct, champion=True),
        new_company="Elsewhere",
        days_ago=4,
    )
    run_detection(runtime=runtime, as_of=AS_OF)  # 20 + 20 = 40, no health points
    assert _subjects(runtime, "churn_risk") == set()
    with runtime.session() as s:
        set_param(session=s, type_="churn_risk", key="threshold", value="40", actor="ann")
    run_detection(runtime=runtime, as_of=AS_OF)
    assert _subjects(runtime, "churn_risk") == {"two"}


# ---- the demo ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "as_of"), [(42, AS_OF), (7, date(2026, 3, 15))])
def test_demo_truth(runtime: Runtime, seed: int, as_of: date) -> None:
    load_demo(runtime=runtime, size="small", seed=seed, as_of=as_of)
    result = run_detection(runtime=runtime, as_of=as_of)
    assert not result.errors
    with runtime.session() as s:
        truth = get_truth(session=s)
    assert truth is not None

    assert _subjects(runtime, "engagement_decline") == {i["external_id"] for i in truth["declining_engagement"]}

    champions = _insights(runtime, "champion_left")
    assert {i.subject_external_id for i in champions} == {i["external_id"] for i in truth["champions_left"]}
    for row in champions:
        want = next(t for t in truth["champions_left"] if t["external_id"] == row.subject_external_id)
        assert ("accounts", want["account_external_id"]) in {(e["table"], e["external_id"]) for e in row.evidence}
        assert row.account_id is not None

    talk = [i for i in _insights(runtime, "coaching_talk_ratio") if "avg_talk_share" in i.details]
    assert {i.subject_external_id for i in talk} == {t["external_id"] for t in truth["talkative_reps"]}
    assert {i.details["email"] for i in talk} == {t["email"] for t in truth["talkative_reps"]}

    want_calls: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in truth["competitor_mentions"]:
        want_calls[t["account_external_id"], t["competitor"]].add(t["external_id"])
    got_calls = {
        (i.subject_external_id, i.details["competitor"]): {
            e["external_id"] for e in i.evidence if e["table"] == "calls"
        }
        for i in _insights(runtime, "competitor_mentioned")
    }
    assert got_calls == want_calls

    for row in _insights(runtime, "churn_risk"):
        signals = [c for c in row.details["contributions"] if c["signal"] != "health"]
        assert len(signals) >= 2, row.reasons
