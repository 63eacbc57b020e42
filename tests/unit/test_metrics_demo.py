"""Dashboard metrics on the small demo: what the demo planted is what the metrics find, and the
owner/segment filters split every total exactly."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from connectors.demo import get_truth, load_demo
from core import metrics as mx
from core.db.models import Account
from core.runtime import open_runtime, prepare
from tests.conftest import make_settings

AS_OF = date(2025, 6, 15)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("demo")))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=42, as_of=AS_OF)
    with rt.session() as s:
        truth = get_truth(session=s)
        ext = {id_: e for id_, e in s.execute(select(Account.id, Account.external_id))}
    yield rt, truth, ext
    rt.engine.dispose()


def f(**kw) -> mx.DashboardFilters:  # noqa: ANN003
    return mx.DashboardFilters(as_of=AS_OF, **kw)


def test_stuck_accounts_are_the_planted_ones(demo) -> None:
    rt, truth, ext = demo
    with rt.session() as s:
        stuck = mx.stuck_accounts(session=s, filters=f())
    found = {ext[a]: d for a, d in zip(stuck["account_id"], stuck["days_stuck"])}
    planted = {t["external_id"]: t["days_in_onboarding"] for t in truth["stuck_accounts"]}
    assert planted and found == planted  # the same accounts, and the same calendar-day counts


def test_customers_with_payment_issues_are_the_high_failure_accounts(demo) -> None:
    rt, truth, ext = demo
    with rt.session() as s:
        issues = mx.customers_with_payment_issues(session=s, filters=f())
    assert {ext[a] for a in issues["account_id"]} == {t["external_id"] for t in truth["high_failure_rate"]}
    rates = {t["external_id"]: 1 - t["failure_rate"] for t in truth["high_failure_rate"]}
    for account_id, rate in zip(issues["account_id"], issues["success_rate"]):
        assert rate == pytest.approx(rates[ext[account_id]], abs=1e-4)


def test_the_demo_fills_every_card(demo) -> None:
    rt, _, _ = demo
    with rt.session() as s:
        d = mx.load_dashboard(session=s, filters=f())
    assert d.arr.arr > 0 and d.retention.nrr and d.forecast.weighted_amount > 0 and d.calls.count > 0
    assert d.rent_last_month.volume > 0 and d.health["accounts"].sum() == d.arr.live_accounts
    assert d.arr_trend["arr"].iloc[-1] > 0 and d.bookings_trend["bookings"].sum() > 0


def _totals(session, filters: mx.DashboardFilters) -> dict[str, float]:  # noqa: ANN001
    d = mx.load_dashboard(session=session, filters=filters)
    return {
        "arr": d.arr.arr,
        "forecast": d.forecast.weighted_amount,
        "pipeline": float(d.pipeline["amount"].sum()),
        "bookings": float(d.bookings_trend["bookings"].sum()),
        "mrr": float(d.arr_trend["mrr"].iloc[-1]),
        "rent": d.rent_last_month.volume,
        "overdue": d.overdue.amount,
        "stuck": len(d.stuck),
        "live": int(d.health["accounts"].sum()),
    }


@pytest.mark.parametrize("dimension", ["segment", "owner"])
def test_filters_partition_the_totals(demo, dimension) -> None:
    """Every record has exactly one segment (through its account) and one owner, so the filtered
    figures over all choices add up to the unfiltered one."""
    rt, _, _ = demo
    with rt.session() as s:
        options = mx.filter_options(session=s)
        choices = options.segments if dimension == "segment" else [o.email for o in options.owners]
        whole = _totals(s, f(period_days=365))
        parts = [_totals(s, f(period_days=365, **{dimension: c})) for c in choices]
    assert len(parts) > 1
    for key in whole:
        assert sum(p[key] for p in parts) == pytest.approx(whole[key], abs=0.01), key
        assert all(p[key] <= whole[key] + 0.01 for p in parts), key
