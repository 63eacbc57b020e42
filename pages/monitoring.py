"""Monitoring (admins): one health line, then pipelines, the search index, jobs and Slack delivery, each with
what is wrong and what to do. Pages only lay out: every figure comes from core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from app import ui
from app.auth import require_role
from connectors.registry import KINDS
from core.auth import Identity
from core.errors import SophiaError
from core.insights import InsightFilters, list_insights
from core.monitoring import (
    SystemHealth,
    check_jobs,
    check_pipelines,
    check_scheduler,
    check_search,
    check_slack,
    combine,
)
from core.notify import DeliveryStatus, RouteView, delivery_status, list_routes
from core.pipelines.health import StreamHealth, stream_health
from core.runtime import Runtime
from core.scheduling import JobStatus, job_statuses, pause_job, request_run, resume_job, scheduler_status
from core.search.backends.registry import enabled_backends
from core.search.searchable import IndexingStatus, indexing_status
from core.search.sync import index_status

HEALTH_ICON = {"green": ":material/check_circle:", "yellow": ":material/warning:", "red": ":material/error:"}
HEALTH_LABEL = {"green": "Healthy", "yellow": "Needs a look", "red": "Down"}
JOB_ICON = {"succeeded": "● ok", "failed": "● failed", "running": "● running", None: "○ never ran"}


def _when(value: datetime | str | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value)


def health_line(health: SystemHealth) -> None:
    text = f"**{HEALTH_LABEL[health.state]}** · {health.reason}"
    if health.state == "green":
        st.success(text, icon=HEALTH_ICON["green"])
    elif health.state == "yellow":
        st.warning(text, icon=HEALTH_ICON["yellow"])
    else:
        st.error(text, icon=HEALTH_ICON["red"])
    with st.expander("Every check"):
        for check in health.checks:
            st.markdown(f"{HEALTH_ICON[check.state]} **{check.area}** · {check.message}")


def pipelines_section(streams: list[StreamHealth]) -> None:
    rows = [
        {
            "connector": s.connector,
            "stream": s.stream,
            "state": s.state.replace("_", " "),
            "last run": _when(s.last_run_at),
            "last success": _when(s.last_success_at),
            "lag": ui.span(s.lag_s) if s.lag_s is not None else "—",
            "freshest record": ui.span(s.freshness_s) + " old" if s.freshness_s is not None else "—",
            "records written": s.records_written,
            "failed runs 24 h": s.failed_runs_24h,
            "last error": ui.short(s.last_error, 120) if s.last_error else "",
        }
        for s in streams
    ]
    ui.table_card(
        "Pipelines",
        pd.DataFrame(rows),
        caption="Each connector stream: its last run, how long since the last success (lag), how old its newest "
        "record is (freshness), and failures in the last 24 hours.",
        empty="No connector is configured. Add one on the Connectors page.",
        column_config={
            "last run": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "last success": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
        key="mon_pipelines",
    )


def search_section(backends: list[dict[str, Any]], indexing: IndexingStatus) -> None:
    rows = [
        {
            "backend": b["name"],
            "chunks held": b["chunks"],
            "pending changes": b["pending"],
            "last sync": _when(b["last_sync"]),
            "error": b["error"] or "",
        }
        for b in backends
    ]
    ui.table_card(
        "Search index",
        pd.DataFrame(rows),
        caption=indexing.summary,
        empty="No vector backend is enabled.",
        column_config={"last sync": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
        key="mon_index",
    )


def jobs_section(rt: Runtime, me: Identity, jobs: list[JobStatus], scheduler: str) -> None:
    rows = [
        {
            "job": j.id,
            "what": j.description,
            "every": ui.span(j.interval_s),
            "next run": pd.NaT if j.paused else _when(j.next_run_at),
            "last run": _when(j.last_started_at),
            "result": "⏸ paused" if j.paused else JOB_ICON.get(j.last_status, j.last_status or ""),
            "duration": ui.span(j.last_duration_s) if j.last_duration_s is not None else "—",
            "last error / outcome": ui.short(j.last_error, 100) if j.last_error else _outcome(j.last_result),
        }
        for j in jobs
    ]
    ui.table_card(
        "Jobs",
        pd.DataFrame(rows),
        caption=f"{scheduler[0].upper()}{scheduler[1:]}.",
        empty="No jobs.",
        column_config={
            "what": st.column_config.TextColumn(width="medium"),
            "next run": st.column_config.DatetimeColumn(format="HH:mm:ss"),
            "last run": st.column_config.DatetimeColumn(format="MMM D, HH:mm:ss"),
        },
        key="mon_jobs",
    )
    with st.form("mon_job_action", border=True):
        c_job, c_action, c_go = st.columns([2, 2, 1], vertical_alignment="bottom")
        job_id = c_job.selectbox("Job", [j.id for j in jobs], key="mon_job")
        action = c_action.selectbox("Action", ["Run now", "Pause", "Resume"], key="mon_job_action_kind")
        if c_go.form_submit_button("Apply", type="primary", use_container_width=True):
            _job_action(rt, me, job_id, action)
    ui.show_flash("monitoring_jobs")


def _outcome(result: dict[str, Any] | None) -> str:
    if not result:
        return ""
    return ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, int | float) and not isinstance(v, bool))[
        :100
    ]


def _job_action(rt: Runtime, me: Identity, job_id: str, action: str) -> None:
    act = {"Run now": request_run, "Pause": pause_job, "Resume": resume_job}[action]
    try:
        with rt.session() as session:
            act(session=session, job_id=job_id, actor=me.actor, now=rt.clock.now())
    except SophiaError as exc:
        ui.flash("monitoring_jobs", "error", exc.message)
    else:
        said = {
            "Run now": f"{job_id} will run within a few seconds (the active scheduler picks it up).",
            "Pause": f"{job_id} is paused: its scheduled runs are skipped until it is resumed.",
            "Resume": f"{job_id} runs on its schedule again.",
        }[action]
        ui.flash("monitoring_jobs", "success", said)
    st.rerun()


def slack_section(status: DeliveryStatus, routes: list[RouteView]) -> None:
    with st.container(border=True):
        st.markdown("**Slack delivery**")
        if not routes:
            st.caption(
                "No Slack route yet: add one on the Admin page's Notifications tab or with `sophia notify route add`."
            )
        elif status.healthy:
            st.caption(status.describe()[0].upper() + status.describe()[1:] + ".")
        else:
            st.error(status.describe()[0].upper() + status.describe()[1:] + ".", icon=":material/error:")
        c = st.columns(4)
        for col, (label, key) in zip(
            c, (("Sent", "sent"), ("Waiting", "pending"), ("Failed", "failed"), ("Skipped", "skipped")), strict=True
        ):
            col.metric(label, ui.count(status.counts.get(key, 0)))
        if status.channels:
            frame = pd.DataFrame(
                [
                    {
                        "channel": ch.channel,
                        "routes": ch.routes,
                        "sent": ch.sent,
                        "waiting": ch.pending,
                        "failed": ch.failed,
                        "last success": _when(ch.last_success_at),
                        "error": ch.error or "",
                    }
                    for ch in status.channels
                ]
            )
            st.dataframe(
                frame,
                hide_index=True,
                column_config={"last success": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
                key="mon_slack",
            )


def insights_line(rt: Runtime, me: Identity) -> None:
    now = rt.clock.now()
    with rt.session() as session:
        by = {
            sev: list_insights(
                session=session, identity=me, filters=InsightFilters(status="open", severity=sev), now=now, limit=1
            )[1]
            for sev in ("critical", "high", "low")
        }
    st.caption(
        f"Open insights: {by['low']:,}, of which {by['critical']:,} critical and {by['high'] - by['critical']:,} high "
        "(the Insights page lists them)."
    )


def main() -> None:
    rt = ui.runtime()
    ui.page_header("Monitoring", "Pipelines, search index, jobs and Slack delivery: what runs, what fails, and why.")
    me = require_role(rt, "admin", "monitoring")
    now = rt.clock.now()
    streams = stream_health(runtime=rt, kinds=KINDS)
    backends = index_status(runtime=rt, backends=list(enabled_backends(rt.settings)))
    with rt.session() as session:
        jobs = job_statuses(session=session, now=now, settings=rt.settings)
        scheduler = scheduler_status(session=session, now=now, settings=rt.settings)
        slack = delivery_status(session=session)
        routes = list_routes(session=session)
    indexing = indexing_status(runtime=rt)
    health = combine(
        [
            check_scheduler(scheduler),
            check_pipelines(streams),
            check_search(backends, indexing),
            check_jobs(jobs),
            check_slack(slack, routes=sum(r.enabled for r in routes)),
        ]
    )
    health_line(health)
    insights_line(rt, me)
    pipelines_section(streams)
    search_section(backends, indexing)
    jobs_section(rt, me, jobs, scheduler.describe())
    slack_section(slack, routes)


main()
