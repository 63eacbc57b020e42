"""Dashboard metrics on a small business ingested by hand, with every expected number worked out
below; on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core import metrics as mx
from core.errors import InvalidInput
from core.ingest import ingest_records
from core.metrics import stages

AS_OF = date(2025, 6, 15)  # last complete month: May 2025; retention base month: May 2024
ANN, BOB, CARL = "ann@payready.com", "bob@payready.com", "carl@payready.com"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


ACCOUNTS = [
    # live customers
    {
        "external_id": "A1",
        "name": "Acme",
        "segment": "smb",
        "owner": ANN,
        "lifecycle_stage": "live",
        "arr": 12000,
        "health": "healthy",
        "stage_changed_at": at(2024, 1, 1),
    },
    {
        "external_id": "A2",
        "name": "Birch",
        "segment": "mid_market",
        "owner": BOB,
        "lifecycle_stage": "live",
        "arr": 60000,
        "health": "at_risk",
    },
    {
        "external_id": "A7",
        "name": "Gale",
        "segment": "enterprise",
        "owner": BOB,
        "lifecycle_stage": "live",
        "arr": 240000,
        "health": "critical",
    },
    # churned, onboarding, prospect
    {
        "external_id": "A3",
        "name": "Cedar",
        "segment": "smb",
        "owner": ANN,
        "lifecycle_stage": "churned",
        "arr": 0,
        "churned_on": date(2025, 3, 31),
    },
    {
        "external_id": "A4",
        "name": "Dune",
        "segment": "enterprise",
        "owner": BOB,
        "lifecycle_stage": "onboarding",
        "arr": 90000,
        "stage_changed_at": at(2025, 4, 1, 10),
    },  # 75 days -> stuck
    {
        "external_id": "A5",
        "name": "Elm",
        "segment": "smb",
        "owner": ANN,
        "lifecycle_stage": "onboarding",
        "arr": 6000,
        "stage_changed_at": at(2025, 5, 1, 9),
    },  # exactly 45 days -> not stuck
    {
        "external_id": "A6",
        "name": "Fir",
        "segment": "smb",
        "owner": ANN,
        "lifecycle_stage": "onboarding",
        "arr": 3000,
        "stage_changed_at": at(2025, 4, 30, 23, 30),
    },  # 46 days -> stuck
    {"external_id": "A8", "name": "Hill", "segment": "smb", "owner": ANN, "lifecycle_stage": "prospect"},
]


def inv(ext, account, period, amount, *, status="paid", kind="subscription", due=None):  # noqa: ANN001, ANN201
    return {
        "external_id": ext,
        "account_ref": account,
        "number": ext,
        "kind": kind,
        "period_start": period,
        "issued_on": period or due,
        "due_on": due or period,
        "amount": amount,
        "status": status,
    }


INVOICES = [
    inv("I-A1-2404", "A1", date(2024, 4, 1), 1000),  # the cohort of the previous period (April 2024)
    inv("I-A1-2405", "A1", date(2024, 5, 1), 1000),
    inv("I-A1-2504", "A1", date(2025, 4, 1), 1000),
    inv("I-A1-2505", "A1", date(2025, 5, 1), 1000),
    inv("I-A1-2506", "A1", date(2025, 6, 1), 1000, status="open", due=date(2025, 6, 15)),  # due today: not overdue
    inv("S-A1-2504", "A1", None, 700, kind="services", due=date(2025, 4, 20)),  # not MRR
    inv("I-A2-2404", "A2", date(2024, 4, 1), 2000),
    inv("I-A2-2405", "A2", date(2024, 5, 1), 4000),
    inv("I-A2-2504", "A2", date(2025, 4, 1), 5000),
    inv("I-A2-2505", "A2", date(2025, 5, 1), 5000, status="open", due=date(2025, 6, 1)),  # 14 days overdue
    inv("V-A2-2505", "A2", date(2025, 5, 1), 999, status="void", due=date(2025, 5, 1)),  # void: nothing
    inv("I-A3-2405", "A3", date(2024, 5, 1), 500),
    inv("S-A3-2503", "A3", None, 750, kind="services", status="open", due=date(2025, 3, 15)),  # 92 days overdue
    inv("I-A7-2503", "A7", date(2025, 3, 1), 20000),
    inv("I-A7-2504", "A7", date(2025, 4, 1), 20000),
    inv("I-A7-2505", "A7", date(2025, 5, 1), 20000, status="open", due=date(2025, 6, 20)),  # not yet due
]


def deal(ext, account, owner, stage, amount, close, closed_at=None):  # noqa: ANN001, ANN201
    return {
        "external_id": ext,
        "account_ref": account,
        "name": f"Deal {ext}",
        "owner": owner,
        "stage": stage,
        "amount": amount,
        "close_date": close,
        "closed_at": closed_at,
    }


DEALS = [
    deal("D1", "A1", ANN, "proposal", 10000, date(2025, 7, 1)),
    deal("D2", "A2", BOB, "negotiation", 20000, date(2025, 9, 13)),  # as_of + 90 days exactly
    deal("D3", "A4", BOB, "lead", 5000, date(2025, 6, 14)),  # close date passed: pipeline, not forecast
    deal("D4", "A8", ANN, "demo", 8000, date(2025, 12, 1)),  # 169 days out
    deal("D5", "A7", BOB, "closed_won", 100000, date(2025, 5, 10), at(2025, 5, 10, 15)),
    deal("D6", "A2", ANN, "closed_won", 30000, date(2025, 6, 10), at(2025, 6, 10, 12)),
    deal("D7", "A1", ANN, "closed_lost", 7000, date(2025, 5, 20), at(2025, 5, 20)),
    deal("D8", "A7", BOB, "closed_won", 50000, date(2024, 12, 5)),  # no closed_at: booked on close_date
    deal("D9", None, CARL, "qualified", 4000, date(2025, 6, 30)),  # no account
]


def rent(account, month, payments, failed, volume):  # noqa: ANN001, ANN201
    return {
        "external_id": f"R-{account}-{month:%y%m}",
        "account_ref": account,
        "month": month,
        "payments_count": payments,
        "failed_count": failed,
        "volume": volume,
    }


RENT = [
    rent("A1", date(2025, 4, 1), 100, 2, 98000),
    rent("A1", date(2025, 5, 1), 100, 10, 90000),  # 90% success: a payment issue
    rent("A1", date(2025, 6, 1), 50, 0, 50000),  # the current, incomplete month
    rent("A2", date(2025, 4, 1), 300, 3, 297000),
    rent("A2", date(2025, 5, 1), 400, 4, 396000),
    rent("A7", date(2025, 5, 1), 1000, 30, 970000),
]


def call(ext, owner, started, account):  # noqa: ANN001, ANN201
    return {"external_id": ext, "title": f"Call {ext}", "owner": owner, "started_at": started, "account_ref": account}


CALLS = [
    call("C1", ANN, at(2025, 6, 9), "A1"),  # first instant of the week
    call("C2", ANN, at(2025, 6, 15, 23, 59), "A1"),  # last minute of as_of
    call("C3", BOB, at(2025, 6, 12, 14), "A2"),
    call("C4", BOB, at(2025, 6, 8, 23, 59, 59), "A2"),  # before the week
    call("C5", BOB, at(2025, 6, 16), "A2"),  # after as_of
    call("C6", None, at(2025, 6, 10), "A7"),
]


@pytest.fixture
def business(any_runtime):
    with any_runtime.session() as s:
        for entity, records in [
            ("accounts", ACCOUNTS),
            ("deals", DEALS),
            ("invoices", INVOICES),
            ("rent_payment_volumes", RENT),
            ("calls", CALLS),
        ]:
            result = ingest_records(session=s, source="test", entity=entity, records=records)
            assert not result.failures, result.failures
    return any_runtime


def f(**kw) -> mx.DashboardFilters:  # noqa: ANN003
    return mx.DashboardFilters(as_of=AS_OF, **kw)


def test_stage_model_is_the_one_place_for_probabilities() -> None:
    assert [s.name for s in stages.STAGES] == [
        "lead",
        "qualified",
        "discovery",
        "demo",
        "proposal",
        "negotiation",
        "closed_won",
        "closed_lost",
    ]
    assert [stages.probability(s.name) for s in stages.STAGES] == [0.05, 0.10, 0.20, 0.35, 0.55, 0.75, 1.0, 0.0]
    assert stages.canonical_stage("contractsent", source="hubspot") == "negotiation"
    assert stages.canonical_stage("Closed Won", source="salesforce") == "closed_won"
    assert stages.canonical_stage("Proposal") == "proposal"
    assert stages.canonical_stage("made-up") is None


def test_filters_refuse_an_unknown_period() -> None:
    with pytest.raises(InvalidInput, match="period_days"):
        mx.DashboardFilters(as_of=AS_OF, period_days=45)
    assert mx.DashboardFilters(as_of=AS_OF, owner="", segment="").owner is None


def test_pipeline_by_stage(business) -> None:
    with business.session() as s:
        p = mx.pipeline_by_stage(session=s, filters=f()).set_index("stage")
        assert list(p.index) == ["lead", "qualified", "discovery", "demo", "proposal", "negotiation"]
        assert p["deals"].to_dict() == {
            "lead": 1,
            "qualified": 1,
            "discovery": 0,
            "demo": 1,
            "proposal": 1,
            "negotiation": 1,
        }
        assert p["amount"].to_dict() == {
            "lead": 5000,
            "qualified": 4000,
            "discovery": 0,
            "demo": 8000,
            "proposal": 10000,
            "negotiation": 20000,
        }
        assert p.loc["negotiation", "weighted_amount"] == 15000
        # owner by the deal's owner (D6 is Ann's though the account is Bob's), segment by the account
        ann = mx.pipeline_by_stage(session=s, filters=f(owner=ANN)).set_index("stage")
        assert ann["deals"].sum() == 2 and ann["amount"].sum() == 18000  # D1 + D4
        ent = mx.pipeline_by_stage(session=s, filters=f(segment="enterprise")).set_index("stage")
        assert ent["amount"].sum() == 5000  # D3 (Dune); D9 has no account and drops out


def test_weighted_forecast_by_period(business) -> None:
    with business.session() as s:
        fc = mx.weighted_forecast(session=s, filters=f(period_days=90))
        # D1 10000×0.55 + D2 20000×0.75 (closes on day 90) + D9 4000×0.10; D3's close date has passed
        assert (fc.weighted_amount, fc.pipeline_amount, fc.deals) == (20900, 34000, 3)
        assert (fc.start, fc.end) == (AS_OF, date(2025, 9, 13))
        assert mx.weighted_forecast(session=s, filters=f(period_days=30)).weighted_amount == 5900  # D1 + D9
        assert mx.weighted_forecast(session=s, filters=f(period_days=180)).weighted_amount == 23700  # + D4 8000×0.35
        assert mx.weighted_forecast(session=s, filters=f(owner=BOB)).weighted_amount == 15000
        assert mx.weighted_forecast(session=s, filters=f(segment="smb")).weighted_amount == 5500


def test_bookings(business) -> None:
    with business.session() as s:
        trend = mx.bookings_trend(session=s, filters=f())
        assert (
            len(trend) == 12
            and trend["month"].iloc[0] == date(2024, 6, 1)
            and trend["month"].iloc[-1] == date(2025, 5, 1)
        )
        booked = {m: a for m, a in zip(trend["month"], trend["bookings"]) if a}
        assert booked == {date(2024, 12, 1): 50000, date(2025, 5, 1): 100000}  # D8 by close date, D5; D6 is June
        assert trend["deals"].sum() == 2
        b30 = mx.bookings_total(session=s, filters=f(period_days=30))
        assert (b30.amount, b30.deals, b30.start) == (30000, 1, date(2025, 5, 17))
        assert mx.bookings_total(session=s, filters=f(period_days=90)).amount == 130000
        assert mx.bookings_total(session=s, filters=f(period_days=365)).amount == 180000
        assert mx.bookings_total(session=s, filters=f(period_days=365, owner=BOB)).amount == 150000


def test_current_arr_and_trend(business) -> None:
    with business.session() as s:
        assert mx.current_arr(session=s, filters=f()) == mx.CurrentArr(arr=312000, live_accounts=3)
        assert mx.current_arr(session=s, filters=f(owner=ANN)).arr == 12000
        assert mx.current_arr(session=s, filters=f(segment="enterprise")).arr == 240000  # Dune is onboarding
        trend = mx.arr_trend(session=s, filters=f()).set_index("month")
        assert list(trend.index)[-1] == date(2025, 5, 1) and len(trend) == 12
        # May 2025: 1000 + 5000 + 20000 (the void 999 and June's invoice are left out)
        assert trend.loc[date(2025, 5, 1), "mrr"] == 26000 and trend.loc[date(2025, 5, 1), "arr"] == 312000
        assert trend.loc[date(2025, 3, 1), "arr"] == 240000
        assert trend.loc[date(2025, 4, 1), "accounts"] == 3
        assert trend.loc[date(2024, 6, 1), "arr"] == 0
        longer = mx.arr_trend(session=s, filters=f(), months=24)
        assert len(longer) == 24 and longer.set_index("month").loc[date(2024, 5, 1), "mrr"] == 5500


def test_retention(business) -> None:
    with business.session() as s:
        r = mx.retention(session=s, filters=f())
        # cohort (MRR in May 2024): Acme 1000, Birch 4000, Cedar 500 = 5500; May 2025: 1000 + 5000 + 0
        assert (r.month, r.base_month) == (date(2025, 5, 1), date(2024, 5, 1))
        assert (r.cohort_accounts, r.churned_accounts, r.base_mrr, r.current_mrr, r.churned_mrr) == (
            3,
            1,
            5500,
            6000,
            500,
        )
        assert r.nrr == pytest.approx(6000 / 5500)
        assert r.grr == pytest.approx(5000 / 5500)  # Birch's expansion does not offset Cedar's loss
        assert r.logo_churn == pytest.approx(1 / 3)
        assert r.revenue_churn == pytest.approx(500 / 5500)
        ann = mx.retention(session=s, filters=f(owner=ANN))
        assert (ann.nrr, ann.logo_churn) == (pytest.approx(1000 / 1500), pytest.approx(0.5))
        none = mx.retention(session=s, filters=f(segment="enterprise"))  # Gale is newer than the base month
        assert none.cohort_accounts == 0 and none.nrr is None and none.logo_churn is None


def test_retention_trend_gives_the_previous_period(business) -> None:
    with business.session() as s:
        before, now = mx.retention_trend(session=s, filters=f(), months=2)
        assert now == mx.retention(session=s, filters=f())
        # April 2025 against April 2024: Acme 1000 -> 1000, Birch 2000 -> 5000; nobody churned
        assert (before.month, before.base_month, before.cohort_accounts) == (date(2025, 4, 1), date(2024, 4, 1), 2)
        assert before.nrr == pytest.approx(6000 / 3000) and before.logo_churn == 0
        assert [r.month for r in mx.retention_trend(session=s, filters=f(), months=6)][0] == date(2024, 12, 1)


def test_rent_volume(business) -> None:
    with business.session() as s:
        last = mx.rent_last_month(session=s, filters=f())
        assert (last.month, last.payments, last.failed, last.volume) == (date(2025, 5, 1), 1500, 44, 1456000)
        assert last.success_rate == pytest.approx(1 - 44 / 1500)
        assert last.previous_volume == 395000 and last.previous_success_rate == pytest.approx(1 - 5 / 400)
        trend = mx.rent_volume_trend(session=s, filters=f()).set_index("month")
        assert trend.loc[date(2025, 4, 1), "volume"] == 395000
        assert pd_isna(trend.loc[date(2025, 1, 1), "success_rate"])  # no payments that month
        table = mx.rent_volume_by_customer(session=s, filters=f())
        assert list(table["account"]) == ["Gale", "Birch", "Acme"]  # largest volume first
        assert table.set_index("account").loc["Acme", "success_rate"] == pytest.approx(0.9)
        issues = mx.customers_with_payment_issues(session=s, filters=f())
        assert list(issues["account"]) == ["Acme"]
        mm = mx.rent_last_month(session=s, filters=f(segment="mid_market"))
        assert (mm.payments, mm.failed, mm.volume) == (400, 4, 396000)


def pd_isna(value) -> bool:  # noqa: ANN001
    import pandas as pd

    return bool(pd.isna(value))


def test_accounts_by_health(business) -> None:
    with business.session() as s:
        h = mx.accounts_by_health(session=s, filters=f())
        assert h.set_index("health")["accounts"].to_dict() == {"healthy": 1, "at_risk": 1, "critical": 1}
        bob = mx.accounts_by_health(session=s, filters=f(owner=BOB))
        assert bob.set_index("health")["accounts"].to_dict() == {"healthy": 0, "at_risk": 1, "critical": 1}


def test_stuck_accounts(business) -> None:
    with business.session() as s:
        stuck = mx.stuck_accounts(session=s, filters=f())
        assert list(zip(stuck["account"], stuck["days_stuck"])) == [("Dune", 75), ("Fir", 46)]  # Elm: exactly 45
        assert list(mx.stuck_accounts(session=s, filters=f(owner=BOB))["account"]) == ["Dune"]
        assert mx.stuck_accounts(session=s, filters=f(segment="mid_market")).empty


def test_calls_this_week(business) -> None:
    with business.session() as s:
        week = mx.calls_this_week(session=s, filters=f())
        assert (week.count, week.start, week.end) == (4, date(2025, 6, 9), AS_OF)
        assert list(zip(week.by_owner["owner"], week.by_owner["calls"])) == [(ANN, 2), ("(no owner)", 1), (BOB, 1)]
        assert mx.calls_this_week(session=s, filters=f(owner=BOB)).count == 1
        assert mx.calls_this_week(session=s, filters=f(segment="smb")).count == 2


def test_overdue_invoices(business) -> None:
    with business.session() as s:
        o = mx.overdue_invoices(session=s, filters=f())
        assert (o.count, o.amount, o.accounts) == (2, 5750, 2)
        assert list(zip(o.invoices["number"], o.invoices["days_overdue"], o.invoices["account"])) == [
            ("S-A3-2503", 92, "Cedar"),
            ("I-A2-2505", 14, "Birch"),
        ]
        bob = mx.overdue_invoices(session=s, filters=f(owner=BOB))
        assert (bob.count, bob.amount) == (1, 5000)


def test_the_whole_dashboard_and_filter_choices(business) -> None:
    with business.session() as s:
        assert mx.has_business_data(session=s)
        d = mx.load_dashboard(session=s, filters=f())
        assert d.arr.arr == 312000 and d.overdue.count == 2 and d.calls.count == 4 and len(d.stuck) == 2
        opts = mx.filter_options(session=s)
        assert [o.email for o in opts.owners] == [ANN, BOB, CARL]
        assert opts.segments == ["smb", "mid_market", "enterprise"]


def test_an_empty_database_gives_zeros_not_errors(any_runtime) -> None:
    with any_runtime.session() as s:
        assert not mx.has_business_data(session=s)
        for period in mx.PERIODS:
            d = mx.load_dashboard(session=s, filters=f(period_days=period, owner=ANN, segment="smb"))
            assert d.arr.arr == 0 and d.forecast.weighted_amount == 0 and d.bookings.amount == 0
            assert d.retention.nrr is None and d.rent_last_month.success_rate is None
            assert d.overdue.count == 0 and d.overdue.invoices.empty and d.calls.count == 0
            assert d.stuck.empty and d.payment_issues.empty
            assert d.pipeline["deals"].sum() == 0 and d.health["accounts"].sum() == 0
            assert len(d.arr_trend) == 12 and d.arr_trend["arr"].sum() == 0
        assert mx.filter_options(session=s) == mx.FilterOptions(owners=[], segments=[])
