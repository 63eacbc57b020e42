"""Prometheus metrics of the vector backends, read from the database when scraped (like
``core.pipelines.health.PipelineCollector``): a sync run by the scheduler or the CLI shows in the API's
``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.db.types import utcnow
from core.search.sync import index_status, vector_count

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["IndexCollector"]


class IndexCollector(Collector):
    """Prometheus metrics of the enabled vector backends, read from the database when scraped (so a sync run by
    the scheduler or the CLI shows in the API's /metrics). Alert on ``sophia_index_failing == 1`` with a
    growing ``sophia_index_pending_chunks``: the backend is down and falling behind."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        labels = ["backend"]
        held = GaugeMetricFamily(
            "sophia_index_chunks", "Chunks the backend held at its last successful sync", labels=labels
        )
        pending = GaugeMetricFamily(
            "sophia_index_pending_chunks", "Chunks with changes the backend has not received", labels=labels
        )
        failing = GaugeMetricFamily("sophia_index_failing", "1 when the backend's last sync failed", labels=labels)
        age = GaugeMetricFamily(
            "sophia_index_last_sync_age_seconds", "Seconds since the backend's last successful sync", labels=labels
        )
        now = utcnow()
        for row in index_status(runtime=self.runtime, backends=self.runtime.settings.vector_backend_names):
            held.add_metric([row["name"]], row["chunks"])
            pending.add_metric([row["name"]], row["pending"])
            failing.add_metric([row["name"]], 1.0 if row["error"] else 0.0)
            if row["last_sync"]:
                age.add_metric([row["name"]], (now - datetime.fromisoformat(row["last_sync"])).total_seconds())
        table = GaugeMetricFamily("sophia_index_table_chunks", "Chunks with a vector in the chunks table (the truth)")
        with self.runtime.session() as session:  # only this count: a scrape need not count the whole tables
            table.add_metric([], vector_count(session))
        yield from (held, pending, failing, age, table)
