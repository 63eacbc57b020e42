"""Shared pieces of the Streamlit face: the runtime handle, formatting, the filters bar, KPI cards,
chart and table cards, empty states and the house style (CSS and the Plotly template).

Pages lay out; everything they show comes from ``core`` calls made with ``runtime()``'s sessions.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from core.db.types import utcnow
from core.metrics import PERIODS, DashboardFilters, FilterOptions
from core.runtime import Runtime, get_runtime, prepare

# ---- the runtime ---------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def runtime() -> Runtime:
    """The process-wide runtime (settings, engine, sessions), prepared once per server process."""
    rt = get_runtime()
    prepared = prepare(rt)
    if prepared.admin_password:  # this process created the database: say the password once, like the CLI
        print(
            f"Sophia: created the first admin {prepared.admin_user!r} with password {prepared.admin_password} "
            "(shown once; only its hash is stored)",
            file=sys.stderr,
        )
    return rt


# ---- palette, CSS, Plotly template ----------------------------------------------------------

NAVY = "#0F2A4A"
TEAL = "#12A39A"
TEAL_LIGHT = "#8FD9D1"
AMBER = "#F2A541"
RED = "#E05D5D"
SLATE = "#8A99AD"
GRID = "#E9EDF2"
INK = "#1F2D3D"
COLORWAY = [NAVY, TEAL, AMBER, "#5B7DB1", TEAL_LIGHT, RED, SLATE]
HEALTH_COLORS = {"healthy": TEAL, "at_risk": AMBER, "critical": RED, "unknown": SLATE}
FONT = '"Source Sans 3", "Source Sans Pro", "Helvetica Neue", Arial, sans-serif'

pio.templates["sophia"] = go.layout.Template(
    layout={
        "font": {"family": FONT, "color": INK, "size": 13},
        "colorway": COLORWAY,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "xaxis": {
            "showgrid": False,
            "linecolor": "#CBD3DD",
            "ticks": "",
            "tickfont": {"color": "#5A6B7F"},
            "automargin": True,
        },
        "yaxis": {"gridcolor": GRID, "zeroline": False, "tickfont": {"color": "#5A6B7F"}, "automargin": True},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": {"text": ""}},
        "hoverlabel": {"font": {"family": FONT}},
        "bargap": 0.35,
    }
)
CHART_HEIGHT = 300
PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}

_CSS = f"""
<style>
  /* streamlit-authenticator's cookie component is an invisible iframe; take no room for it */
  div[data-testid="stElementContainer"]:has(iframe[height="0"]) {{ display: none; }}
  .block-container {{ padding-top: 2.2rem; }}
  div[data-testid="stMetric"] label p {{ color: #5A6B7F; font-weight: 600; }}
  div[data-testid="stMetricValue"] {{ color: {NAVY}; }}
  .sophia-brand {{ text-align: center; margin: 3.5rem 0 1.2rem 0; }}
  .sophia-brand .mark {{ display: inline-flex; width: 52px; height: 52px; border-radius: 14px;
      background: linear-gradient(135deg, {NAVY} 0%, {TEAL} 100%); color: white; font-size: 28px;
      font-weight: 700; align-items: center; justify-content: center; }}
  .sophia-brand h1 {{ font-size: 1.9rem; margin: .6rem 0 0 0; padding: 0; color: {NAVY}; }}
  .sophia-brand p {{ color: #5A6B7F; margin: .2rem 0 0 0; }}
  .sophia-user {{ display: flex; gap: .7rem; align-items: center; padding: .2rem 0 .6rem 0; }}
  .sophia-user .avatar {{ width: 36px; height: 36px; border-radius: 50%; background: {TEAL}; color: white;
      display: flex; align-items: center; justify-content: center; font-weight: 700; }}
  .sophia-user .name {{ font-weight: 600; line-height: 1.1; }}
  .sophia-user .meta {{ font-size: .8rem; opacity: .75; }}
  .sophia-role {{ display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .72rem;
      font-weight: 600; background: #E3F4F2; color: #0B7D76; text-transform: uppercase; letter-spacing: .03em; }}
  .sophia-empty {{ text-align: center; padding: 2rem 1rem 0 1rem; }}
  .sophia-empty .icon {{ color: {TEAL}; }}
  .sophia-empty h3 {{ color: {NAVY}; margin-bottom: .3rem; }}
  .sophia-empty p {{ color: #5A6B7F; }}
  .sophia-muted {{ color: #5A6B7F; font-size: .9rem; padding: 1.2rem 0; text-align: center; }}
  /* narrow screens (a 1024-1360 px window with the sidebar open): less side padding for the content */
  @media (max-width: 1360px) {{
    [data-testid="stMainBlockContainer"] {{ padding-left: 2rem; padding-right: 2rem; }}
  }}
  /* the KPI grid: four cards a row, two when the content is narrower than four readable cards */
  div[class*="st-key-kpi_wrap"] {{ container-type: inline-size; }}
  div[class*="st-key-kpi_grid"] {{ display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1rem;
      align-items: stretch; }}
  @container (max-width: 900px) {{
    div[class*="st-key-kpi_grid"] {{ grid-template-columns: repeat(2, minmax(0, 1fr)); }}
  }}
  div[class*="st-key-kpi_grid"] > div {{ width: auto !important; min-width: 0; }}
  div[class*="st-key-kpi_grid"] div[data-testid="stMetric"] {{ height: 100%; }}
  /* a value never ends in "…": it shrinks with the card; labels and deltas wrap rather than cut */
  div[data-testid="stMetricValue"] > div {{ font-size: clamp(1.5rem, 2.3vw, 2.1rem); overflow: visible; }}
  div[class*="st-key-kpi_grid"] :is([data-testid="stMetricLabel"], [data-testid="stMetricValue"],
      [data-testid="stMetricDelta"], [data-testid="stMetricDeltaDescription"]) :is(p, div) {{
      white-space: normal; overflow: visible; text-overflow: clip; }}
  /* metrics inside a card: give the container a key starting with "compact" */
  div[class*="st-key-compact"] div[data-testid="stMetricValue"] {{ font-size: 1.45rem; }}
</style>
"""


def inject_css() -> None:
    st.markdown(_CSS, unsafe_allow_html=True)


def brand_html() -> str:
    return '<div class="sophia-brand"><div class="mark">S</div><h1>Sophia</h1><p>PayReady operations platform</p></div>'


def user_badge_html(*, name: str, username: str, role: str) -> str:
    initial = html.escape((name or username or "?")[:1].upper())
    return (
        f'<div class="sophia-user"><div class="avatar">{initial}</div><div>'
        f'<div class="name">{html.escape(name)}</div>'
        f'<div class="meta">{html.escape(username)} · <span class="sophia-role">{html.escape(role)}</span></div>'
        "</div></div>"
    )


# ---- formatting ---------------------------------------------------------------------------

DASH = "—"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None) -> str:
    """$950, $12.5K, $312K, $1.2M, $3.4B."""
    if _missing(value):
        return DASH
    sign = "-" if value < 0 else ""
    amount = abs(value)
    if amount < 1000:
        return f"{sign}${amount:,.0f}"
    for unit, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B")):
        scaled = amount / unit
        text = f"{scaled:.1f}" if scaled < 100 else f"{scaled:.0f}"
        if float(text) < 1000 or suffix == "B":
            return f"{sign}${text.removesuffix('.0')}{suffix}"
    raise AssertionError("unreachable")


def money_exact(value: float | None) -> str:
    return DASH if _missing(value) else f"${value:,.2f}".removesuffix(".00")


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if _missing(value) else f"{value * 100:.{digits}f}%"


def count(value: int | None) -> str:
    return DASH if _missing(value) else f"{value:,}"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def short_name(name: str) -> str:
    """'Anthony Gonzalez' -> 'Anthony G.' (an email stays as it is)."""
    parts = name.split()
    return f"{parts[0]} {parts[-1][0]}." if len(parts) > 1 and "@" not in name else name


def segment_label(segment: str) -> str:
    return {"smb": "SMB", "mid_market": "Mid-market", "enterprise": "Enterprise"}.get(
        segment, str(segment).replace("_", " ").title()
    )


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


SOURCE_NAMES = {"hubspot": "HubSpot", "netsuite": "NetSuite", "usergems": "UserGems"}


def source_link_label(source: str) -> str:
    """The label of a link out to a result's source system ("Open in HubSpot"), or to an imported original."""
    return "Open the original" if source == "file" else f"Open in {SOURCE_NAMES.get(source, source.capitalize())}"


def day_label(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def span(seconds: float | None) -> str:
    """45 s, 4 min, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return DASH
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    if d >= 365:
        return f"{d / 365:.1f} years"
    if d >= 10:
        return f"{d} d"
    return f"{d} d {h} h" if h else f"{d} d"


def ago(when: datetime | None) -> str:
    if when is None:
        return DASH
    seconds = (utcnow() - when).total_seconds()
    return "just now" if seconds < 5 else f"{span(seconds)} ago"


def stamp(when: datetime | None) -> str:
    return DASH if when is None else f"{when:%b} {when.day}, {when:%H:%M:%S} UTC"


def short(text: str | None, limit: int = 90) -> str:
    """One line of at most ``limit`` characters."""
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def md(text: str | None) -> str:
    """Text shown as Markdown as it is: no LaTeX from "$", no headings, code or emphasis from its characters."""
    if not text:
        return ""
    for ch in ("\\", "$", "`", "*", "_", "#", "[", "]", "<", ">", "~"):
        text = text.replace(ch, "\\" + ch)
    return text


SEVERITY_COLORS = {"critical": "red", "high": "orange", "medium": "blue", "low": "gray"}
STATUS_COLORS = {"new": "violet", "acknowledged": "blue", "snoozed": "gray", "resolved": "green"}


def severity_badge(severity: str) -> str:
    """Markdown: the severity as a coloured badge."""
    return f":{SEVERITY_COLORS.get(severity, 'gray')}-badge[{severity.capitalize()}]"


def status_badge(status: str) -> str:
    return f":{STATUS_COLORS.get(status, 'gray')}-badge[{status.capitalize()}]"


def type_label(type_: str) -> str:
    """'payment_volume_drop' -> 'Payment volume drop'."""
    return type_.replace("_", " ").capitalize()


# ---- flash messages: set by an action's callback, shown once where the action is ------------

FLASH_ICONS = {
    "success": ":material/check_circle:",
    "error": ":material/error:",
    "info": ":material/info:",
    "warning": ":material/warning:",
}


def flash(area: str, level: Literal["success", "error", "info", "warning"], text: str) -> None:
    st.session_state[f"flash_{area}"] = (level, text)


def show_flash(area: str) -> None:
    item = st.session_state.pop(f"flash_{area}", None)
    if item is None:
        return
    level, text = item
    getattr(st, level)(text, icon=FLASH_ICONS[level])


# ---- layout pieces ------------------------------------------------------------------------


def page_header(title: str, subtitle: str | None = None) -> None:
    st.title(title, anchor=False)
    if subtitle:
        st.caption(subtitle)


ALL = ""  # the "no filter" choice of a filter select box


def filters_bar(options: FilterOptions, as_of: date) -> DashboardFilters:
    """Owner, segment and period in one row; returns the filters they choose."""
    owners = {o.email: o.name for o in options.owners}
    with st.container(border=True):
        c_owner, c_segment, c_period = st.columns([1.3, 1, 1.5], vertical_alignment="bottom")
        owner = c_owner.selectbox(
            "Owner",
            [ALL, *owners],
            format_func=lambda e: "All owners" if e == ALL else owners.get(e, e),
            key="filter_owner",
            help="Deals by deal owner, calls by the rep, everything else by account owner.",
        )
        segment = c_segment.selectbox(
            "Segment",
            [ALL, *options.segments],
            format_func=lambda s: "All segments" if s == ALL else segment_label(s),
            key="filter_segment",
        )
        period = c_period.segmented_control(
            "Period",
            list(PERIODS),
            default=90,
            required=True,
            format_func=lambda d: f"{d}d",  # short: four choices must fit a third of a 1024 px window
            key="filter_period",
            help="The horizon of the weighted forecast and the window of the bookings total.",
        )
    return DashboardFilters(as_of=as_of, owner=owner or None, segment=segment or None, period_days=int(period or 90))


def kpi(
    label: str,
    value: str,
    *,
    delta: str | None = None,
    delta_color: str = "off",
    delta_arrow: str = "off",
    description: str | None = None,
    chart_data: Sequence[float | None] | None = None,
    help: str | None = None,  # noqa: A002 (Streamlit's own name)
) -> None:
    """A bordered KPI card; ``chart_data`` draws its trend as a small line (None points are left out)."""
    points = [x for x in chart_data or () if not _missing(x)]
    st.metric(
        label,
        value,
        delta,
        delta_color=delta_color,  # type: ignore[arg-type]
        delta_arrow=delta_arrow,  # type: ignore[arg-type]
        delta_description=description if delta else None,
        chart_data=points if len(points) > 1 else None,
        help=help,
        border=True,
    )


@contextmanager
def kpi_grid() -> Iterator[None]:
    """KPI cards in a grid that keeps each card readable: four a row, two on a narrow screen."""
    with st.container(key="kpi_wrap"), st.container(key="kpi_grid", gap=None):
        yield


def points_delta(now: float | None, before: float | None) -> tuple[str | None, str]:
    """The change of a ratio in percentage points ("+1.2 pts", "-0.4 pts") and the arrow to draw; no delta
    when either end is unknown, no arrow when it did not move (at the precision shown)."""
    if _missing(now) or _missing(before):
        return None, "off"
    points = round((now - before) * 100, 1)
    if points == 0:
        return "0.0 pts", "off"
    return f"{points:+.1f} pts", "auto"


def month_axis(fig: go.Figure) -> None:
    """A monthly x axis: at most six labels of two short lines ("Nov" over "2025"), which fit side by side
    even in a chart a quarter of a 1024 px window wide."""
    fig.update_xaxes(type="date", tickformat="%b<br>%Y", tickangle=0, nticks=6)


def chart_card(
    title: str, fig: go.Figure | None, *, caption: str | None = None, empty: str = "Nothing to show yet.", key: str
) -> None:
    with st.container(border=True):
        st.markdown(f"**{html.escape(title)}**")
        if caption:
            st.caption(caption)
        if fig is None:
            st.markdown(f'<div class="sophia-muted">{html.escape(empty)}</div>', unsafe_allow_html=True)
            return
        fig.update_layout(template="sophia", height=CHART_HEIGHT)
        st.plotly_chart(fig, theme=None, config=PLOTLY_CONFIG, key=key)


def table_card(
    title: str,
    frame: pd.DataFrame,
    *,
    caption: str | None = None,
    empty: str,
    column_config: dict | None = None,
    key: str,
    styler: Callable[[pd.DataFrame], Any] | None = None,
) -> None:
    """A bordered table; ``styler`` makes a pandas Styler of the frame (colours) when given."""
    with st.container(border=True):
        st.markdown(f"**{html.escape(title)}**")
        if caption:
            st.caption(caption)
        if frame.empty:
            st.markdown(f'<div class="sophia-muted">{html.escape(empty)}</div>', unsafe_allow_html=True)
            return
        data = styler(frame) if styler else frame
        st.dataframe(data, hide_index=True, column_config=column_config, key=key, placeholder=DASH)


_EMPTY_ICON = (  # an inbox tray, drawn inline so it needs no icon font
    '<svg width="44" height="44" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.6" '
    'stroke-linecap="round" stroke-linejoin="round"><path d="M22 12h-6l-2 3h-4l-2-3H2"/>'
    '<path d="M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z"/>'
    "</svg>"
)


def empty_state(title: str, body: str) -> None:
    """A bordered, centred "nothing here yet" panel; ``body`` is Markdown."""
    with st.container(border=True):
        st.markdown(
            f'<div class="sophia-empty"><div class="icon">{_EMPTY_ICON}</div><h3>{html.escape(title)}</h3></div>',
            unsafe_allow_html=True,
        )
        _, middle, _ = st.columns([1, 2, 1])
        middle.markdown(body)


def indexing_notice(rt: Runtime, *, last_run: bool = False) -> bool:
    """Search indexing under way (from any process): a progress bar saying results may be incomplete. With
    ``last_run``, also how the last run ended (the Admin page). Returns whether a run is under way."""
    from core.search.indexing import indexing_state

    state = indexing_state(runtime=rt)
    if state is None:
        return False
    if state["state"] == "running":
        done, total = state.get("done", 0), state.get("total", 0)
        if not total:  # still reading records: most runs (every 30 seconds) find nothing to do
            return True
        st.progress(
            min(1.0, done / total),
            text=f"Indexing for search ({done:,} of {total:,} chunks, "
            f"{state.get('stage', '')}). Results may be incomplete until it finishes.",
        )
    elif state["state"] == "stalled":
        st.warning(
            "A search indexing run stopped reporting progress (its process may have died); the scheduler "
            "starts a new one within a minute.",
            icon=":material/warning:",
        )
    elif last_run and state["state"] == "failed":
        st.error(f"The last search indexing run failed: {state.get('error')}", icon=":material/error:")
    elif last_run and state.get("result"):
        r = state["result"]
        st.caption(
            f"Last indexing run finished {state['finished_at'][:19].replace('T', ' ')} UTC: "
            f"{plural(r['documents_seen'], 'document')} ({r['documents_added']:,} added, {r['documents_updated']:,} "
            f"updated, {r['documents_deleted']:,} deleted), {plural(r['chunks_embedded'], 'chunk')} embedded "
            f"in {r['seconds']:.1f} s."
        )
    return state["state"] == "running"
