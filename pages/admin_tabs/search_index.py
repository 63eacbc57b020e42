"""The Admin page's Search index tab: each enabled vector backend's state, and sync, reconcile or rebuild
now (the calls `sophia index` makes)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app import ui
from core.errors import SophiaError
from core.runtime import Runtime
from core.search.backends.registry import enabled_backends, make_backend
from core.search.searchable import indexing_status
from core.search.sync import index_status, rebuild, reconcile, sync_backend, table_counts


def _when(value: datetime | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value)


INDEX_ACTIONS = {
    "Sync now": "push the changes it has not received",
    "Reconcile": "compare with the chunks table and repair drift",
    "Rebuild": "clear it and push every chunk again",
}


def index_tab(rt: Runtime) -> None:
    names = list(enabled_backends(rt.settings))
    held = table_counts(runtime=rt)
    rows = index_status(runtime=rt, backends=names)
    c1, c2, c3 = st.columns(3)
    c1.metric("Documents", ui.count(held["documents"]))
    c2.metric("Chunks", ui.count(held["chunks"]))
    c3.metric("Chunks with a vector", ui.count(held["vectors"]))
    failing = [r["name"] for r in rows if r["error"]]
    if failing:
        st.error(
            f"Failing: {', '.join(failing)}. Searches and ingestion carry on; the backend catches up once "
            "it is reachable again.",
            icon=":material/error:",
        )
    running = ui.indexing_notice(rt, last_run=True)
    st.caption(indexing_status(runtime=rt).summary)  # records not searchable yet, and when they will be
    if not held["documents"] and not running:
        st.info(
            "Nothing is indexed yet. The scheduler indexes new records within a minute; `sophia reindex` does it now.",
            icon=":material/info:",
        )
    backend_table(rows)
    st.caption(
        "The first backend answers searches; the others are kept in sync as copies. The scheduler syncs "
        "every 30 seconds."
    )
    action_form(rt, names)


def backend_table(rows: list[dict]) -> None:
    frame = pd.DataFrame(
        [
            {
                "backend": r["name"],
                "state": "failing" if r["error"] else ("behind" if r["pending"] else "in sync"),
                "chunks": r["chunks"],
                "pending": r["pending"],
                "last_sync": _when(datetime.fromisoformat(r["last_sync"]) if r["last_sync"] else None),
                "error": r["error"] or "",
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "backend": "Backend",
            "state": "State",
            "chunks": st.column_config.NumberColumn("Chunks held", format="localized"),
            "pending": st.column_config.NumberColumn("Pending", format="localized"),
            "last_sync": st.column_config.DatetimeColumn("Last sync", format="MMM D, YYYY HH:mm:ss"),
            "error": "Last error",
        },
    )


def action_form(rt: Runtime, names: list[str]) -> None:
    with st.form("index_action", border=True):
        st.markdown("**Run now**")
        b_col, a_col = st.columns(2)
        name = b_col.selectbox("Backend", names, key="ix_backend")
        action = a_col.radio(
            "Action", list(INDEX_ACTIONS), key="ix_action", horizontal=True, captions=list(INDEX_ACTIONS.values())
        )
        sure = st.checkbox(
            "Yes, clear and rebuild it (searches on it are incomplete until the push ends)", key="ix_sure"
        )
        go = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")
    if go:
        _run_index_action(rt, name, action, sure)


def _run_index_action(rt: Runtime, name: str, action: str, sure: bool) -> None:
    if action == "Rebuild" and not sure:
        st.warning("Tick the box to confirm the rebuild.", icon=":material/warning:")
        return
    bar = st.progress(0.0, text=f"{action}: {name}…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0, text=f"{name}: {what} {done:,}/{total:,}")

    backend = make_backend(rt.settings, name)
    try:
        if action == "Sync now":
            report = sync_backend(runtime=rt, backend=backend, progress=progress)
            if report.skipped or report.error:
                raise SophiaError(report.skipped or report.error)
            done = (
                f"{report.upserted:,} upserted, {report.deleted:,} deleted"
                f"{' (full push)' if report.full_push else ''}; {report.pending:,} pending"
            )
        elif action == "Reconcile":
            fixed = reconcile(runtime=rt, backend=backend, progress=progress)
            done = (
                f"{len(fixed.missing):,} missing pushed, {len(fixed.extra):,} extra deleted, "
                f"{len(fixed.stale):,} of {fixed.checked:,} checked vectors stale"
            )
        else:
            rebuilt = rebuild(runtime=rt, backend=backend, progress=progress)
            done = f"{rebuilt.pushed:,} chunks pushed"
    except SophiaError as exc:
        bar.empty()
        st.error(f"{action} of {name} failed: {exc.message}", icon=":material/error:")
        return
    finally:
        backend.close()
    bar.progress(1.0, text=f"{action}: {name} done")
    st.success(f"{action} of {name}: {done}.", icon=":material/check_circle:")
