"""Liveness, readiness and metrics: unauthenticated, as the cluster probes and scrapes them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.clock import ManualClock
from core.jobs_health import record_heartbeat
from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings
from tests.utils.services import redis_url_or_fail
from tests.utils.sqlite_lock import write_lock


def test_healthz(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_readyz_without_redis(client: TestClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "not_configured", "scheduler": "not_configured"},
        "scheduler_heartbeat_age_s": None,
    }


def test_readyz_fails_while_the_database_takes_no_writes(client: TestClient, runtime: Runtime) -> None:
    with write_lock(runtime.settings.data_dir / "sophia.db"):
        resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"] == "database does not accept writes: database is locked"
    assert client.get("/readyz").status_code == 200  # and ready again once it does


def _beat(runtime: Runtime) -> ManualClock:
    runtime.clock = clock = ManualClock()
    with runtime.session() as s:
        record_heartbeat(session=s, now=clock.now(), pid=4242)
    return clock


def test_readyz_shows_the_heartbeat_and_fails_when_it_is_stale(client: TestClient, runtime: Runtime) -> None:
    clock = _beat(runtime)
    clock.advance(12)
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"]["scheduler"] == "ok" and resp.json()["scheduler_heartbeat_age_s"] == 12.0

    clock.advance(runtime.settings.heartbeat_stale_s)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert (
        body["status"] == "not_ready" and body["scheduler_heartbeat_age_s"] == 12.0 + runtime.settings.heartbeat_stale_s
    )
    assert body["checks"]["scheduler"] == "last heartbeat 192 s ago (over 180 s: the scheduler is down)"


def test_readyz_ignores_the_heartbeat_when_no_scheduler_is_required(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, scheduler_required=False))
    try:
        prepare(rt)
        _beat(rt).advance(3600)
        resp = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 200 and resp.json()["checks"]["scheduler"] == "not_configured"


def test_readyz_requires_a_heartbeat_when_told_to(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, scheduler_required=True))
    try:
        prepare(rt)
        resp = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    assert resp.json()["checks"]["scheduler"] == "the scheduler has not recorded a heartbeat"


def test_metrics_show_the_heartbeat_age(client: TestClient, runtime: Runtime) -> None:
    before = client.get("/metrics").text.splitlines()
    assert not any(line.startswith("sophia_scheduler_heartbeat_age_seconds ") for line in before)  # none yet
    _beat(runtime).advance(7)
    lines = client.get("/metrics").text.splitlines()
    assert "sophia_scheduler_heartbeat_age_seconds 7.0" in lines
    assert "sophia_scheduler_heartbeat_stale_after_seconds 180.0" in lines


def test_database_errors_answer_503_with_retry_after(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, database_url=f"postgresql://nobody@127.0.0.1:{_closed_port()}/none"))
    try:
        resp = TestClient(create_app(rt)).post("/auth/token", data={"username": "admin", "password": "whatever"})
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert resp.json()["error"]["code"] == "database_unavailable"
    assert "nobody" not in resp.text  # nothing of the connection string or the SQL


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_readyz_redis_down(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{_closed_port()}/0"))
    try:
        prepare(rt)  # an unmigrated database takes no writes: not ready either
        resp = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == "ok"
    assert "Redis" in body["checks"]["redis"]


def test_readyz_database_down(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, database_url=f"postgresql://nobody@127.0.0.1:{_closed_port()}/none"))
    try:
        resp = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"].startswith("database unreachable")


@pytest.mark.redis
def test_readyz_with_real_redis(tmp_path: Path) -> None:
    rt = open_runtime(make_settings(tmp_path, redis_url=redis_url_or_fail()))
    try:
        prepare(rt)
        resp = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"database": "ok", "redis": "ok", "scheduler": "not_configured"}


def test_metrics_count_requests(client: TestClient, seeded: dict[str, int]) -> None:
    client.get("/api/v1/accounts")  # 401: no credentials
    client.get("/api/v1/accounts/12345", headers={"X-API-Key": "nope"})
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'sophia_http_requests_total{method="GET",route="/api/v1/accounts",status="401"}' in text
    # counted by route template, not by the path that was asked for
    assert 'route="/api/v1/accounts/{account_id}"' in text
    assert "/api/v1/accounts/12345" not in text
    assert any(
        line.startswith("sophia_http_request_duration_seconds_count{") and 'route="/api/v1/accounts"' in line
        for line in text.splitlines()
    )


def test_metrics_show_each_enabled_vector_backend(client: TestClient, runtime: Runtime) -> None:
    from core.db.models import Chunk, Document, IndexSyncState
    from core.db.types import utcnow

    with runtime.session() as s:  # one chunk the embedded backend has not received, and its last sync failed
        doc = Document(
            source="file",
            external_id="notes.txt",
            type="txt",
            title="notes.txt",
            text="hello",
            content_hash="h",
            min_role="viewer",
        )
        s.add(doc)
        s.flush()
        s.add(
            Chunk(
                document_id=doc.id,
                position=0,
                text="hello",
                content_hash="c",
                embedding=b"\0" * 1536,
                embedding_model="test",
            )
        )
        s.add(
            IndexSyncState(
                backend="embedded",
                last_change_id=0,
                chunks_indexed=0,
                last_error="disk full",
                error_at=utcnow(),
                last_sync_at=utcnow(),
            )
        )
    lines = client.get("/metrics").text.splitlines()
    assert 'sophia_index_failing{backend="embedded"} 1.0' in lines
    assert 'sophia_index_pending_chunks{backend="embedded"} 1.0' in lines
    assert 'sophia_index_chunks{backend="embedded"} 0.0' in lines
    assert "sophia_index_table_chunks 1.0" in lines
    assert any(line.startswith('sophia_index_last_sync_age_seconds{backend="embedded"}') for line in lines)


def test_unknown_path_is_404_in_the_error_shape(client: TestClient) -> None:
    resp = client.get("/no/such/thing")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/accounts" in spec["paths"] and "/auth/token" in spec["paths"]


def test_import_touches_no_data(tmp_path: Path) -> None:
    data = tmp_path / "never-made"
    env = {**os.environ, "SOPHIA_DATA_DIR": str(data)}
    subprocess.run([sys.executable, "-c", "import api.main"], check=True, env=env, cwd=Path(__file__).parents[2])
    assert not data.exists()
