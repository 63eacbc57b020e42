"""The real server: ``uvicorn api.main:app`` over a prepared data folder, driven over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.ingest import ingest_records
from core.runtime import open_runtime, prepare
from tests.api.conftest import ACCOUNTS, ADMIN_PASSWORD
from tests.conftest import TEST_SECRET, make_settings

ROOT = Path(__file__).parents[2]
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uvicorn_serves_the_api(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    rt = open_runtime(settings)
    prepare(rt)
    with rt.session() as session:
        ingest_records(session=session, source="hubspot", entity="accounts", records=ACCOUNTS)
    rt.engine.dispose()

    port = _free_port()
    env = {
        **os.environ,
        "SOPHIA_DATA_DIR": str(settings.data_dir),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SOPHIA_LOG_JSON": "true",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, f"server exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"no answer on /healthz in {START_TIMEOUT_S}s:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)

        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/readyz").json()["status"] == "ready"
            token = http.post("/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}", "X-Request-ID": "e2e-1"}
            resp = http.get("/api/v1/accounts", params={"segment": "smb"}, headers=headers)
            assert resp.status_code == 200
            assert resp.json()["total"] == 3
            assert resp.headers["x-request-id"] == "e2e-1"
            assert "sophia_http_requests_total" in http.get("/metrics").text
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    output = log_path.read_text()
    assert '"request_id": "e2e-1"' in output  # the JSON access line of that request
