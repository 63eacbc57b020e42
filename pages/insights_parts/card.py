"""An insight as a card: severity, status, title, reasons, what it is about, its evidence (each record opens its
page) with a chart where a series explains it, and the actions an analyst takes (acknowledge, resolve, snooze;
audited as the signed-in user). The Insights page draws its feed with it."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from app import charts, links, ui
from core.auth import Identity
from core.errors import SophiaError
from core.insights import acknowledge, resolve, snooze
from core.insights.views import FeedItem

FLASH = "insights"


# ---- actions (callbacks: they run before the page draws, so the feed shows their result) ----------------


def _act(action: str, insight_id: int, me: Identity) -> None:
    rt = ui.runtime()
    now = rt.clock.now()
    try:
        with rt.session() as s:
            if action == "ack":
                row = acknowledge(session=s, identity=me, insight_id=insight_id, now=now)
                ui.flash(FLASH, "success", f"Acknowledged: {row.title}")
            elif action == "resolve":
                row = resolve(session=s, identity=me, insight_id=insight_id, now=now)
                ui.flash(FLASH, "success", f"Resolved: {row.title}")
            else:
                until = st.session_state.get(f"snooze_until_{insight_id}")
                if not isinstance(until, date):
                    ui.flash(FLASH, "error", "Choose the day until which to snooze it.")
                    return
                row = snooze(session=s, identity=me, insight_id=insight_id, until=until, now=now)
                ui.flash(FLASH, "success", f"Snoozed until {ui.day_label(until)}: {row.title}")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


# ---- the card -------------------------------------------------------------------------------------------


def _meta(item: FeedItem) -> str:
    parts = [ui.type_label(item.type)]
    if item.owner:
        parts.append(f"owner {item.owner_name or item.owner}")
    parts.append(f"first seen {ui.day_label(item.first_seen.date())}")
    parts.append(f"last seen {ui.day_label(item.last_seen.date())}")
    if item.status == "snoozed" and item.snoozed_until:
        parts.append(f"snoozed until {ui.day_label(item.snoozed_until.date())}")
    if item.status == "acknowledged" and item.acknowledged_by:
        parts.append(f"acknowledged by {item.acknowledged_by}")
    if item.status == "resolved":
        parts.append("resolved automatically" if item.resolution == "auto" else f"resolved by {item.resolved_by}")
    return " · ".join(ui.md(p) for p in parts)


def _subject(item: FeedItem) -> None:
    cols = st.columns(2)
    if item.account_external_id:
        with cols[0]:
            links.account_link(item.account_external_id, item.account_name, icon=":material/domain:")
    if item.subject_table != "accounts" or not item.account_external_id:
        with cols[1]:
            links.record_link(
                table=item.subject_table,
                external_id=item.subject_external_id,
                label=item.subject_name,
                icon=":material/description:",
            )


def _evidence(item: FeedItem) -> None:
    st.markdown(f"**Evidence** · {ui.plural(len(item.evidence), 'record')}")
    for e in item.evidence:
        table, ext = str(e.get("table") or ""), str(e.get("external_id") or "")
        if not table or not ext:
            continue
        links.record_link(
            table=table, external_id=ext, doc_id=e.get("doc_id"), label=e.get("label") or "", icon=":material/link:"
        )


def _chart(item: FeedItem) -> None:
    series = item.series
    if series is None:
        return
    fig = charts.series_chart(series)
    if fig is None:
        return
    st.markdown(f"**{ui.md(str(series.get('label') or 'Trend'))}**")
    st.plotly_chart(fig, theme=None, config=ui.PLOTLY_CONFIG, key=f"series_{item.id}")


def _actions(item: FeedItem, me: Identity, today: date) -> None:
    if not me.can("analyst"):
        return
    if item.status == "resolved":
        st.caption("Resolved: nothing more to do. It opens again if the system finds it anew.")
        return
    ack, done, later, _ = st.columns([1, 1, 1.4, 2.6], vertical_alignment="bottom")
    ack.button(
        "Acknowledge",
        key=f"ack_{item.id}",
        icon=":material/visibility:",
        disabled=item.status == "acknowledged",
        on_click=_act,
        args=("ack", item.id, me),
        width="stretch",
    )
    done.button(
        "Resolve",
        key=f"resolve_{item.id}",
        icon=":material/task_alt:",
        on_click=_act,
        args=("resolve", item.id, me),
        width="stretch",
    )
    with later.popover("Snooze…", icon=":material/snooze:", width="stretch"):
        st.date_input(
            "Snooze until",
            value=today + timedelta(days=7),
            min_value=today + timedelta(days=1),
            key=f"snooze_until_{item.id}",
        )
        st.button("Snooze", key=f"snooze_{item.id}", on_click=_act, args=("snooze", item.id, me), type="primary")


def insight_card(item: FeedItem, me: Identity, today: date, *, expanded: bool = False) -> None:
    with st.container(border=True, key=f"insight_{item.id}"):
        st.markdown(f"{ui.severity_badge(item.severity)} {ui.status_badge(item.status)} **{ui.md(item.title)}**")
        st.caption(_meta(item))
        if item.summary:
            st.markdown(f"_{ui.md(item.summary)}_")
        st.markdown("\n".join(f"- {ui.md(r)}" for r in item.reasons))
        _subject(item)
        label = f"Evidence ({len(item.evidence)})" + (" and trend" if item.series else "")
        with st.expander(label, expanded=expanded, icon=":material/fact_check:"):
            if item.series:
                left, right = st.columns([1, 1.3])
                with left:
                    _evidence(item)
                with right:
                    _chart(item)
            else:
                _evidence(item)
            st.caption(f"Insight #{item.id} · {item.type} · score {item.score:.2f}")
        _actions(item, me, today)
