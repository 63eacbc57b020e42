"""The finance and pipeline detectors on crafted rows at and around each threshold, and the truth-keyed ones
against the demo's planted truth (every planted account found, nothing else)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.demo import get_truth, load_demo
from core.db.models import Account, Activity, Call, Deal, Insight, Invoice, Payment, RentPaymentVolume
from core.insights import run_detection
from core.insights.config import set_param
from core.runtime import Runtime

AS_OF = date(2026, 10, 15)  # last full month: September 2026
NOW = datetime(2026, 10, 15, tzinfo=UTC)


def _account(rt: Runtime, ext: str, name: str | None = None) -> int:
    with rt.session() as s:
        acct = s.scalar(select(Account).where(Account.external_id == ext))
        if acct is None:
            acct = Account(source="test", external_id=ext, name=name or f"Acct {ext}", lifecycle_stage="live")
            acct.owner, acct.arr = "owner@payready.com", 120_000
            s.add(acct)
            s.flush()
        return acct.id


def _insights(rt: Runtime, type_: str) -> dict[str, Insight]:
    with rt.session() as s:
        rows = list(s.scalars(select(Insight).where(Insight.type == type_, Insight.status == "new")))
        s.expunge_all()
    return {r.subject_external_id: r for r in rows}


def _detect(rt: Runtime, type_: str, as_of: date = AS_OF) -> dict[str, Insight]:
    result = run_detection(runtime=rt, as_of=as_of, types=[type_])
    assert result.errors == {}
    return _insights(rt, type_)


# ---- payment_volume_drop ----------------------------------------------------------------------------------


def _volumes(rt: Runtime, ext: str, by_month: dict[date, tuple[float, int, int]]) -> None:
    """Rent volume rows: month -> (volume, payments, failed)."""
    account_id = _account(rt, ext)
    with rt.session() as s:
        for month, (volume, payments, failed) in by_month.items():
            s.add(
                RentPaymentVolume(
                    source="test",
                    external_id=f"rpv-{ext}-{month:%Y-%m}",
                    account_id=account_id,
                    month=month,
                    payments_count=payments,
                    failed_count=failed,
                    volume=volume,
                )
            )


def _months(*volumes: float, payments: int = 100, failed: int = 1) -> dict[date, tuple[float, int, int]]:
    """Volumes for June .. September 2026 (September the last full month before AS_OF)."""
    months = [date(2026, m, 1) for m in (6, 7, 8, 9)]
    return {m: (v, payments, failed) for m, v in zip(months, volumes, strict=True)}


def test_volume_drop_fires_just_below_085_of_the_three_month_mean(runtime: Runtime) -> None:
    _volumes(runtime, "at", _months(100_000, 100_000, 100_000, 85_000))  # exactly 0.85: not below
    _volumes(runtime, "under", _months(100_000, 100_000, 100_000, 84_999))
    _volumes(runtime, "gap", _months(100_000, 100_000, 100_000, 50_000))
    with runtime.session() as s:  # a month of the baseline missing: not judged
        s.delete(s.scalar(select(RentPaymentVolume).where(RentPaymentVolume.external_id == "rpv-gap-2026-07")))
    # the current month (October, still running) is low for everyone and never counts
    _volumes(runtime, "mtd", {**_months(100_000, 100_000, 100_000, 99_000), date(2026, 10, 1): (20_000, 20, 0)})
    found = _detect(runtime, "payment_volume_drop")
    assert set(found) == {"under"}
    row = found["under"]
    assert row.severity == "medium" and 0 < row.score < 0.4
    assert row.reasons[0] == (
        "Rent volume 84,999 in Sep 2026 vs 100,000 3-month mean (Jun 2026 – Aug 2026): −15 % (threshold −15 %)."
    )


def test_volume_drop_reasons_evidence_series_and_severity(runtime: Runtime) -> None:
    _volumes(runtime, "a1", _months(404_000, 409_251, 400_000, 231_681))
    (row,) = _detect(runtime, "payment_volume_drop").values()
    assert row.reasons[0].startswith("Rent volume 231,681 in Sep 2026 vs 404,417 3-month mean")
    assert "−43 % (threshold −15 %)" in row.reasons[0]
    assert row.severity == "high" and row.score == pytest.approx(0.427 / 0.5, abs=0.01)
    assert [e["external_id"] for e in row.evidence] == [f"rpv-a1-2026-{m:02d}" for m in (9, 8, 7, 6)]
    series = row.details["series"]
    assert (series["label"], series["unit"]) == ("Rent volume", "USD")
    assert series["points"] == [["2026-06-01", 404000.0], ["2026-07-01", 409251.0], ["2026-08-01", 400000.0],
                                ["2026-09-01", 231681.0]]  # fmt: skip
    # a month later September is no longer the last full month: the finding resolves itself (it was that month's)
    _volumes(runtime, "a1", {date(2026, 10, 1): (380_000, 100, 1)})
    assert run_detection(runtime=runtime, as_of=date(2026, 11, 3), types=["payment_volume_drop"]).resolved == 1


def test_volume_drop_threshold_is_configurable(runtime: Runtime) -> None:
    _volumes(runtime, "a1", _months(100_000, 100_000, 100_000, 88_000))
    assert _detect(runtime, "payment_volume_drop") == {}
    with runtime.session() as s:
        set_param(session=s, type_="payment_volume_drop", key="ratio", value="0.9", actor="ann")
    (row,) = _detect(runtime, "payment_volume_drop").values()
    assert "−12 % (threshold −10 %)" in row.reasons[0]


# ---- payment_failure_rate ---------------------------------------------------------------------------------


def test_failure_rate_above_five_percent_of_last_full_month(runtime: Runtime) -> None:
    _volumes(runtime, "at", _months(1, 1, 1, 1, payments=200, failed=10))  # exactly 5 %: not above
    _volumes(runtime, "over", _months(1, 1, 1, 1, payments=1_000, failed=51))
    _volumes(runtime, "none", _months(0, 0, 0, 0, payments=0, failed=0))
    _volumes(runtime, "bad", {date(2026, 8, 1): (1, 100, 30), date(2026, 9, 1): (1, 100, 2)})  # an old spike
    _volumes(runtime, "mtd", {date(2026, 9, 1): (1, 100, 1), date(2026, 10, 1): (1, 10, 5)})  # month to date
    _volumes(runtime, "worst", {date(2026, 8, 1): (1, 400, 4), date(2026, 9, 1): (1, 400, 100)})
    found = _detect(runtime, "payment_failure_rate")
    assert set(found) == {"over", "worst"}
    assert found["over"].reasons[0] == "51 of 1,000 rent payments failed in Sep 2026: 5.1 % (threshold 5.0 %)."
    assert found["over"].severity == "medium"
    worst = found["worst"]
    assert worst.severity == "critical" and worst.score == 1.0
    assert worst.reasons[1] == "1 months before (Aug 2026 – Aug 2026): 1.0 % (4 of 400)."
    assert worst.details["series"]["points"] == [["2026-08-01", 1.0], ["2026-09-01", 25.0]]
    assert [e["external_id"] for e in worst.evidence] == ["rpv-worst-2026-09", "rpv-worst-2026-08"]


# ---- late_payer -------------------------------------------------------------------------------------------


def _invoices(rt: Runtime, ext: str, lateness: dict[int, int | str | None]) -> None:
    """Monthly subscription invoices of 2026 by month number: days paid after due (0 = on the due date,
    negative = early), "open" (unpaid) or "void"; due 30 days after issue on the 1st."""
    account_id = _account(rt, ext)
    with rt.session() as s:
        for month, late in lateness.items():
            issued = date(2026, month, 1)
            due = issued + timedelta(days=30)
            inv = Invoice(
                source="test",
                external_id=f"inv-{ext}-{month:02d}",
                account_id=account_id,
                number=f"INV-{ext}-{month:02d}",
                period_start=issued,
                issued_on=issued,
                due_on=due,
                amount=1_000,
                status="paid",
            )
            if late in ("open", "void"):
                inv.status = str(late)
            elif isinstance(late, int):
                inv.paid_on = due + timedelta(days=late)
            s.add(inv)


def test_late_payer_three_of_the_last_six(runtime: Runtime) -> None:
    # the last six by period: May .. October (October's is open and not yet due)
    _invoices(runtime, "three", {4: 40, 5: 12, 6: -5, 7: 30, 8: "open", 9: 0, 10: "open"})  # Aug open: overdue
    _invoices(runtime, "two", {1: 9, 2: 9, 3: 9, 4: 9, 5: 1, 6: 0, 7: -3, 8: 2, 9: -1, 10: "open"})  # old ones late
    # September's is due 2026-10-01: open and overdue; October's due 2026-10-31 is not
    _invoices(runtime, "edge", {5: 0, 6: 0, 7: 3, 8: -2, 9: "open", 10: "open"})
    _invoices(runtime, "void", {5: 5, 6: 5, 7: "void", 8: 0, 9: 0, 10: "open"})
    found = _detect(runtime, "late_payer")
    assert set(found) == {"three"}
    row = found["three"]
    assert row.severity == "medium" and row.score == pytest.approx(0.5)
    assert row.reasons[0] == (
        "3 of the last 6 subscription invoices (May 2026 – Oct 2026) paid late or overdue (threshold 3 of 6)."
    )
    assert row.reasons[1] == "2 paid late by 12–30 days."
    assert row.reasons[2] == "1 open past due ($1,000), the oldest 45 days."
    assert [e["external_id"] for e in row.evidence] == ["inv-three-05", "inv-three-07", "inv-three-08"]
    assert row.evidence[2]["label"] == "Invoice INV-three-08 (Aug 2026), due 2026-08-31, open: 45 days late"
    assert row.details["series"]["points"][:4] == [["2026-05-01", 12], ["2026-06-01", 0], ["2026-07-01", 30],
                                                   ["2026-08-01", 45]]  # fmt: skip


def test_late_payer_edge_invoice_due_today_and_more_late_is_high(runtime: Runtime) -> None:
    # September's invoice is due 2026-10-01; on 2026-10-01 it is not yet overdue, the day after it is
    _invoices(runtime, "a1", {4: 0, 5: 0, 6: 0, 7: 4, 8: 4, 9: "open"})
    assert _detect(runtime, "late_payer", as_of=date(2026, 10, 1)) == {}
    assert set(_detect(runtime, "late_payer", as_of=date(2026, 10, 2))) == {"a1"}
    _invoices(runtime, "a2", {5: 3, 6: 3, 7: 3, 8: 3, 9: 0, 10: "open"})
    assert _detect(runtime, "late_payer")["a2"].severity == "high"


# ---- deal_slipping ----------------------------------------------------------------------------------------


def _deal(
    rt: Runtime,
    ext: str,
    *,
    close_in: int = 30,
    touched: float | None = 2,
    created: float = 90,
    stage: str = "proposal",
    amount: float = 10_000,
    call: bool = False,
    pushes: int | None = None,
) -> None:
    """A deal closing ``close_in`` days after AS_OF, last touched ``touched`` days before it."""
    account_id = _account(rt, "a1")
    with rt.session() as s:
        deal = Deal(
            source="test",
            external_id=ext,
            name=f"Deal {ext}",
            stage=stage,
            amount=amount,
            account_id=account_id,
            owner="rep@payready.com",
            close_date=AS_OF + timedelta(days=close_in),
            close_date_pushes=pushes,
            created_at=NOW - timedelta(days=created),
        )
        s.add(deal)
        s.flush()
        if touched is not None:
            at = NOW - timedelta(days=touched)
            if call:
                s.add(Call(source="test", external_id=f"call-{ext}", deal_id=deal.id, title="Check-in", started_at=at))
            else:
                s.add(Activity(source="test", external_id=f"act-{ext}", deal_id=deal.id, type="email", occurred_at=at))


def test_deal_slipping_close_date_passed(runtime: Runtime) -> None:
    _deal(runtime, "past", close_in=-1)
    _deal(runtime, "today", close_in=0)  # closes today: not yet passed
    _deal(runtime, "won", close_in=-40, touched=None, stage="closed_won")
    _deal(runtime, "lost", close_in=-40, touched=None, stage="closed_lost")
    found = _detect(runtime, "deal_slipping")
    assert set(found) == {"past"}
    row = found["past"]
    assert row.severity == "medium"
    assert row.reasons[0] == "Expected to close 2026-10-14: passed 1 day ago, still open in Proposal."
    assert row.title == "Deal past is slipping: 1 day past its close date"
    assert [e["table"] for e in row.evidence] == ["deals", "activities"]


def test_deal_slipping_no_activity_for_21_days(runtime: Runtime) -> None:
    _deal(runtime, "at", touched=21, call=True)  # exactly 21 days: fires
    _deal(runtime, "under", touched=20.9)
    _deal(runtime, "never", touched=None, created=30)  # nothing since it was created 30 days ago
    _deal(runtime, "new", touched=None, created=5)
    _deal(runtime, "ahead", touched=-3)  # only a meeting booked ahead: quiet since created
    found = _detect(runtime, "deal_slipping")
    assert set(found) == {"at", "never", "ahead"}
    assert (
        found["at"].reasons[0]
        == "No call or activity for 21 days (last call or activity 2026-09-24; threshold 21 days)."
    )
    assert found["never"].reasons[0].endswith("(none since created 2026-09-15; threshold 21 days).")
    assert found["ahead"].severity == "high"  # 90 days quiet: twice the threshold
    assert found["at"].severity == "medium"


def test_deal_slipping_close_date_moved_out_twice(runtime: Runtime) -> None:
    _deal(runtime, "twice", pushes=2)  # touched two days ago, closing in a month: only the pushes count
    _deal(runtime, "once", pushes=1)
    _deal(runtime, "unknown", pushes=None)  # a source without close-date history
    found = _detect(runtime, "deal_slipping")
    assert set(found) == {"twice"}
    assert found["twice"].reasons[0] == "Close date moved out 2 times (threshold 2); now 2026-11-14."
    assert found["twice"].title == "Deal twice is slipping: close date moved out 2 times"
    assert found["twice"].details["reasons"] == ["close_date_moved_out"]


def test_deal_slipping_both_is_high_and_a_moved_close_date_is_a_new_finding(runtime: Runtime) -> None:
    _deal(runtime, "both", close_in=-10, touched=40)
    _deal(runtime, "big", close_in=-2, amount=75_000)
    found = _detect(runtime, "deal_slipping")
    assert found["both"].severity == "high" and found["big"].severity == "high"
    assert found["both"].details["reasons"] == ["close_date_passed", "no_activity"]
    assert found["both"].score > found["big"].score
    with runtime.session() as s:
        s.scalar(select(Deal).where(Deal.external_id == "big")).close_date = AS_OF + timedelta(days=30)
    result = run_detection(runtime=runtime, as_of=AS_OF, types=["deal_slipping"])
    assert result.counts() == {"created": 0, "updated": 1, "resolved": 1}


# ---- metric_anomaly ---------------------------------------------------------------------------------------

# a week of rent-like collections: Monday is the big day, the weekend is quiet
WEEK = {0: 30_000.0, 1: 12_000.0, 2: 10_000.0, 3: 9_000.0, 4: 11_000.0, 5: 2_000.0, 6: 500.0}
MONDAY_AS_OF = date(2026, 10, 13)  # a Tuesday: the last complete day is Monday 2026-10-12


def _daily_payments(rt: Runtime, *, weeks: int, overrides: dict[date, float] | None = None) -> None:
    last = MONDAY_AS_OF - timedelta(days=1)
    with rt.session() as s:
        for n in range(weeks * 7):
            day = last - timedelta(days=n)
            wiggle = 1 + 0.03 * ((n * 7) % 5 - 2)  # ±6 %, the same every run
            value = (overrides or {}).get(day, WEEK[day.weekday()] * wiggle)
            if value:
                s.add(
                    Payment(
                        source="test",
                        external_id=f"pay-{day}",
                        amount=round(value, 2),
                        paid_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15),
                        status="succeeded",
                    )
                )


def test_anomaly_a_normal_monday_is_no_alarm(runtime: Runtime) -> None:
    _daily_payments(runtime, weeks=10)
    assert _detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF) == {}


def test_anomaly_a_real_drop_alarms_against_its_weekday(runtime: Runtime) -> None:
    # Monday 2026-10-12 collects what a usual Tuesday does: normal for the week, a drop for a Monday
    _daily_payments(runtime, weeks=10, overrides={date(2026, 10, 12): 12_000.0})
    (row,) = _detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF).values()
    assert (row.subject_table, row.subject_external_id, row.subject_name) == ("company", "payready", "PayReady")
    assert row.severity == "medium"  # 18,000 off: past the band (k x 10 % of the median), not twice it
    assert row.title == "Payments collected below the usual Monday on 2026-10-12: $12,000 vs $30,450"
    assert row.reasons[0] == (
        "Payments collected $12,000 on Mon 2026-10-12 vs $30,450 median of the same weekday over 8 weeks: $18,450 "
        "below, beyond the band of ±$10,658 (threshold 3.5 x scale $3,045; scaled MAD $1,334, floor 10 % of the "
        "median or $1,000)."
    )
    assert row.reasons[1] == "6 other day(s) of the last 7 were within their band."
    assert row.evidence == [
        {"table": "payments", "external_id": "pay-2026-10-12", "doc_id": None,
         "label": "Payment pay-2026-10-12 (succeeded) $12,000.00, 2026-10-12 15:00"}
    ]  # fmt: skip
    points = row.details["series"]["points"]
    assert points[-1] == ["2026-10-12", 12000.0] and len(points) == 7 * 8 + 7
    assert row.details["series"]["unit"] == "USD"


def test_anomaly_needs_history_and_a_flat_series_does_not_alarm(runtime: Runtime) -> None:
    # five weeks of history: a drop is not judged (min_weeks 6)
    _daily_payments(runtime, weeks=5, overrides={date(2026, 10, 12): 1_000.0})
    assert _detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF) == {}
    with runtime.session() as s:
        set_param(session=s, type_="metric_anomaly", key="min_weeks", value="4", actor="ann")
    assert set(_detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF)) == {"payready"}


def test_anomaly_flat_series_floor_and_an_upward_move(runtime: Runtime) -> None:
    flat = {MONDAY_AS_OF - timedelta(days=n): 10_000.0 for n in range(1, 71)}
    flat[date(2026, 10, 12)] = 9_000.0  # −10 % on a series that never moved: MAD 0, within the floor
    flat[date(2026, 10, 8)] = 30_000.0  # a surge: not harmful, not raised by default
    _daily_payments(runtime, weeks=10, overrides=flat)
    assert _detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF) == {}
    with runtime.session() as s:
        set_param(session=s, type_="metric_anomaly", key="both_directions", value="true", actor="ann")
    (row,) = _detect(runtime, "metric_anomaly", as_of=MONDAY_AS_OF).values()
    assert row.severity == "low" and row.title.startswith("Payments collected above the usual Thursday")


# ---- against the demo's truth -----------------------------------------------------------------------------

TRUTH_KEYS = {
    "payment_volume_drop": "payment_volume_drops",
    "payment_failure_rate": "high_failure_rate",
    "late_payer": "chronic_late_payers",
}


@pytest.mark.parametrize(("seed", "as_of"), [(42, date(2026, 3, 15)), (7, date(2026, 1, 1))])
def test_demo_truth_found_exactly(runtime: Runtime, seed: int, as_of: date) -> None:
    load_demo(runtime=runtime, size="small", seed=seed, as_of=as_of)
    result = run_detection(runtime=runtime, as_of=as_of, types=[*TRUTH_KEYS, "deal_slipping", "metric_anomaly"])
    assert result.errors == {}
    with runtime.session() as s:
        truth = get_truth(session=s)
        assert truth is not None
        for type_, key in TRUTH_KEYS.items():
            found = {i.subject_external_id for i in s.scalars(select(Insight).where(Insight.type == type_))}
            planted = {item["external_id"] for item in truth[key]}
            assert planted and found == planted, type_
        late = {i.subject_external_id: i for i in s.scalars(select(Insight).where(Insight.type == "late_payer"))}
        for item in truth["chronic_late_payers"]:
            assert [e["external_id"] for e in late[item["external_id"]].evidence] == item["late_invoices"]
