"""Pipelines you can watch: the scheduler syncs what is due, health shows lag and freshness, /metrics
exports them — driven through the real HubSpot connector against the fake HubSpot."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from connectors.registry import KINDS
from core import runtime as runtime_module
from core.config import get_settings
from core.db.models import JobRun
from core.pipelines.health import due_connectors, stream_health
from jobs import definitions
from tests.contract.hubspot_utils import add_hubspot


@pytest.fixture
def process_runtime(runtime, monkeypatch):
    """The scheduler process's runtime, configured by environment as `sophia up` configures it."""
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", runtime.settings.signing_key())
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()
    yield runtime_module.get_runtime()
    runtime_module.get_runtime().engine.dispose()
    get_settings.cache_clear()
    runtime_module.get_runtime.cache_clear()


def test_scheduler_syncs_due_connectors_and_health_reports_them(process_runtime, fake) -> None:
    rt = process_runtime
    add_hubspot(rt, fake, name="hs")
    add_hubspot(rt, fake, name="broken", token="pat-wrong")
    with rt.session() as s:
        assert due_connectors(session=s) == ["broken", "hs"]  # never ran: both due

    counts = definitions.sync_due_connectors()
    assert (counts["due"], counts["succeeded"], counts["failed"]) == (2, 1, 1) and counts["records_changed"] > 0

    with rt.session() as s:
        # a sync that wrote records sets insight detection going at once (its own run, trigger "event")
        detections = s.execute(select(JobRun.trigger, JobRun.status).where(JobRun.job_id == "detect_insights")).all()
        assert detections == [("event", "succeeded")]
        assert due_connectors(session=s) == []  # both ran just now; their interval has not passed
    health = {(h.connector, h.stream): h for h in stream_health(runtime=rt, kinds=KINDS)}
    ok = health[("hs", "companies")]
    assert ok.state == "ok" and ok.records_written == 12 and ok.lag_s is not None and ok.freshness_s is not None
    bad = health[("broken", "companies")]
    assert bad.state == "failing" and bad.failed_runs_24h == 1 and bad.lag_s is None
    assert "401" in bad.last_error or "credential" in bad.last_error.lower()

    with TestClient(create_app(rt)) as client:
        text = client.get("/metrics").text
    assert 'sophia_pipeline_runs_total{connector="hs",status="succeeded"}' in text
    assert 'sophia_pipeline_records_total{connector="hs",outcome="written",stream="companies"} 12.0' in text
    assert 'sophia_stream_failing{connector="broken",stream="companies"} 1.0' in text
    assert 'sophia_stream_lag_seconds{connector="hs",stream="companies"}' in text
