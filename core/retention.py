"""Retention: what the ``retention`` job deletes once a day, so history does not grow for ever.

- job runs started more than ``SOPHIA_JOB_RUNS_KEEP_DAYS`` (30) days ago;
- insights resolved (by a person or automatically) more than ``SOPHIA_INSIGHTS_KEEP_DAYS`` (180) days ago, with
  their Slack deliveries. An open insight is never deleted, however old;
- the agents' memories past their expiry date, and those unused for ``SOPHIA_MEMORY_DECAY_DAYS`` (180), with
  mem0's copies of them (``core.memory.apply_memory_policy``: mem0 itself only hides expired memories).

The counts are audited (actor "system", action "retention"; the memories' as "memory.retention") whenever
something was deleted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from core.audit import audit
from core.db.engine import changed_rows
from core.db.models import Insight, InsightDelivery, JobRun
from core.memory import apply_memory_policy
from core.observability.logging import get_logger
from core.runtime import Runtime

__all__ = ["apply_retention"]

log = get_logger("retention")


def apply_retention(*, runtime: Runtime) -> dict[str, int]:
    """Delete old job runs, long-resolved insights and expired or unused memories (see the module notes);
    returns the counts."""
    settings, now = runtime.settings, runtime.clock.now()
    runs_before = now - timedelta(days=settings.job_runs_keep_days)
    insights_before = now - timedelta(days=settings.insights_keep_days)
    with runtime.session() as session:
        old = select(Insight.id).where(Insight.status == "resolved", Insight.resolved_at < insights_before)
        deliveries = changed_rows(session, delete(InsightDelivery).where(InsightDelivery.insight_id.in_(old)))
        insights = changed_rows(
            session, delete(Insight).where(Insight.status == "resolved", Insight.resolved_at < insights_before)
        )
        runs = changed_rows(session, delete(JobRun).where(JobRun.started_at < runs_before))
        counts = {"job_runs_deleted": runs, "insights_deleted": insights, "deliveries_deleted": deliveries}
        if runs or insights or deliveries:
            audit(
                session=session,
                actor="system",
                action="retention",
                details={
                    **counts,
                    "job_runs_keep_days": settings.job_runs_keep_days,
                    "insights_keep_days": settings.insights_keep_days,
                },
            )
    counts.update(apply_memory_policy(runtime=runtime, now=now))
    log.info("retention done", **counts)
    return counts
