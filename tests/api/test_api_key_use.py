"""An API key's last use is recorded without a write per request, and never holds a request up."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from core.auth.key_use import KEY_USE_EVERY
from core.clock import ManualClock
from core.db.models import ApiKey
from core.runtime import Runtime
from tests.api.conftest import api_key
from tests.utils.sqlite_lock import write_lock


def last_used(runtime: Runtime, key_id: str) -> datetime | None:
    with runtime.session() as s:
        return s.get(ApiKey, key_id).last_used_at


def test_use_is_written_at_most_once_per_interval(client: TestClient, runtime: Runtime) -> None:
    runtime.clock = clock = ManualClock()
    key_id, headers = api_key(runtime, "viewer")
    assert last_used(runtime, key_id) is None
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
    first = clock.now()
    assert last_used(runtime, key_id) == first

    clock.advance(KEY_USE_EVERY / 2)
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
    assert last_used(runtime, key_id) == first  # read only: no write this time

    clock.advance(KEY_USE_EVERY)
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
    assert last_used(runtime, key_id) == clock.now()


def test_a_request_does_not_wait_for_the_write_lock(client: TestClient, runtime: Runtime) -> None:
    key_id, headers = api_key(runtime, "viewer")
    with write_lock(runtime.settings.data_dir / "sophia.db"):
        resp = client.get("/api/v1/accounts", headers=headers)
    assert resp.status_code == 200, resp.text
    assert last_used(runtime, key_id) is None  # skipped while the database was busy
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
    assert last_used(runtime, key_id) is not None  # and recorded by the next request
