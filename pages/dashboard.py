"""Dashboard: revenue, pipeline, retention, rent processing, customer health and what needs attention.

Each figure says what it is and where it comes from: the ARR card is the CRM's contracted ARR, the chart's
ARR line is billed (12 × subscription MRR from invoices); the forecast card counts deals closing within the
period, the pipeline chart every open deal."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, ui
from app.auth import current_identity
from core import metrics
from core.accounts import account_refs
from core.insights import InsightFilters
from core.insights.views import FeedPage, insight_feed
from core.metrics import Dashboard, Retention
from pages.dashboard_parts.tables import needs_attention, tables

EMPTY_BODY = (
    "Run `sophia demo load` to explore a believable demo business, or configure a connector "
    "(HubSpot, Salesforce, Gong, NetSuite, …) and let its first sync finish. "
    "The dashboard fills in as soon as accounts, deals or invoices arrive."
)
INVOICES = "subscription invoices (finance)"
ATTENTION_ROWS = 8


def billed_arr(d: Dashboard) -> float | None:
    """12 × the subscription MRR of the last complete month: the ARR line's last point."""
    return float(d.arr_trend["arr"].iloc[-1]) if len(d.arr_trend) else None


def arr_kpi(d: Dashboard) -> None:
    billed = billed_arr(d)
    ui.kpi(
        "Current ARR · CRM",
        ui.money(d.arr.arr),
        delta=ui.plural(d.arr.live_accounts, "live customer"),
        description=f"billed {ui.money(billed)}",
        help=(
            f"Contracted ARR: Σ of the ARR field of the {d.arr.live_accounts:,} live customers in the CRM, "
            f"{ui.money_exact(d.arr.arr)}. The Bookings and ARR chart shows billed ARR instead: 12 × the MRR "
            f"of {INVOICES}, {ui.money_exact(billed)} in {ui.month_label(d.retention.month)}."
        ),
    )


def retention_kpis(d: Dashboard) -> None:
    r, before = d.retention, d.retention_trend[-2] if len(d.retention_trend) > 1 else None
    cohort = f"the {r.cohort_accounts:,} accounts billed in {ui.month_label(r.base_month)}"
    nrr_delta, nrr_arrow = ui.points_delta(r.nrr, before.nrr if before else None)
    ui.kpi(
        "Net revenue retention",
        ui.pct(r.nrr),
        delta=nrr_delta,
        delta_color="normal",  # up is good
        delta_arrow=nrr_arrow,
        description=_versus(before),
        chart_data=[x.nrr for x in d.retention_trend],
        help=(
            f"Trailing 12 months, from {INVOICES}: MRR in {ui.month_label(r.month)} of {cohort}, ÷ their MRR "
            f"then ({ui.money_exact(r.current_mrr)} ÷ {ui.money_exact(r.base_mrr)}). Gross revenue retention: "
            f"{ui.pct(r.grr)}. The delta and the line: the same measure a month earlier, and over six months."
        ),
    )
    churn_delta, churn_arrow = ui.points_delta(r.logo_churn, before.logo_churn if before else None)
    ui.kpi(
        "Logo churn (12 mo)",
        ui.pct(r.logo_churn),
        delta=churn_delta,
        delta_color="inverse",  # up is bad
        delta_arrow=churn_arrow,
        description=_versus(before),
        chart_data=[x.logo_churn for x in d.retention_trend],
        help=(
            f"From {INVOICES}: {r.churned_accounts:,} of {cohort} have no subscription MRR in "
            f"{ui.month_label(r.month)}. Revenue churn: {ui.pct(r.revenue_churn)} ({ui.money_exact(r.churned_mrr)} "
            "of MRR). The delta and the line: the same measure a month earlier, and over six months."
        ),
    )


def _versus(before: Retention | None) -> str | None:
    return f"vs {ui.month_label(before.month)}" if before is not None else None


def forecast_kpi(d: Dashboard) -> None:
    fc, open_weighted = d.forecast, float(d.pipeline["weighted_amount"].sum())
    ui.kpi(
        f"Weighted forecast · {d.filters.period_days}d",
        ui.money(fc.weighted_amount),
        delta=f"{ui.plural(fc.deals, 'deal')} · {ui.money(fc.pipeline_amount)} unweighted",
        help=(
            f"CRM deals still open with a close date from {ui.day_label(fc.start)} to {ui.day_label(fc.end)}: "
            f"Σ amount × stage probability, {ui.money_exact(fc.weighted_amount)}. The pipeline chart weighs "
            f"every open deal whatever its close date ({ui.money(open_weighted)})."
        ),
    )


def operations_kpis(d: Dashboard) -> None:
    rent, od = d.rent_last_month, d.overdue
    ui.kpi(
        f"Rent volume · {rent.month:%b}",
        ui.money(rent.volume),
        delta=f"{ui.pct(rent.success_rate)} success" if rent.payments else None,
        delta_color="green" if (rent.success_rate or 0) >= metrics.PAYMENT_ISSUE_SUCCESS_RATE else "red",
        help=(
            f"Rent collected in {ui.month_label(rent.month)} (PayReady's platform): {ui.money_exact(rent.volume)} "
            f"from {rent.payments:,} payments, {rent.failed:,} failed (success = 1 − failed ÷ payments). "
            f"{ui.month_label(metrics.add_months(rent.month, -1))}: {ui.money_exact(rent.previous_volume)}, "
            f"{ui.pct(rent.previous_success_rate)} success."
        ),
    )
    ui.kpi(
        "Overdue invoices",
        ui.money(od.amount),
        delta=f"{ui.plural(od.count, 'invoice')} · {ui.plural(od.accounts, 'account')}" if od.count else "none overdue",
        delta_color="red" if od.count else "green",
        help=f"Open invoices (finance) past their due date: {ui.money_exact(od.amount)}.",
    )
    ui.kpi(
        "Calls this week",
        ui.count(d.calls.count),
        delta=f"by {ui.plural(len(d.calls.by_owner), 'rep')}" if d.calls.count else "no calls",
        description=f"{d.calls.start:%b} {d.calls.start.day} – {d.calls.end:%b} {d.calls.end.day}",
        help="Calls (Gong) started in the 7 days ending today (UTC).",
    )
    ui.kpi(
        "Stuck onboardings",
        ui.count(len(d.stuck)),
        delta=f"onboarding > {metrics.STUCK_AFTER_DAYS} days" if len(d.stuck) else "none stuck",
        delta_color="orange" if len(d.stuck) else "green",
        help=f"Accounts in onboarding whose stage last changed more than {metrics.STUCK_AFTER_DAYS} days ago.",
    )


def kpi_grid(d: Dashboard) -> None:
    """Eight cards, four a row on a wide screen and two on a narrow one (the grid's CSS is in app.ui)."""
    with ui.kpi_grid():
        arr_kpi(d)
        forecast_kpi(d)  # before the two cards with trend lines, which then share a row in the two-card layout
        retention_kpis(d)
        operations_kpis(d)


def chart_rows(d: Dashboard, names: dict[str, str]) -> None:
    left, right = st.columns(2)
    with left:
        p = d.pipeline
        ui.chart_card(
            "Open pipeline by stage",
            charts.pipeline_chart(d),
            key="c_pipeline",
            empty="No open deals.",
            caption=f"Every open deal in the CRM, any close date: {ui.plural(int(p['deals'].sum()), 'deal')} · "
            f"{ui.money(p['amount'].sum())} total · {ui.money(p['weighted_amount'].sum())} weighted. "
            f"The forecast card counts only those closing within {d.filters.period_days} days.",
        )
    with right:
        ui.chart_card(
            "Bookings and ARR",
            charts.trend_chart(d),
            key="c_trend",
            empty="No bookings or subscription invoices yet.",
            caption=f"Bookings: won CRM deals, {ui.money(d.bookings.amount)} in the last {d.filters.period_days} "
            f"days. ARR line: billed, 12 × the MRR of {INVOICES}, {ui.money(billed_arr(d))} in "
            f"{ui.month_label(d.retention.month)}; the ARR card is the CRM's contracted ARR.",
        )
    left, right = st.columns(2)
    with left:
        last = d.rent_last_month
        ui.chart_card(
            "Rent payment volume and success rate",
            charts.rent_chart(d),
            key="c_rent",
            empty="No rent processed yet.",
            caption=f"{ui.money(last.volume)} collected in {ui.month_label(last.month)} from "
            f"{last.payments:,} payments · {ui.pct(last.success_rate)} success",
        )
    with right:
        health_col, calls_col = st.columns([1.25, 1])
        with health_col:
            ui.chart_card(
                "Customers by health",
                charts.health_chart(d),
                key="c_health",
                empty="No live customers.",
                caption="Live customers per health score",
            )
        with calls_col:
            ui.chart_card(
                "Calls this week",
                charts.calls_chart(d, names),
                key="c_calls",
                empty="No calls this week.",
                caption="By rep, last 7 days",
            )


def main() -> None:
    rt = ui.runtime()
    as_of = metrics.today()
    ui.page_header("Dashboard", f"As of {ui.day_label(as_of)} (UTC) · amounts in USD")
    with rt.session() as session:
        has_data = metrics.has_business_data(session=session)
        options = metrics.filter_options(session=session)
    if not has_data:
        ui.empty_state("No data yet", EMPTY_BODY)
        return
    filters = ui.filters_bar(options, as_of)
    with rt.session() as session:
        d = metrics.load_dashboard(session=session, filters=filters)
    names = {o.email: o.name for o in options.owners}
    me = current_identity(rt)
    with rt.session() as session:
        account_ids = [*d.stuck["account_id"], *d.overdue.invoices["account_id"], *d.payment_issues["account_id"]]
        refs = account_refs(session=session, account_ids=[int(a) for a in account_ids if pd.notna(a)])
        feed = (
            insight_feed(
                session=session,
                identity=me,
                filters=InsightFilters(status="open", owner=filters.owner),
                now=rt.clock.now(),
                limit=ATTENTION_ROWS,
            )
            if me is not None
            else FeedPage(items=[], total=0)
        )

    kpi_grid(d)
    needs_attention(feed, names, filters.owner)
    chart_rows(d, names)
    tables(d, names, refs)


main()
