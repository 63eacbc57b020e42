"""Syncs started from the Connectors page: run in the background (``app.background``), shown above the tabs
with their progress to every admin, and their results to whoever started them until dismissed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import background, ui
from app.background import Job
from connectors.registry import KINDS
from core import pipelines
from core.bus import make_bus
from core.runtime import Runtime
from pages.connector_tabs.common import scope

POLL_S = 1.0  # how often a page showing a running sync refreshes its progress
RESULT_COLUMNS = {
    "stream": "Stream",
    "status": "Status",
    "read": "Read",
    "written": "Written",
    "quarantined": "Quarantined",
    "deleted": "Deleted",
}


def running_sync(rt: Runtime, name: str) -> Job | None:
    return background.running_job(scope(rt), name)


def start_sync(rt: Runtime, name: str, streams: list[str], actor: str) -> None:
    """Run now's callback: sync every stream of ``name`` in the background (nothing if one is running)."""

    def work(job: Job) -> pipelines.SyncResult:
        bus = make_bus(rt.settings)
        try:
            return pipelines.sync_connector(runtime=rt, kinds=KINDS, name=name, bus=bus, progress=job.update)
        finally:
            bus.close()

    job = background.start_job(scope=scope(rt), name=name, steps=streams, actor=actor, work=work)
    if job is not None:
        st.session_state.setdefault("my_syncs", []).append(job.id)


def sync_area(rt: Runtime) -> None:
    """Running syncs (anyone's) and the results of the ones this session started, above the tabs."""
    mine = set(st.session_state.get("my_syncs", []))
    dismissed = set(st.session_state.get("dismissed_syncs", []))
    jobs = [j for j in background.jobs_in(scope(rt)) if j.running or (j.id in mine and j.id not in dismissed)]
    running = any(j.running for j in jobs)
    st.fragment(_sync_panels, run_every=POLL_S if running else None)(rt, [j.id for j in jobs])


def _sync_panels(rt: Runtime, ids: list[str]) -> None:
    jobs = [j for j in background.jobs_in(scope(rt)) if j.id in ids]
    seen = st.session_state.setdefault("seen_finished", [])
    for job in sorted(jobs, key=lambda j: j.started_at):
        if not job.running and job.id not in seen:
            seen.append(job.id)  # it finished since the last full run: redraw the page with its results
            st.rerun(scope="app")
        if job.running:
            running_panel(job)
        else:
            finished_panel(job)


def running_panel(job: Job) -> None:
    where = "starting"
    if job.step:
        where = f"{job.step}: {job.done:,}" + (f" of {job.total:,}" if job.total else "") + " records"
    # not `with`: leaving the block would mark the status complete
    status = st.status(f"Syncing {job.name}… {where}", state="running", expanded=True)
    status.progress(job.fraction(), text=f"Stream {job.step_number()} of {len(job.steps)} · {where}")
    status.caption(
        f"Started by {job.started_by} {ui.ago(job.started_at)}. It runs on the server: you can keep "
        "working, leave the page, or come back later."
    )


def _headline(job: Job) -> tuple[str, str]:
    result: pipelines.SyncResult | None = job.result
    if result is None:
        return "error", f"The sync of {job.name} did not start"
    if result.failed:
        return "error", f"The sync of {job.name} failed at stream {result.failed.stream}"
    t = _total(result)
    return "complete", (
        f"Synced {job.name}: {t.read:,} read · {t.written:,} written · "
        f"{t.quarantined:,} quarantined · {t.deleted:,} deleted"
    )


def finished_panel(job: Job) -> None:
    result: pipelines.SyncResult | None = job.result
    state, label = _headline(job)
    with st.status(label, state=state, expanded=state == "error"):  # type: ignore[arg-type]
        if result is not None and result.runs:
            rows = [
                {"stream": r.stream, "status": r.status, **{k: getattr(r.tally, k) for k in list(RESULT_COLUMNS)[2:]}}
                for r in result.runs
            ]
            st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"sync_result_{job.id}", column_config=RESULT_COLUMNS)
        if job.error or (result and result.failed):
            st.error(job.error or result.failed.error, icon=":material/error:")
        took = (job.finished_at - job.started_at).total_seconds() if job.finished_at else None
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(f"Started by {job.started_by} at {ui.stamp(job.started_at)} · took {ui.span(took)}.")
        c2.button(
            "Dismiss",
            key=f"dismiss_{job.id}",
            icon=":material/close:",
            on_click=_dismiss,
            args=(job.id,),
            width="stretch",
        )


def _dismiss(job_id: str) -> None:
    st.session_state.setdefault("dismissed_syncs", []).append(job_id)


def _total(result: pipelines.SyncResult) -> pipelines.Tally:
    total = pipelines.Tally()
    for run in result.runs:
        total = total.plus(run.tally)
    return total
