"""How each pipeline is doing: per stream, the last run, lag and freshness; which connectors are due.

- **lag**: time since the stream's last successful run finished (how far behind the source we may be);
- **freshness**: time since the newest record of the stream's source and entity was updated at the source.
Both are computed from the database, so every process (API metrics, admin page, CLI) sees the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.db.models import ConfiguredConnector, PipelineRun
from core.db.types import utcnow
from core.ingest import ENTITIES
from core.pipelines.contract import KindInfo
from core.pipelines.runner import build_source
from core.runtime import Runtime


@dataclass(frozen=True)
class StreamHealth:
    connector: str
    kind: str
    enabled: bool
    stream: str
    entity: str
    last_status: str | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    lag_s: float | None
    freshness_s: float | None
    records_written: int
    failed_runs_24h: int

    @property
    def state(self) -> str:
        """ok | failing | never_run | disabled — what a person scanning the list needs first."""
        if not self.enabled:
            return "disabled"
        if self.last_status is None:
            return "never_run"
        return "failing" if self.last_status == "failed" else "ok"


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def stream_health(*, runtime: Runtime, kinds: Mapping[str, KindInfo]) -> list[StreamHealth]:
    now = utcnow()
    out: list[StreamHealth] = []
    with runtime.session() as session:
        rows = list(session.scalars(select(ConfiguredConnector).order_by(ConfiguredConnector.name)))
    for row in rows:
        if row.kind not in kinds or not kinds[row.kind].available:
            continue
        source = build_source(runtime=runtime, kinds=kinds, name=row.name)
        try:
            specs = list(source.streams())
            src_name = source.source
        finally:
            source.close()
        with runtime.session() as session:
            for spec in specs:
                out.append(_one(session, now, row, spec.name, spec.entity, src_name))
    return out


def _one(
    session: Session, now: datetime, row: ConfiguredConnector, stream: str, entity: str, source: str
) -> StreamHealth:
    runs = select(PipelineRun).where(PipelineRun.connector == row.name, PipelineRun.stream == stream)
    last = session.scalar(runs.order_by(PipelineRun.id.desc()).limit(1))
    success = session.scalar(runs.where(PipelineRun.status == "succeeded").order_by(PipelineRun.id.desc()).limit(1))
    written = session.scalar(
        select(func.coalesce(func.sum(PipelineRun.records_written), 0)).where(
            PipelineRun.connector == row.name, PipelineRun.stream == stream
        )
    )
    failed = session.scalar(
        select(func.count())
        .select_from(PipelineRun)
        .where(
            PipelineRun.connector == row.name,
            PipelineRun.stream == stream,
            PipelineRun.status == "failed",
            PipelineRun.started_at >= now - timedelta(hours=24),
        )
    )
    model = ENTITIES[entity].model
    newest = session.scalar(select(func.max(model.updated_at)).where(model.source == source))
    return StreamHealth(
        connector=row.name,
        kind=row.kind,
        enabled=row.enabled,
        stream=stream,
        entity=entity,
        last_status=last.status if last else None,
        last_run_at=last.started_at if last else None,
        last_success_at=success.finished_at if success else None,
        last_error=last.error if last and last.status == "failed" else None,
        lag_s=_age(now, success.finished_at if success else None),
        freshness_s=_age(now, newest),
        records_written=int(written or 0),
        failed_runs_24h=int(failed or 0),
    )


def due_connectors(*, session: Session, now: datetime | None = None) -> list[str]:
    """Enabled connectors whose interval has passed since their last run started (or that never ran),
    and that no live sync holds."""
    now = now or utcnow()
    last_start = (
        select(PipelineRun.connector, func.max(PipelineRun.started_at).label("at"))
        .group_by(PipelineRun.connector)
        .subquery()
    )
    rows = session.execute(
        select(ConfiguredConnector, last_start.c.at)
        .outerjoin(last_start, last_start.c.connector == ConfiguredConnector.name)
        .where(
            ConfiguredConnector.enabled,
            or_(ConfiguredConnector.lease_expires_at.is_(None), ConfiguredConnector.lease_expires_at < now),
        )
        .order_by(ConfiguredConnector.name)
    ).all()
    return [c.name for c, at in rows if at is None or at + timedelta(minutes=c.interval_minutes) <= now]


class PipelineCollector(Collector):
    """Prometheus metrics of the pipelines, read from the database at scrape time (all processes' runs)."""

    def __init__(self, runtime: Runtime, kinds: Mapping[str, KindInfo]) -> None:
        self.runtime, self.kinds = runtime, kinds

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "sophia_pipeline_runs", "Pipeline runs by connector and status", labels=["connector", "status"]
        )
        records = CounterMetricFamily(
            "sophia_pipeline_records", "Records through pipelines", labels=["connector", "stream", "outcome"]
        )
        with self.runtime.session() as session:
            for connector, status, n in session.execute(
                select(PipelineRun.connector, PipelineRun.status, func.count()).group_by(
                    PipelineRun.connector, PipelineRun.status
                )
            ):
                runs.add_metric([connector, status], n)
            for connector, stream, read, written, quarantined in session.execute(
                select(
                    PipelineRun.connector,
                    PipelineRun.stream,
                    func.sum(PipelineRun.records_read),
                    func.sum(PipelineRun.records_written),
                    func.sum(PipelineRun.records_quarantined),
                ).group_by(PipelineRun.connector, PipelineRun.stream)
            ):
                for outcome, n in (("read", read), ("written", written), ("quarantined", quarantined)):
                    records.add_metric([connector, stream or "", outcome], int(n or 0))
        yield runs
        yield records
        lag = GaugeMetricFamily(
            "sophia_stream_lag_seconds",
            "Seconds since the last successful run of a stream",
            labels=["connector", "stream"],
        )
        fresh = GaugeMetricFamily(
            "sophia_stream_freshness_seconds",
            "Seconds since the newest record of a stream",
            labels=["connector", "stream"],
        )
        failing = GaugeMetricFamily(
            "sophia_stream_failing", "1 when the stream's last run failed", labels=["connector", "stream"]
        )
        for h in stream_health(runtime=self.runtime, kinds=self.kinds):
            if h.lag_s is not None:
                lag.add_metric([h.connector, h.stream], h.lag_s)
            if h.freshness_s is not None:
                fresh.add_metric([h.connector, h.stream], h.freshness_s)
            failing.add_metric([h.connector, h.stream], 1.0 if h.state == "failing" else 0.0)
        yield lag
        yield fresh
        yield failing
