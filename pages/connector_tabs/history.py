"""The Connectors page's Run history and Quarantine tabs, and taking quarantined records in again."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from app import ui
from connectors.registry import KINDS
from core import pipelines
from core.auth import Identity
from core.errors import SophiaError
from core.pipelines.replay import replay_quarantined
from core.runtime import Runtime
from pages.connector_tabs.common import ALL, HISTORY_LIMIT, RUN_ICON


def _connector_filter(key: str, names: list[str]) -> str | None:
    chosen = st.selectbox(
        "Connector", [ALL, *names], key=key, format_func=lambda n: "All connectors" if n == ALL else n
    )
    return chosen or None


RUN_COLOR = {"succeeded": "green", "failed": "red", "running": "orange"}


def history_tab(rt: Runtime, names: list[str]) -> None:
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    with left:
        connector = _connector_filter("runs_connector", names)
    only = right.segmented_control(
        "Show", ["All", "Failed", "With quarantined"], default="All", required=True, key="runs_show"
    )
    with rt.session() as s:
        runs = [
            pipelines.run_record(r) for r in pipelines.list_runs(session=s, connector=connector, limit=HISTORY_LIMIT)
        ]
    if only == "Failed":
        runs = [r for r in runs if r["status"] == "failed"]
    elif only == "With quarantined":
        runs = [r for r in runs if r["records_quarantined"]]
    with st.container(border=True):
        st.markdown(
            f"**Run history** · {ui.plural(len(runs), 'run')}"
            + (f" of the latest {HISTORY_LIMIT}" if only != "All" else "")
        )
        st.caption("One run per stream per sync, newest first. Open a run for its cursors and error.")
        if not runs:
            st.markdown(
                '<div class="sophia-muted">No runs to show. Press Run now on the Manage tab, or wait for '
                "the schedule.</div>",
                unsafe_allow_html=True,
            )
        for r in runs:
            run_expander(r)


def run_expander(r: dict) -> None:
    """One run: its counts in the label; its times, error and cursors inside."""
    started = datetime.fromisoformat(r["started_at"])
    finished = datetime.fromisoformat(r["finished_at"]) if r["finished_at"] else None
    quarantined = f"quarantined {r['records_quarantined']:,}"
    label = (
        f"{ui.stamp(started)} · {r['connector']} · {r['stream'] or '—'} · "
        f":{RUN_COLOR.get(r['status'], 'gray')}[{r['status']}] — "
        f"read {r['records_read']:,} · written {r['records_written']:,} · "
        + (f":orange[{quarantined}]" if r["records_quarantined"] else quarantined)
    )
    with st.expander(label, icon=RUN_ICON.get(r["status"], ":material/help:")):
        took = ui.span((finished - started).total_seconds()) if finished else "still running"
        st.caption(
            f"Run #{r['id']} · started {ui.stamp(started)} · "
            f"{'finished ' + ui.stamp(finished) + ' · took ' + took if finished else took}"
        )
        if r["error"]:
            st.error(r["error"], icon=":material/error:")
        before, after = st.columns(2)
        for col, title, cursor, none in (
            (before, "Cursor before", r["cursor_before"], "None: from the beginning."),
            (after, "Cursor after", r["cursor_after"], "None."),
        ):
            with col:
                st.markdown(f"**{title}**")
                if cursor:
                    st.json(cursor, expanded=True)
                else:
                    st.caption(none)


def replay_area(rt: Runtime, me: Identity, connectors: list[str]) -> None:
    """Take the listed connectors' quarantined records in again (after fixing what failed them)."""
    left, right = st.columns([1, 3])
    go = left.button(
        "Take them in again",
        icon=":material/replay:",
        key="quarantine_replay",
        help="Maps and stores each record again with the connector's current settings. Records that "
        "still fail stay here with their new error; one stored newer meanwhile is not overwritten.",
    )
    right.caption("Fixed what failed them (a stage_map entry, a missing record they point at)? Take them in again.")
    if not go:
        return
    for name in connectors:
        try:
            r = replay_quarantined(runtime=rt, kinds=KINDS, name=name, actor=me.username)
        except SophiaError as exc:
            st.error(f"{name}: {exc.message}", icon=":material/error:")
            continue
        text = (
            f"{name}: {r.taken:,} taken in, {r.superseded:,} superseded by newer data, "
            f"{r.still_failing:,} still failing"
        )
        (st.warning if r.still_failing else st.success)(text, icon=":material/replay:")


def quarantine_tab(rt: Runtime, me: Identity, names: list[str]) -> None:
    connector = _connector_filter("quarantine_connector", names)
    with rt.session() as s:
        records = [
            {
                "id": q.id,
                "connector": q.connector,
                "stream": q.stream,
                "external_id": q.external_id,
                "error": q.error,
                "payload": q.payload,
                "run_id": q.run_id,
                "created_at": q.created_at,
            }
            for q in pipelines.list_quarantined(session=s, connector=connector, limit=HISTORY_LIMIT)
        ]
    with st.container(border=True):
        st.markdown(
            f"**Quarantined records** · {'latest ' if len(records) == HISTORY_LIMIT else ''}"
            f"{ui.plural(len(records), 'record')}"
        )
        st.caption(
            "Records a connector read but could not take in, each with its error and the payload as the "
            "vendor sent it. The rest of their run landed."
        )
        if not records:
            st.markdown('<div class="sophia-muted">Nothing quarantined.</div>', unsafe_allow_html=True)
        else:
            replay_area(
                rt, me, sorted({q["connector"] for q in records} & set(names)) if connector is None else [connector]
            )
        for q in records:
            label = (
                f"{ui.stamp(q['created_at'])} · {q['connector']} · {q['stream']} · "
                f"{q['external_id'] or 'no id'} — {ui.short(q['error'], 80)}"
            )
            with st.expander(label, icon=":material/report:"):
                st.caption(f"Record #{q['id']}" + (f" · run #{q['run_id']}" if q["run_id"] else ""))
                st.error(q["error"], icon=":material/error:")
                st.markdown("**Payload**")
                st.json(q["payload"], expanded=True)
