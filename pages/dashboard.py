"""Dashboard: revenue, pipeline, retention, rent processing, customer health and what needs attention."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import ui
from core import metrics
from core.metrics import Dashboard

EMPTY_BODY = (
    "Run `sophia demo load` to explore a believable demo business, or configure a connector "
    "(HubSpot, Salesforce, Gong, NetSuite, …) and let its first sync finish. "
    "The dashboard fills in as soon as accounts, deals or invoices arrive."
)


def kpi_rows(d: Dashboard) -> None:
    r, fc, rent, od = d.retention, d.forecast, d.rent_last_month, d.overdue
    top = st.columns(4)
    with top[0]:
        ui.kpi(
            "Current ARR",
            ui.money(d.arr.arr),
            delta=ui.plural(d.arr.live_accounts, "live customer"),
            help=f"Σ ARR of live customers (CRM): {ui.money_exact(d.arr.arr)}.",
        )
    with top[1]:
        ui.kpi(
            "Net revenue retention",
            ui.pct(r.nrr),
            delta=f"{ui.month_label(r.month)} vs {ui.month_label(r.base_month)}" if r.cohort_accounts else None,
            help=(
                f"MRR in {ui.month_label(r.month)} of the {r.cohort_accounts} accounts billed in "
                f"{ui.month_label(r.base_month)}, ÷ their MRR then ({ui.money_exact(r.current_mrr)} ÷ "
                f"{ui.money_exact(r.base_mrr)}). Gross revenue retention: {ui.pct(r.grr)}."
            ),
        )
    with top[2]:
        ui.kpi(
            "Logo churn (12 mo)",
            ui.pct(r.logo_churn),
            delta=f"{r.churned_accounts} of {ui.plural(r.cohort_accounts, 'account')}" if r.cohort_accounts else None,
            help=(
                f"Accounts billed in {ui.month_label(r.base_month)} with no subscription MRR in "
                f"{ui.month_label(r.month)}. Revenue churn: {ui.pct(r.revenue_churn)} "
                f"({ui.money_exact(r.churned_mrr)} of MRR)."
            ),
        )
    with top[3]:
        ui.kpi(
            f"Weighted forecast · {d.filters.period_days}d",
            ui.money(fc.weighted_amount),
            delta=f"{ui.plural(fc.deals, 'deal')} · {ui.money(fc.pipeline_amount)} unweighted",
            help=(
                f"Σ amount × stage probability of open deals closing {ui.day_label(fc.start)} – "
                f"{ui.day_label(fc.end)}: {ui.money_exact(fc.weighted_amount)}."
            ),
        )
    bottom = st.columns(4)
    with bottom[0]:
        ui.kpi(
            f"Rent volume · {rent.month:%b}",
            ui.money(rent.volume),
            delta=f"{ui.pct(rent.success_rate)} success" if rent.payments else None,
            delta_color="green" if (rent.success_rate or 0) >= metrics.PAYMENT_ISSUE_SUCCESS_RATE else "red",
            help=(
                f"Rent collected in {ui.month_label(rent.month)}: {ui.money_exact(rent.volume)} from "
                f"{rent.payments:,} payments, {rent.failed:,} failed (success = 1 − failed ÷ payments). "
                f"{ui.month_label(metrics.add_months(rent.month, -1))}: {ui.money_exact(rent.previous_volume)}, "
                f"{ui.pct(rent.previous_success_rate)} success."
            ),
        )
    with bottom[1]:
        ui.kpi(
            "Overdue invoices",
            ui.money(od.amount),
            delta=f"{ui.plural(od.count, 'invoice')} · {ui.plural(od.accounts, 'account')}"
            if od.count
            else "none overdue",
            delta_color="red" if od.count else "green",
            help=f"Open invoices past their due date: {ui.money_exact(od.amount)}.",
        )
    with bottom[2]:
        ui.kpi(
            "Calls this week",
            ui.count(d.calls.count),
            delta=f"by {ui.plural(len(d.calls.by_owner), 'rep')}" if d.calls.count else "no calls",
            description=f"{d.calls.start:%b} {d.calls.start.day} – {d.calls.end:%b} {d.calls.end.day}",
            help="Calls started in the 7 days ending today (UTC).",
        )
    with bottom[3]:
        ui.kpi(
            "Stuck onboardings",
            ui.count(len(d.stuck)),
            delta=f"onboarding > {metrics.STUCK_AFTER_DAYS} days" if len(d.stuck) else "none stuck",
            delta_color="orange" if len(d.stuck) else "green",
            help=f"Accounts in onboarding whose stage last changed more than {metrics.STUCK_AFTER_DAYS} days ago.",
        )


def pipeline_chart(d: Dashboard) -> go.Figure | None:
    p = d.pipeline
    if p["deals"].sum() == 0:
        return None
    fig = go.Figure()
    fig.add_bar(
        x=p["label"],
        y=p["amount"],
        name="Amount",
        marker_color=ui.NAVY,
        text=[ui.plural(int(n), "deal") for n in p["deals"]],
        textposition="outside",
        textfont={"size": 12, "color": "#5A6B7F"},
        hovertemplate="%{x}<br>%{y:$,.0f} · %{text}<extra></extra>",
    )
    fig.add_bar(
        x=p["label"],
        y=p["weighted_amount"],
        name="Weighted",
        marker_color=ui.TEAL,
        hovertemplate="%{x}<br>weighted %{y:$,.0f}<extra></extra>",
    )
    fig.update_layout(barmode="group", yaxis_tickprefix="$", yaxis_tickformat=".3~s")
    fig.update_traces(cliponaxis=False, constraintext="none")
    return fig


def trend_chart(d: Dashboard) -> go.Figure | None:
    b, a = d.bookings_trend, d.arr_trend
    if b["bookings"].sum() == 0 and a["arr"].sum() == 0:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=b["month"],
        y=b["bookings"],
        name="Bookings",
        marker_color=ui.TEAL,
        customdata=b["deals"],
        hovertemplate="%{x|%b %Y}<br>bookings %{y:$,.0f} (%{customdata} deals)<extra></extra>",
    )
    fig.add_scatter(
        x=a["month"],
        y=a["arr"],
        name="ARR",
        mode="lines+markers",
        line={"color": ui.NAVY, "width": 3},
        marker={"size": 6},
        hovertemplate="%{x|%b %Y}<br>ARR %{y:$,.0f}<extra></extra>",
        secondary_y=True,
    )
    ui.month_axis(fig)
    fig.update_yaxes(tickprefix="$", tickformat=".3~s", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(
        tickprefix="$",
        tickformat=".3~s",
        rangemode="tozero",
        secondary_y=True,
        showgrid=False,
        tickmode="auto",
        nticks=5,
    )
    return fig


def rent_chart(d: Dashboard) -> go.Figure | None:
    t = d.rent_trend
    if t["payments"].sum() == 0:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=t["month"],
        y=t["volume"],
        name="Volume",
        marker_color=ui.NAVY,
        customdata=t["payments"],
        hovertemplate="%{x|%b %Y}<br>%{y:$,.0f} from %{customdata:,} payments<extra></extra>",
    )
    fig.add_scatter(
        x=t["month"],
        y=t["success_rate"],
        name="Success rate",
        mode="lines+markers",
        line={"color": ui.TEAL, "width": 3},
        marker={"size": 6},
        hovertemplate="%{x|%b %Y}<br>success %{y:.1%}<extra></extra>",
        secondary_y=True,
    )
    ui.month_axis(fig)
    rates = t["success_rate"].dropna()
    low = max(0.0, min(float(rates.min()) - 0.02, metrics.PAYMENT_ISSUE_SUCCESS_RATE - 0.01)) if len(rates) else 0.9
    fig.update_yaxes(tickprefix="$", tickformat=".3~s", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(tickformat=".0%", range=[low, 1.0], secondary_y=True, showgrid=False, tickmode="auto", nticks=5)
    return fig


def health_chart(d: Dashboard) -> go.Figure | None:
    h = d.health[d.health["accounts"] > 0]
    if h.empty:
        return None
    labels = [str(x).replace("_", " ").capitalize() for x in h["health"]]
    fig = go.Figure(
        go.Pie(
            labels=labels,
            values=h["accounts"],
            hole=0.62,
            sort=False,
            direction="clockwise",
            marker={
                "colors": [ui.HEALTH_COLORS.get(x, ui.SLATE) for x in h["health"]],
                "line": {"color": "white", "width": 2},
            },
            customdata=h["arr"],
            texttemplate="%{value}",
            textfont={"size": 14, "color": "white"},
            hovertemplate="%{label}: %{value} customers<br>ARR %{customdata:$,.0f}<extra></extra>",
        )
    )
    fig.update_layout(
        showlegend=True,
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.05, "yanchor": "top"},
        annotations=[
            {
                "text": f"<b>{int(h['accounts'].sum())}</b><br>live",
                "showarrow": False,
                "font": {"size": 18, "color": ui.NAVY},
            }
        ],
    )
    return fig


def calls_chart(d: Dashboard, names: dict[str, str]) -> go.Figure | None:
    by = d.calls.by_owner
    if by.empty:
        return None
    by = by.head(8).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=by["calls"],
            y=[ui.short_name(names.get(o, o)) for o in by["owner"]],
            orientation="h",
            marker_color=ui.TEAL,
            customdata=[names.get(o, o) for o in by["owner"]],
            text=by["calls"],
            textposition="outside",
            textfont={"size": 12},
            hovertemplate="%{customdata}: %{x} calls<extra></extra>",
        )
    )
    fig.update_layout(xaxis={"showgrid": False, "showticklabels": False}, yaxis={"gridcolor": "rgba(0,0,0,0)"})
    fig.update_traces(cliponaxis=False)
    return fig


def tables(d: Dashboard, names: dict[str, str]) -> None:
    def who(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if "owner" in frame:
            frame["owner"] = [names.get(o, o) if o else ui.DASH for o in frame["owner"]]
        if "segment" in frame:
            frame["segment"] = [ui.segment_label(s) if s else ui.DASH for s in frame["segment"]]
        return frame

    left, right = st.columns(2)
    with left:
        stuck = who(d.stuck)[["account", "owner", "days_stuck", "arr"]]
        ui.table_card(
            "Stuck onboardings",
            stuck,
            key="t_stuck",
            caption=f"In onboarding for more than {metrics.STUCK_AFTER_DAYS} days without a stage change.",
            empty="No onboarding is stuck.",
            column_config={
                "account": "Account",
                "owner": "Owner",
                "days_stuck": st.column_config.NumberColumn("Stuck", format="%d days"),
                "arr": st.column_config.NumberColumn("ARR", format="$%,.0f"),
            },
        )
    with right:
        od = who(d.overdue.invoices)[["account", "number", "days_overdue", "amount"]]
        ui.table_card(
            "Overdue invoices",
            od,
            key="t_overdue",
            caption=f"{ui.plural(d.overdue.count, 'open invoice')} past due · {ui.money_exact(d.overdue.amount)}",
            empty="Every invoice is paid or not yet due.",
            column_config={
                "account": "Account",
                "number": "Invoice",
                "days_overdue": st.column_config.NumberColumn("Overdue", format="%d days"),
                "amount": st.column_config.NumberColumn("Amount", format="dollar"),
            },
        )
    issues = who(d.payment_issues)[["account", "owner", "segment", "payments", "failed", "success_rate", "volume"]]
    ui.table_card(
        "Customers with payment issues",
        issues,
        key="t_issues",
        caption=(
            f"Rent payment success below {ui.pct(metrics.PAYMENT_ISSUE_SUCCESS_RATE, 0)} in "
            f"{ui.month_label(d.rent_last_month.month)}, lowest first."
        ),
        empty="Every customer collected rent at or above the target success rate last month.",
        column_config={
            "account": "Account",
            "owner": "Owner",
            "segment": "Segment",
            "payments": st.column_config.NumberColumn("Payments", format="%,d"),
            "failed": st.column_config.NumberColumn("Failed", format="%,d"),
            "success_rate": st.column_config.ProgressColumn("Success rate", format="percent", min_value=0, max_value=1),
            "volume": st.column_config.NumberColumn("Rent volume", format="$%,.0f"),
        },
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

    kpi_rows(d)

    left, right = st.columns(2)
    with left:
        p = d.pipeline
        ui.chart_card(
            "Open pipeline by stage",
            pipeline_chart(d),
            key="c_pipeline",
            empty="No open deals.",
            caption=f"{ui.plural(int(p['deals'].sum()), 'open deal')} · {ui.money(p['amount'].sum())} total · "
            f"{ui.money(p['weighted_amount'].sum())} weighted",
        )
    with right:
        ui.chart_card(
            "Bookings and ARR",
            trend_chart(d),
            key="c_trend",
            empty="No bookings or subscription invoices yet.",
            caption=f"{ui.money(d.bookings.amount)} booked in the last {d.filters.period_days} days · "
            "ARR = 12 × subscription MRR",
        )
    left, right = st.columns(2)
    with left:
        last = d.rent_last_month
        ui.chart_card(
            "Rent payment volume and success rate",
            rent_chart(d),
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
                health_chart(d),
                key="c_health",
                empty="No live customers.",
                caption="Live customers per health score",
            )
        with calls_col:
            ui.chart_card(
                "Calls this week",
                calls_chart(d, names),
                key="c_calls",
                empty="No calls this week.",
                caption="By rep, last 7 days",
            )

    tables(d, names)


main()
