"""The system's health in one line, green / yellow / red with the reason, from the checks each part offers:
the scheduler's heartbeat, the pipelines, the search index, the jobs and Slack delivery. The Monitoring page
and the probes read it; each check says what is wrong and what to do, the line is the worst of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.jobs_health import Heartbeat
from core.notify import DeliveryStatus
from core.pipelines.health import StreamHealth
from core.scheduling import JobStatus, SchedulerStatus
from core.search.searchable import IndexingStatus

State = Literal["green", "yellow", "red"]
ORDER: dict[str, int] = {"green": 0, "yellow": 1, "red": 2}
INDEX_BEHIND_RECORDS = 5_000  # more records than this waiting for search is worth a look
STALE_SYNC_S = 24 * 3600  # a connector without a successful run for a day is stale


@dataclass(frozen=True)
class Check:
    area: str  # scheduler | pipelines | search | jobs | slack
    state: State
    message: str


@dataclass(frozen=True)
class SystemHealth:
    state: State
    checks: list[Check]

    @property
    def reason(self) -> str:
        worst = [c.message for c in self.checks if c.state == self.state and c.state != "green"]
        return "; ".join(worst) if worst else "Everything is running."


def combine(checks: Iterable[Check]) -> SystemHealth:
    items = list(checks)
    state: State = max((c.state for c in items), key=ORDER.__getitem__, default="green")
    return SystemHealth(state=state, checks=items)


def check_scheduler(status: SchedulerStatus) -> Check:
    beat: Heartbeat = status.heartbeat
    if beat.state == "fresh":
        return Check("scheduler", "green", f"Scheduler running ({status.describe()}).")
    if beat.state == "never":
        return Check("scheduler", "yellow", "The scheduler has not run yet: syncs, detection and delivery wait for it.")
    return Check("scheduler", "red", f"Scheduler down: {beat.describe()}; `sophia up` restarts it.")


def check_jobs(jobs: Sequence[JobStatus]) -> Check:
    failed = [j.id for j in jobs if j.last_status == "failed"]
    paused = [j.id for j in jobs if j.paused]
    if failed:
        return Check("jobs", "yellow", f"Last run failed: {', '.join(failed)}.")
    if paused:
        return Check("jobs", "yellow", f"Paused by an admin: {', '.join(paused)}.")
    return Check("jobs", "green", f"{len(jobs)} jobs, none failing.")


def check_slack(status: DeliveryStatus, *, routes: int) -> Check:
    if routes == 0:
        return Check("slack", "green", "No Slack route configured: insights stay in Sophia.")
    if status.token_ok is False:
        return Check("slack", "red", f"Slack delivery stopped: {status.describe()}.")
    if status.failing_channels:
        return Check("slack", "yellow", f"Slack: {status.describe()}.")
    return Check("slack", "green", f"Slack: {status.describe()}.")


def check_pipelines(streams: Sequence[StreamHealth]) -> Check:
    enabled = [s for s in streams if s.enabled]
    if not enabled:
        return Check("pipelines", "green", "No connector is enabled.")
    failing = sorted({s.connector for s in enabled if s.state == "failing"})
    stale = sorted({s.connector for s in enabled if s.state == "ok" and s.lag_s is not None and s.lag_s > STALE_SYNC_S})
    if failing and len(failing) * 2 >= len({s.connector for s in enabled}):
        return Check("pipelines", "red", f"Most connectors are failing: {', '.join(failing)}.")
    if failing:
        return Check("pipelines", "yellow", f"Failing: {', '.join(failing)}.")
    if stale:
        return Check("pipelines", "yellow", f"No successful sync for over a day: {', '.join(stale)}.")
    return Check("pipelines", "green", f"{len({s.connector for s in enabled})} connectors syncing.")


def check_search(backends: Sequence[dict[str, Any]], status: IndexingStatus) -> Check:
    failing = [b["name"] for b in backends if b.get("error")]
    if failing:
        return Check("search", "yellow", f"Vector backend behind: {', '.join(failing)} (it catches up when reachable).")
    if status.pending > INDEX_BEHIND_RECORDS and not status.running:
        return Check("search", "yellow", f"{status.pending:,} records are not searchable yet.")
    return Check("search", "green", status.summary)
