"""Insights: what Sophia found that needs attention, most severe and newest first, within what the signed-in
role may see. Each card says why (the reasons, with their numbers), shows the records behind it (each opens its
record page) and a chart where a series explains it; analysts and admins acknowledge, resolve or snooze it
(``core.insights``, audited as the signed-in user). ``?insight=<id>`` opens one insight expanded (Slack messages
link there)."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st
from sqlalchemy.orm import Session

from app import ui
from app.auth import require_role
from core.auth import Identity
from core.db.models import SEVERITIES
from core.db.types import row_id
from core.errors import SophiaError
from core.insights import InsightFilters, run_detection
from core.insights.views import FeedOptions, FeedPage, feed_item, feed_options, insight_feed
from core.runtime import Runtime
from pages.insights_parts.card import FLASH, insight_card

PAGE_SIZE = 20
STATUSES = {
    "open": "Open",
    "new": "New",
    "acknowledged": "Acknowledged",
    "snoozed": "Snoozed",
    "resolved": "Resolved",
    "": "Any status",
}


def _detect() -> None:
    rt = ui.runtime()
    with st.spinner("Looking for what needs attention…"):
        result = run_detection(runtime=rt)
    found = ", ".join(f"{n} {ui.type_label(t).lower()}" for t, n in result.by_type.items() if n) or "nothing"
    level = "warning" if result.errors else "success"
    failed = f" {len(result.errors)} detector(s) failed: {', '.join(result.errors)}." if result.errors else ""
    ui.flash(
        FLASH,
        level,
        f"Detection ran as of {result.as_of}: {result.created} new, {result.updated} still true, "
        f"{result.resolved} resolved. Found: {found}.{failed}",
    )


# ---- filters and the feed -----------------------------------------------------------------------------------


def _filters(options: FeedOptions) -> InsightFilters:
    accounts = dict(options.accounts)
    owners = dict(options.owners)
    with st.container(border=True):
        c_type, c_sev, c_status, c_account, c_owner = st.columns([1.2, 1, 1.1, 1.4, 1.3])
        type_ = c_type.selectbox(
            "Type", [ui.ALL, *options.types], format_func=lambda t: ui.type_label(t) if t else "All types", key="i_type"
        )
        severity = c_sev.selectbox(
            "Severity",
            [ui.ALL, *SEVERITIES],
            format_func=lambda s: f"{s.capitalize()} or worse" if s and s != "critical" else (s.capitalize() or "Any"),
            key="i_severity",
        )
        status = c_status.selectbox("Status", list(STATUSES), format_func=STATUSES.get, key="i_status")
        account = c_account.selectbox(
            "Account",
            [ui.ALL, *accounts],
            format_func=lambda a: accounts.get(a, a) if a else "All accounts",
            key="i_account",
        )
        owner = c_owner.selectbox(
            "Owner", [ui.ALL, *owners], format_func=lambda o: owners.get(o, o) if o else "All owners", key="i_owner"
        )
    return InsightFilters(
        type=type_ or None,
        severity=severity or None,
        status=status or None,
        account=account or None,
        owner=owner or None,
    )


def _pager(total: int) -> int:
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(int(st.session_state.get("i_page", 1)), pages)
    if pages > 1:
        prev, where, nxt = st.columns([1, 2, 1], vertical_alignment="center")
        prev.button(
            "Previous",
            icon=":material/chevron_left:",
            disabled=page <= 1,
            on_click=st.session_state.__setitem__,
            args=("i_page", page - 1),
            key="i_prev",
        )
        where.markdown(
            f'<div style="text-align:center">Page {page} of {pages}</div>',
            unsafe_allow_html=True,
        )
        nxt.button(
            "Next",
            icon=":material/chevron_right:",
            disabled=page >= pages,
            on_click=st.session_state.__setitem__,
            args=("i_page", page + 1),
            key="i_next",
        )
    return page


def _page(s: Session, me: Identity, filters: InsightFilters, page: int, *, now: datetime) -> FeedPage:
    return insight_feed(
        session=s, identity=me, filters=filters, now=now, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )


def _opened(rt: Runtime, me: Identity, today: date) -> int | None:
    """The insight named by ``?insight=``, drawn expanded above the feed; its id (None without one)."""
    raw = st.query_params.get("insight")
    if not raw:
        return None
    try:
        insight_id = row_id(raw)
        if insight_id is None:
            raise ValueError
        with rt.session() as s:
            item = feed_item(session=s, identity=me, insight_id=insight_id, now=rt.clock.now())
    except (ValueError, SophiaError):
        st.error(f"No insight {raw}: it does not exist, or your role cannot see it.", icon=":material/block:")
        return None
    st.markdown("**Opened from a link**")
    insight_card(item, me, today, expanded=True)
    st.button("Close", icon=":material/close:", on_click=st.query_params.clear, key="i_all")
    st.divider()
    return insight_id


def _empty(me: Identity, filtered: bool) -> None:
    if filtered:
        ui.empty_state("Nothing matches", "No insight matches these filters. Try another status or fewer filters.")
    else:
        ui.empty_state(
            "No insights yet",
            "Sophia looks for stalled deals, stuck onboardings, payment drops, late payers, departing champions and "
            "more on a schedule and after each sync. Nothing has been found yet, or detection has not run.",
        )
    if me.can("admin"):
        _, middle, _ = st.columns([1, 1, 1])
        middle.button("Run detection", type="primary", icon=":material/radar:", on_click=_detect, width="stretch")


def main() -> None:
    rt = ui.runtime()
    ui.page_header("Insights", "What needs attention, why, and the records behind it. Most severe and newest first.")
    me = require_role(rt, "viewer", "insights")
    ui.show_flash(FLASH)
    today = rt.clock.now().date()
    opened = _opened(rt, me, today)
    with rt.session() as s:
        options = feed_options(session=s, identity=me)
    filters = _filters(options)
    key = (filters.type, filters.severity, filters.status, filters.account, filters.owner)
    if st.session_state.get("i_filters_key") != key:  # new filters start at the first page
        st.session_state["i_filters_key"] = key
        st.session_state["i_page"] = 1
    page = max(1, int(st.session_state.get("i_page", 1)))
    with rt.session() as s:
        feed = _page(s, me, filters, page, now=rt.clock.now())
        if feed.total and not feed.items:  # fewer insights than before (acted on, resolved): the last page
            page = -(-feed.total // PAGE_SIZE)
            feed = _page(s, me, filters, page, now=rt.clock.now())
        anything = feed.total or insight_feed(session=s, identity=me, now=rt.clock.now(), limit=1).total
    if feed.total == 0:
        _empty(me, filtered=anything > 0)
        return
    st.session_state["i_page"] = page
    if not me.can("analyst"):
        st.caption("Analysts and admins can acknowledge, resolve and snooze insights.")
    _pager(feed.total)
    first = (page - 1) * PAGE_SIZE + 1
    st.caption(f"{ui.plural(feed.total, 'insight')} · showing {first}–{first + len(feed.items) - 1}")
    for item in feed.items:
        if item.id != opened:
            insight_card(item, me, today)


main()
