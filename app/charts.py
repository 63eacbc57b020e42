"""The dashboard's Plotly figures, built from ``core.metrics.Dashboard`` frames in the house template.

Each returns None when there is nothing to draw (the card shows its empty line instead)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import ui
from core import metrics
from core.metrics import Dashboard


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


# ---- insights and the account page ----------------------------------------------------------

SERIES_HEIGHT = 190


def series_chart(series: dict) -> go.Figure | None:
    """The small chart that explains an insight: ``{"label", "unit", "points": [[iso_date, value], ...]}``.
    A unit of "USD" or "$" reads as money; "%" as percent points (values 0..100, as the detectors write them);
    "ratio" or "share" as a share (values 0..1); anything else as a number with its unit."""
    points = [p for p in series.get("points") or [] if isinstance(p, list | tuple) and len(p) == 2]
    if not points:
        return None
    unit = str(series.get("unit") or "")
    label = str(series.get("label") or "")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    money_unit, share_unit = unit.upper() in ("USD", "$"), unit.lower() in ("ratio", "share")
    percent_unit = unit in ("%", "percent")
    if money_unit:
        fmt = "$%{y:,.0f}"
    elif share_unit:
        fmt = "%{y:.1%}"
    elif percent_unit:
        fmt = "%{y:.1f} %"
    else:
        fmt = "%{y:,.2f}" + (f" {unit}" if unit else "")
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            line={"color": ui.NAVY, "width": 2.5},
            marker={"size": 6, "color": [ui.RED if i == len(ys) - 1 else ui.NAVY for i in range(len(ys))]},
            name=label,
            hovertemplate=f"%{{x}}<br>{fmt}<extra></extra>",
        )
    )
    fig.update_layout(template="sophia", height=SERIES_HEIGHT, showlegend=False)
    if money_unit:
        fig.update_yaxes(tickprefix="$", tickformat=".3~s")
    elif share_unit:
        fig.update_yaxes(tickformat=".0%")
    elif percent_unit:
        fig.update_yaxes(ticksuffix=" %")
    return fig


def account_rent_chart(rent: pd.DataFrame) -> go.Figure | None:
    """An account's rent volume (bars) and failure rate (line), per month."""
    if rent.empty or rent["payments"].sum() == 0:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=rent["month"],
        y=rent["volume"],
        name="Volume",
        marker_color=ui.NAVY,
        customdata=rent["payments"],
        hovertemplate="%{x|%b %Y}<br>%{y:$,.0f} from %{customdata:,} payments<extra></extra>",
    )
    fig.add_scatter(
        x=rent["month"],
        y=rent["failure_rate"],
        name="Failure rate",
        mode="lines+markers",
        line={"color": ui.RED, "width": 3},
        marker={"size": 6},
        hovertemplate="%{x|%b %Y}<br>failed %{y:.1%}<extra></extra>",
        secondary_y=True,
    )
    ui.month_axis(fig)
    rates = rent["failure_rate"].dropna()
    high = max(0.1, float(rates.max()) * 1.2) if len(rates) else 0.1
    fig.update_yaxes(tickprefix="$", tickformat=".3~s", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(tickformat=".0%", range=[0, high], secondary_y=True, showgrid=False, nticks=5)
    return fig
