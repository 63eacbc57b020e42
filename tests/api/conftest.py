"""An app over the migrated test runtime, and helpers to sign in as an admin or with a role's API key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.auth import create_api_key, create_user
from core.ingest import ingest_records
from core.runtime import Runtime

ADMIN_PASSWORD = "admin-password-1"  # the runtime fixture's first admin

ACCOUNTS = [
    {
        "external_id": "1",
        "name": "Oakwood Residential",
        "segment": "enterprise",
        "units_managed": 42000,
        "lifecycle_stage": "live",
        "arr": 480000,
        "health": "healthy",
        "health_score": 88,
        "owner": "ana@payready.com",
    },
    {
        "external_id": "2",
        "name": "Birch Lane Apartments",
        "segment": "smb",
        "units_managed": 900,
        "lifecycle_stage": "live",
        "arr": 18000,
        "health": "at_risk",
        "health_score": 52,
        "owner": "ben@payready.com",
    },
    {
        "external_id": "3",
        "name": "Cedar Point Living",
        "segment": "mid_market",
        "units_managed": 7000,
        "lifecycle_stage": "onboarding",
        "arr": 96000,
        "health": "healthy",
        "health_score": 75,
        "owner": "ana@payready.com",
    },
    {
        "external_id": "4",
        "name": "Aspen Homes",
        "segment": "smb",
        "units_managed": 1200,
        "lifecycle_stage": "live",
        "arr": 21000,
        "health": "critical",
        "health_score": 31,
        "owner": "ben@payready.com",
    },
    {
        "external_id": "5",
        "name": "Dogwood 100% Rentals",
        "segment": "smb",
        "units_managed": 400,
        "lifecycle_stage": "prospect",
        "arr": 0,
        "owner": "cy@payready.com",
    },
]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture
def seeded(runtime: Runtime) -> dict[str, int]:
    """The ACCOUNTS above, written through the ingest path; returns external id -> our id."""
    with runtime.session() as session:
        result = ingest_records(session=session, source="hubspot", entity="accounts", records=ACCOUNTS)
    assert not result.failures
    return result.ids


def bearer(client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    resp = client.post("/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def api_key(runtime: Runtime, role: str) -> tuple[str, dict[str, str]]:
    """A new user of ``role`` and an API key for them: (key id, headers)."""
    with runtime.session() as session:
        username = f"{role}-user"
        create_user(session=session, username=username, role=role, password="password-of-" + role, actor="test")
        row, key = create_api_key(session=session, username=username, actor="test")
    return row.id, {"X-API-Key": key}
