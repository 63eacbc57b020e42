"""The Dashboard's tables: what needs attention (the open insights) and the lists behind its cards (stuck
onboardings, overdue invoices, customers with payment issues), account names linking to the account page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import links, ui
from core import metrics
from core.insights.views import FeedPage
from core.metrics import Dashboard


def needs_attention(feed: FeedPage, names: dict[str, str], owner: str | None) -> None:
    """The open insights, most severe first: each with its reason, owner and links (the insight, the account)."""
    rows = [
        {
            "severity": item.severity.capitalize(),
            "insight": links.insight_url(item.id, item.title),
            "reason": item.reasons[0] if item.reasons else "",
            "owner": (item.owner_name or names.get(item.owner, item.owner)) if item.owner else ui.DASH,
            "account": links.account_url(item.account_external_id, item.account_name or item.account_external_id)
            if item.account_external_id
            else None,
        }
        for item in feed.items
    ]
    frame = pd.DataFrame(rows, columns=["severity", "insight", "account", "owner", "reason"])
    shown = f"the {len(rows)} most severe of " if feed.total > len(rows) else ""
    ui.table_card(
        "Needs attention",
        frame,
        key="t_attention",
        caption=(
            f"Open insights{' of ' + names.get(owner, owner) if owner else ''}: {shown}{ui.plural(feed.total, 'insight')}."
            " Each opens on the Insights page with its evidence."
        ),
        empty="Nothing needs attention: no open insight.",
        column_config={
            "severity": st.column_config.TextColumn("Severity", width="small"),
            "insight": links.link_column("Insight", width="large"),
            "account": links.link_column("Account", width="medium"),
            "owner": st.column_config.TextColumn("Owner", width="small"),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
        styler=_severity_colors,
    )
    st.page_link(links.INSIGHTS_PAGE, label="All insights", icon=":material/arrow_forward:")


def _severity_colors(frame: pd.DataFrame) -> object:
    colors = {"Critical": "#C0392B", "High": "#D35400", "Medium": "#2E5C8A", "Low": "#5A6B7F"}
    return frame.style.map(lambda v: f"color: {colors.get(str(v), '')}; font-weight: 600", subset=["severity"])


def with_account_links(frame: pd.DataFrame, refs: dict[int, tuple[str, str]]) -> pd.DataFrame:
    """The frame's ``account`` column as links to the account page (by its ``account_id``)."""
    frame = frame.copy()
    frame["account"] = [
        links.account_url(*refs[int(a)]) if pd.notna(a) and int(a) in refs else None for a in frame["account_id"]
    ]
    return frame


def tables(d: Dashboard, names: dict[str, str], refs: dict[int, tuple[str, str]]) -> None:
    def who(frame: pd.DataFrame) -> pd.DataFrame:
        frame = with_account_links(frame, refs)
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
                "account": links.link_column("Account"),
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
                "account": links.link_column("Account"),
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
            "account": links.link_column("Account"),
            "owner": "Owner",
            "segment": "Segment",
            "payments": st.column_config.NumberColumn("Payments", format="%,d"),
            "failed": st.column_config.NumberColumn("Failed", format="%,d"),
            "success_rate": st.column_config.ProgressColumn("Success rate", format="percent", min_value=0, max_value=1),
            "volume": st.column_config.NumberColumn("Rent volume", format="$%,.0f"),
        },
    )
