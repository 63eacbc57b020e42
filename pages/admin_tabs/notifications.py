"""The Admin page's Notifications tab: where insights go in Slack (the routes, add, enable/disable, remove) and how
delivery is doing (the token, each channel's pending, sent and failed deliveries and last error), with a test post
and "deliver now" (the calls `sophia notify` makes)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app import ui
from core import notify
from core.auth import Identity
from core.db.models import SEVERITIES
from core.errors import SophiaError
from core.runtime import Runtime

ALL_TYPES = "Every type"
DIGEST_LABELS = {0: "At once", 15: "Digest every 15 min", 60: "Digest every hour", 240: "Digest every 4 hours"}


def _when(value: str | None) -> pd.Timestamp:
    return pd.NaT if not value else pd.Timestamp(datetime.fromisoformat(value))


def notifications_tab(rt: Runtime, me: Identity) -> None:
    with rt.session() as s:
        status = notify.delivery_status(session=s)
    state_notice(rt, status)
    table = st.container()
    add_col, change_col = st.columns([1.4, 1])
    with add_col, st.container(border=True):
        add_route_form(me)
    with rt.session() as s:
        routes = notify.list_routes(session=s)
    with change_col, st.container(border=True):
        change_route_form(me, routes)
        test_form(rt)
    with table, st.container(border=True):
        routes_table(rt)
    with st.container(border=True):
        channels_table(rt)


def state_notice(rt: Runtime, status: notify.DeliveryStatus) -> None:
    if not rt.settings.slack_bot_token:
        st.info(
            "No Slack bot token: set `SOPHIA_SLACK_BOT_TOKEN` (or `env:VARIABLE`) for the jobs process. Deliveries "
            "are planned and wait until it is set.",
            icon=":material/info:",
        )
    elif status.token_ok is False:
        st.error(f"Slack refuses the bot token ({status.token_error}). Nothing is lost: deliveries wait.")
    if status.token_ok is not False and status.failing_channels:
        st.warning(f"Slack delivery: {status.describe()}.", icon=":material/warning:")
    elif status.healthy:
        st.caption(f"Slack delivery: {status.describe()}.")


def add_route_form(me: Identity) -> None:
    st.markdown("**Add a route**")
    types = [ALL_TYPES, *notify.insight_types()]
    with st.form("add_route", clear_on_submit=True, border=False):
        c1, c2 = st.columns(2)
        channel = c1.text_input("Channel", key="nr_channel", placeholder="C0123ABCD", help="A channel id or name.")
        type_ = c2.selectbox("Insight type", types, key="nr_type")
        severity = c1.selectbox("Minimum severity", SEVERITIES, index=len(SEVERITIES) - 1, key="nr_severity")
        digest = c2.selectbox("When", list(DIGEST_LABELS), format_func=DIGEST_LABELS.get, index=2, key="nr_digest")
        st.caption("Critical insights always go at once; digests go out in business hours.")
        submitted = st.form_submit_button("Add route", type="primary", icon=":material/add:")
    if submitted:
        _act(
            lambda v: f"Added route #{v.id}: {v.describe}.",
            notify.add_route,
            actor=me.username,
            channel=channel,
            type=None if type_ == ALL_TYPES else type_,
            min_severity=severity,
            digest_minutes=digest,
        )


def change_route_form(me: Identity, routes: list[notify.RouteView]) -> None:
    st.markdown("**Change a route**")
    labels = {r.id: f"#{r.id} · {r.channel} · {r.type or 'every type'}" for r in routes}
    with st.form("change_route", border=False):
        route_id = st.selectbox(
            "Route",
            list(labels),
            format_func=labels.get,
            index=None,
            key="nr_route",
            placeholder="Choose a route" if labels else "No routes yet",
        )
        action = st.segmented_control("Action", ["Enable", "Disable", "Remove"], default="Disable", key="nr_action")
        apply = st.form_submit_button("Apply", icon=":material/edit:", disabled=not labels, key="nr_apply")
    if not (apply and route_id and action):
        return
    if action == "Remove":
        _act(lambda v: f"Removed route #{v.id}.", notify.remove_route, actor=me.username, route_id=route_id)
    else:
        enabled = action == "Enable"
        _act(
            lambda v: f"Route #{v.id} is {'enabled' if v.enabled else 'disabled'}.",
            notify.set_route_enabled,
            actor=me.username,
            route_id=route_id,
            enabled=enabled,
        )


def test_form(rt: Runtime) -> None:
    st.markdown("**Try it**")
    with st.form("notify_test", border=False):
        channel = st.text_input("Channel", key="nt_channel", placeholder="C0123ABCD")
        c1, c2 = st.columns(2)
        test = c1.form_submit_button("Send a test message", icon=":material/send:")
        deliver = c2.form_submit_button("Deliver what is due", icon=":material/outbox:")
    try:
        if test:
            ts = notify.send_test(runtime=rt, channel=channel)
            st.success(f"Posted to {channel} (ts {ts}).", icon=":material/check_circle:")
        if deliver:
            report = notify.deliver_due(runtime=rt)
            said = f"Sent {report.sent} ({report.digests} digests), {report.pending} waiting"
            if report.errors:
                st.warning(f"{said}. " + "; ".join(f"{k}: {v}" for k, v in report.errors.items()))
            else:
                st.success(f"{said}.", icon=":material/check_circle:")
    except SophiaError as exc:
        st.error(exc.message)


def routes_table(rt: Runtime) -> None:
    with rt.session() as s:
        routes = notify.list_routes(session=s)
    st.markdown(f"**Routes** · {sum(1 for r in routes if r.enabled)} enabled")
    if not routes:
        st.markdown(
            '<div class="sophia-muted">No routes yet: insights are shown in Sophia only.</div>', unsafe_allow_html=True
        )
        return
    rows = [
        {
            "id": r.id,
            "channel": r.channel,
            "type": r.type or ALL_TYPES,
            "min_severity": r.min_severity,
            "when": DIGEST_LABELS.get(r.digest_minutes, str(r.digest_minutes)),
            "enabled": r.enabled,
            "by": r.created_by or "",
        }
        for r in routes
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="routes_table",
        column_config={
            "id": "Route",
            "channel": "Channel",
            "type": "Insight type",
            "min_severity": "Minimum severity",
            "when": "When",
            "enabled": st.column_config.CheckboxColumn("Enabled"),
            "by": "Added by",
        },
    )


def channels_table(rt: Runtime) -> None:
    with rt.session() as s:
        status = notify.delivery_status(session=s)
    last = datetime.fromisoformat(status.last_run_at) if status.last_run_at else None
    st.markdown(f"**Delivery** · last run {ui.ago(last) if last else 'never'}")
    if not status.channels:
        st.markdown('<div class="sophia-muted">Nothing delivered yet.</div>', unsafe_allow_html=True)
        return
    rows = [
        {
            "channel": c.channel,
            "state": "failing" if c.failing else "ok",
            "pending": c.pending + c.sending,
            "sent": c.sent,
            "failed": c.failed,
            "last_success": _when(c.last_success_at),
            "error": c.error or "",
        }
        for c in status.channels
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="delivery_table",
        column_config={
            "channel": "Channel",
            "state": "State",
            "pending": st.column_config.NumberColumn("Waiting"),
            "sent": st.column_config.NumberColumn("Sent"),
            "failed": st.column_config.NumberColumn("Failed"),
            "last_success": st.column_config.DatetimeColumn("Last success", format="MMM D, YYYY HH:mm"),
            "error": "Last error",
        },
    )


def _act(done, action, **kw) -> None:  # noqa: ANN001 - the Admin page's pattern: a core change, said or refused
    try:
        with ui.runtime().session() as s:
            result = action(session=s, **kw)
            said = done(result)
        st.success(said, icon=":material/check_circle:")
    except SophiaError as exc:
        st.error(exc.message)
