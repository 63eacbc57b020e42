"""The Connectors page's KPI row and its Overview tab: every connector and every stream's health."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import ui
from core.pipelines.health import StreamHealth
from core.pipelines.manage import ConnectorStatus
from pages.connector_tabs.common import STATE_BADGE, STATE_ICON, STATE_LABEL, every, kind_label, state_cell, styled


def kpis(statuses: list[ConnectorStatus]) -> None:
    streams = [s for c in statuses for s in c.streams]
    enabled = [c for c in statuses if c.enabled]
    failing = [c for c in statuses if c.state == "failing"]
    quarantined = sum(c.quarantined for c in statuses)
    last = max((c.last_run_at for c in statuses if c.last_run_at), default=None)
    cols = st.columns(4)
    with cols[0]:
        ui.kpi(
            "Connectors",
            f"{len(statuses)}",
            delta=f"{len(enabled)} enabled · last run {ui.ago(last)}",
            help="Configured connectors; the scheduler runs the enabled ones on their interval.",
        )
    with cols[1]:
        ok = sum(1 for s in streams if s.state == "ok")
        ui.kpi(
            "Streams ok",
            f"{ok} of {len(streams)}",
            delta=f"{sum(1 for s in streams if s.state == 'never_run')} never run" if streams else None,
            help="A stream is ok when its last run succeeded.",
        )
    with cols[2]:
        ui.kpi(
            "Failing",
            f"{len(failing)}",
            delta=", ".join(c.name for c in failing)[:60] if failing else "all clear",
            delta_color="red" if failing else "green",
            help="Connectors whose last run of some stream failed, or whose settings cannot be used.",
        )
    with cols[3]:
        ui.kpi(
            "Quarantined records",
            ui.count(quarantined),
            delta="see the Quarantine tab" if quarantined else "none",
            delta_color="orange" if quarantined else "off",
            help="Records a connector read but could not take in; the rest of their run landed.",
        )


def overview_tab(statuses: list[ConnectorStatus]) -> None:
    rows = [
        {
            "name": c.name,
            "kind": kind_label(c.kind),
            "enabled": c.enabled,
            "schedule": every(c.interval_minutes),
            "state": state_cell(c.state),
            "last_run": "syncing now" if c.syncing else ui.ago(c.last_run_at),
            "lag": ui.span(c.lag_s),
            "freshness": ui.span(c.freshness_s),
            "quarantined": c.quarantined,
            "last_error": ui.short(c.last_error),
        }
        for c in statuses
    ]
    with st.container(border=True):
        st.markdown(f"**Configured connectors** · {len(rows)}")
        st.caption(
            "Lag: time since the stream furthest behind last synced successfully. "
            "Freshness: time since the newest record any of its streams brought in."
        )
        st.dataframe(
            styled(pd.DataFrame(rows)),
            hide_index=True,
            key="connectors_table",
            column_config={
                "name": "Name",
                "kind": "Kind",
                "enabled": st.column_config.CheckboxColumn("Enabled"),
                "schedule": "Schedule",
                "state": "State",
                "last_run": "Last run",
                "lag": "Lag",
                "freshness": "Freshness",
                "quarantined": st.column_config.NumberColumn("Quarantined"),
                "last_error": st.column_config.TextColumn("Last error", width="large"),
            },
        )
    with st.container(border=True):
        st.markdown("**Streams**")
        for c in statuses:
            counts = {s: sum(1 for x in c.streams if x.state == s) for s in STATE_LABEL}
            summary = ", ".join(f":{STATE_BADGE[s]}[{n} {STATE_LABEL[s]}]" for s, n in counts.items() if n)
            summary = summary or (":red[settings unusable]" if c.problem else "no streams")
            with st.expander(
                f"{c.name} · {kind_label(c.kind)} — {ui.plural(len(c.streams), 'stream')}: {summary}",
                icon=STATE_ICON[c.state],
            ):
                if c.problem:
                    st.error(c.problem, icon=":material/error:")
                    continue
                stream_table(c.name, c.streams)


def stream_table(name: str, streams: list[StreamHealth]) -> None:
    st.dataframe(
        styled(
            pd.DataFrame(
                [
                    {
                        "stream": s.stream,
                        "entity": s.entity,
                        "state": state_cell(s.state),
                        "last_run": ui.ago(s.last_run_at),
                        "last_success": ui.ago(s.last_success_at),
                        "lag": ui.span(s.lag_s),
                        "freshness": ui.span(s.freshness_s) if s.last_success_at or s.records_written else ui.DASH,
                        "written": s.records_written,
                        "failed_24h": s.failed_runs_24h,
                        "last_error": ui.short(s.last_error),
                    }
                    for s in streams
                ]
            )
        ),
        hide_index=True,
        key=f"streams_{name}",
        column_config={
            "stream": "Stream",
            "entity": "Becomes",
            "state": "State",
            "last_run": "Last run",
            "last_success": "Last success",
            "lag": "Lag",
            "freshness": "Freshness",
            "written": st.column_config.NumberColumn("Written (all runs)"),
            "failed_24h": st.column_config.NumberColumn("Failed runs (24 h)"),
            "last_error": st.column_config.TextColumn("Last error", width="large"),
        },
    )
