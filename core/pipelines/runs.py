"""Run history and quarantined records, as the faces show them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import PipelineRun, QuarantinedRecord

DEFAULT_LIMIT = 50


def list_runs(*, session: Session, connector: str | None = None, limit: int = DEFAULT_LIMIT) -> list[PipelineRun]:
    """Newest first."""
    stmt = select(PipelineRun).order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc()).limit(limit)
    if connector:
        stmt = stmt.where(PipelineRun.connector == connector)
    return list(session.scalars(stmt))


def last_runs(*, session: Session) -> dict[str, PipelineRun]:
    """The latest run of each connector."""
    latest = select(func.max(PipelineRun.id)).group_by(PipelineRun.connector)
    return {r.connector: r for r in session.scalars(select(PipelineRun).where(PipelineRun.id.in_(latest)))}


def get_runs(*, session: Session, ids: list[int]) -> list[PipelineRun]:
    return list(session.scalars(select(PipelineRun).where(PipelineRun.id.in_(ids)).order_by(PipelineRun.id)))


def run_record(run: PipelineRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "connector": run.connector,
        "stream": run.stream,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "records_read": run.records_read,
        "records_written": run.records_written,
        "records_quarantined": run.records_quarantined,
        "cursor_before": run.cursor_before,
        "cursor_after": run.cursor_after,
        "error": run.error,
    }


def list_quarantined(
    *, session: Session, connector: str | None = None, limit: int = DEFAULT_LIMIT
) -> list[QuarantinedRecord]:
    """Newest first."""
    stmt = select(QuarantinedRecord).order_by(QuarantinedRecord.id.desc()).limit(limit)
    if connector:
        stmt = stmt.where(QuarantinedRecord.connector == connector)
    return list(session.scalars(stmt))
