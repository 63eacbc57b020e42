"""Account: everything one needs before a call with a customer (``?account=<external id>``). ARR, lifecycle,
health with its reasons (the account's open insights), rent volume and failure rate, invoices (late and
overdue marked), open deals, recent calls and Slack threads, champions and their job changes. Reached from any
account name (dashboard, search, insights); one core call (``core.metrics.account_view``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, links, ui
from app.auth import require_role
from core.auth import Identity
from core.errors import SophiaError
from core.metrics import today
from core.metrics.account_view import AccountView, account_view

HEALTH_BADGES = {"healthy": "green", "at_risk": "orange", "critical": "red"}
STATE_LABELS = {"paid": "Paid", "paid_late": "Paid late", "open": "Open", "overdue": "Overdue", "void": "Void"}
LIFECYCLE = {"prospect": "Prospect", "onboarding": "Onboarding", "live": "Live customer", "churned": "Churned"}


def _header(v: AccountView) -> None:
    ui.page_header(v.name)
    bits = [LIFECYCLE.get(v.lifecycle_stage, v.lifecycle_stage)]
    if v.segment:
        bits.append(ui.segment_label(v.segment))
    if v.units_managed:
        bits.append(f"{v.units_managed:,} units")
    if v.city or v.state:
        bits.append(", ".join(p for p in (v.city, v.state) if p))
    if v.pms:
        bits.append(f"runs {v.pms}")
    if v.owner:
        bits.append(f"owner {v.owner_name or v.owner}")
    if v.customer_since:
        bits.append(f"customer since {ui.day_label(v.customer_since)}")
    if v.churned_on:
        bits.append(f"churned {ui.day_label(v.churned_on)}")
    st.caption(" · ".join(bits) + f" · {v.source} {v.external_id}")


def _kpis(v: AccountView) -> None:
    last = v.last_rent
    open_amount = float(v.open_deals["amount"].sum()) if len(v.open_deals) else 0.0
    with ui.kpi_grid():
        ui.kpi(
            "ARR",
            ui.money(v.arr),
            delta=", ".join(v.products[:3]) or None,
            help=f"The CRM's contracted ARR: {ui.money_exact(v.arr)}.",
        )
        health = (v.health or "unknown").replace("_", " ")
        ui.kpi(
            "Health",
            health.capitalize(),
            delta=f"score {v.health_score}" if v.health_score is not None else None,
            delta_color={"healthy": "green", "at_risk": "orange", "critical": "red"}.get(v.health or "", "gray"),
            description=ui.plural(len(v.insights), "open insight"),
            help="The CRM's health score; the open insights below are the reasons Sophia sees.",
        )
        if last is not None:
            rate = last["failure_rate"]
            ui.kpi(
                f"Rent volume · {last['month']:%b}",
                ui.money(float(last["volume"])),
                delta=f"{ui.pct(rate)} failed" if rate is not None else None,
                delta_color="red" if (rate or 0) > 0.05 else "green",
                chart_data=[float(x) for x in v.rent["volume"]],
                help=(
                    f"Rent collected in {ui.month_label(last['month'])}: {ui.money_exact(float(last['volume']))} from "
                    f"{int(last['payments']):,} payments, {int(last['failed']):,} failed."
                ),
            )
        else:
            ui.kpi("Rent volume", ui.DASH, delta="no rent processed", help="No rent payments in the last 12 months.")
        ui.kpi(
            "Open pipeline",
            ui.money(open_amount),
            delta=ui.plural(len(v.open_deals), "open deal"),
            description=f"{v.late_invoices} late or overdue invoices" if v.late_invoices else "invoices on time",
            help=(
                f"Open deals: {ui.money_exact(open_amount)}. Of the {len(v.invoices)} latest invoices, "
                f"{v.late_invoices} were paid late or are overdue ({ui.money_exact(v.overdue_amount)} overdue)."
            ),
        )


def _health(v: AccountView) -> None:
    with st.container(border=True):
        color = HEALTH_BADGES.get(v.health or "", "gray")
        st.markdown(f"**Health and open insights** :{color}-badge[{(v.health or 'unknown').replace('_', ' ')}]")
        if not v.insights:
            st.markdown('<div class="sophia-muted">No open insight about this account.</div>', unsafe_allow_html=True)
            return
        for item in v.insights:
            st.markdown(f"{ui.severity_badge(item.severity)} **{ui.md(item.title)}**")
            st.markdown("\n".join(f"- {ui.md(r)}" for r in item.reasons))
            st.page_link(
                links.INSIGHTS_PAGE,
                label="Evidence and actions",
                icon=":material/arrow_forward:",
                query_params={"insight": str(item.id)},
            )


def _invoices(v: AccountView) -> None:
    inv = v.invoices
    frame = pd.DataFrame(
        {
            "invoice": [
                links.record_url(table="invoices", external_id=e, doc_id=d if pd.notna(d) else None, text=n)
                for e, d, n in zip(inv["external_id"], inv["doc_id"], inv["number"], strict=True)
            ],
            "issued": pd.to_datetime(inv["issued_on"]),
            "due": pd.to_datetime(inv["due_on"]),
            "amount": inv["amount"],
            "state": [
                f"{STATE_LABELS.get(s, s)} · {int(d)} days" if pd.notna(d) else STATE_LABELS.get(s, s)
                for s, d in zip(inv["state"], inv["days_late"], strict=True)
            ],
            "paid": pd.to_datetime(inv["paid_on"]),
        }
    )
    ui.table_card(
        "Invoices",
        frame,
        key="a_invoices",
        caption=(
            f"The {len(inv)} latest · {v.late_invoices} paid late or overdue"
            + (f" · {ui.money_exact(v.overdue_amount)} overdue" if v.overdue_amount else "")
        ),
        empty="No invoices.",
        column_config={
            "invoice": links.link_column("Invoice"),
            "issued": st.column_config.DateColumn("Issued", format="MMM D, YYYY"),
            "due": st.column_config.DateColumn("Due", format="MMM D, YYYY"),
            "amount": st.column_config.NumberColumn("Amount", format="dollar"),
            "state": "Status",
            "paid": st.column_config.DateColumn("Paid", format="MMM D, YYYY"),
        },
        styler=_late,
    )


def _late(frame: pd.DataFrame) -> object:
    """Late and overdue invoices in red."""

    def color(value: object) -> str:
        text = str(value)
        return "color: #C0392B; font-weight: 600" if text.startswith(("Overdue", "Paid late")) else ""

    return frame.style.map(color, subset=["state"])


def _deals(v: AccountView) -> None:
    d = v.open_deals
    frame = pd.DataFrame(
        {
            "deal": [
                links.record_url(table="deals", external_id=e, doc_id=i if pd.notna(i) else None, text=n)
                for e, i, n in zip(d["external_id"], d["doc_id"], d["name"], strict=True)
            ],
            "stage": d["stage_label"],
            "days": d["days_in_stage"],
            "amount": d["amount"],
            "close": pd.to_datetime(d["close_date"]),
            "owner": d["owner"],
        }
    )
    ui.table_card(
        "Open deals",
        frame,
        key="a_deals",
        caption=f"{ui.plural(len(d), 'open deal')} · {ui.money(float(d['amount'].sum()) if len(d) else 0)}",
        empty="No open deals.",
        column_config={
            "deal": links.link_column("Deal"),
            "stage": "Stage",
            "days": st.column_config.NumberColumn("In stage", format="%d days"),
            "amount": st.column_config.NumberColumn("Amount", format="dollar"),
            "close": st.column_config.DateColumn("Close date", format="MMM D, YYYY"),
            "owner": "Owner",
        },
    )


def _conversations(v: AccountView) -> None:
    calls_col, slack_col = st.columns(2)
    with calls_col, st.container(border=True):
        st.markdown("**Recent calls**")
        if not v.calls:
            st.markdown('<div class="sophia-muted">No calls.</div>', unsafe_allow_html=True)
        for c in v.calls:
            mood = f" · sentiment {c.sentiment:+.2f}" if c.sentiment is not None else ""
            links.record_link(
                table="calls",
                external_id=c.external_id,
                doc_id=c.doc_id,
                label=f"{ui.md(c.title)}",
                icon=":material/call:",
            )
            st.caption(f"{ui.day_label(c.started_at.date())} · {ui.span(c.duration_s)} · {c.owner or ui.DASH}{mood}")
    with slack_col, st.container(border=True):
        st.markdown("**Recent Slack threads**")
        if not v.threads:
            st.markdown('<div class="sophia-muted">No Slack threads.</div>', unsafe_allow_html=True)
        for t in v.threads:
            links.record_link(
                table="slack_messages",
                external_id=t.external_id,
                doc_id=t.doc_id,
                label=f"#{t.channel}: {ui.md(ui.short(t.text, 70))}",
                icon=":material/forum:",
            )
            st.caption(f"{ui.day_label(t.posted_at.date())} · {ui.plural(t.replies, 'reply', 'replies')}")


def _people(v: AccountView) -> None:
    with st.container(border=True):
        st.markdown("**Champions**")
        if not v.champions:
            st.markdown('<div class="sophia-muted">No champion recorded.</div>', unsafe_allow_html=True)
        for c in v.champions:
            who = f"**{ui.md(c.name)}**" + (f", {ui.md(c.title)}" if c.title else "")
            if c.left_for:
                st.markdown(
                    f"{who} :red-badge[left] → {ui.md(c.new_title or 'a role')} at {ui.md(c.left_for)}"
                    + (f" ({ui.day_label(c.changed_at.date())})" if c.changed_at else "")
                )
            else:
                st.markdown(who + (f" · {ui.md(c.email)}" if c.email else ""))
        others = [j for j in v.job_changes if not j.champion]
        if others:
            st.markdown("**Other job changes**")
            for j in others:
                st.markdown(
                    f"{ui.md(j.person_name)}"
                    + (f" ({ui.md(j.previous_title)})" if j.previous_title else "")
                    + f" → {ui.md(j.new_title or 'a role')} at {ui.md(j.new_company or 'another company')}"
                    + f" · {ui.day_label(j.detected_at.date())}"
                )


def show(v: AccountView, me: Identity) -> None:
    _header(v)
    _kpis(v)
    left, right = st.columns([1.2, 1])
    with left:
        last = v.last_rent
        ui.chart_card(
            "Rent volume and failure rate",
            charts.account_rent_chart(v.rent),
            key="a_rent",
            empty="No rent processed in the last 12 months.",
            caption=(
                f"{ui.money(float(last['volume']))} collected in {ui.month_label(last['month'])}"
                if last is not None
                else None
            ),
        )
    with right:
        _health(v)
    _invoices(v)
    _deals(v)
    _conversations(v)
    _people(v)


def main() -> None:
    rt = ui.runtime()
    me = require_role(rt, "viewer", "account")
    ext = st.query_params.get("account")
    if not ext:
        ui.page_header("Account")
        ui.empty_state("No account chosen", "Open an account from its name on the dashboard, in search or in insights.")
        return
    try:
        with rt.session() as s:
            view = account_view(session=s, identity=me, external_id=ext, as_of=today(), now=rt.clock.now())
    except SophiaError as exc:
        ui.page_header("Account")
        st.error(f"{exc.message}.", icon=":material/block:")
        return
    show(view, me)


main()
