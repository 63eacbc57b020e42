"""Reading accounts: paging, totals, filters, validation, one account."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.ingest import ingest_records
from core.runtime import Runtime
from tests.api.conftest import ACCOUNTS, bearer

BY_NAME = sorted(a["name"] for a in ACCOUNTS)


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(client)


def names(resp) -> list[str]:  # noqa: ANN001
    assert resp.status_code == 200, resp.text
    return [a["name"] for a in resp.json()["items"]]


def test_list_is_ordered_and_counted(client: TestClient, auth: dict[str, str], seeded: dict[str, int]) -> None:
    resp = client.get("/api/v1/accounts", headers=auth)
    assert names(resp) == BY_NAME
    body = resp.json()
    assert body["total"] == len(ACCOUNTS)
    oak = next(a for a in body["items"] if a["external_id"] == "1")
    assert oak["id"] == seeded["1"]
    assert {
        k: oak[k]
        for k in (
            "name",
            "segment",
            "source",
            "lifecycle_stage",
            "units_managed",
            "arr",
            "health",
            "health_score",
            "owner",
        )
    } == {
        "name": "Oakwood Residential",
        "segment": "enterprise",
        "source": "hubspot",
        "lifecycle_stage": "live",
        "units_managed": 42000,
        "arr": 480000.0,
        "health": "healthy",
        "health_score": 88,
        "owner": "ana@payready.com",
    }
    assert "raw" not in oak
    updated = datetime.fromisoformat(oak["updated_at"])
    assert updated.utcoffset() is not None and updated.utcoffset().total_seconds() == 0


def test_paging(client: TestClient, auth: dict[str, str], seeded: dict[str, int]) -> None:
    first = client.get("/api/v1/accounts", params={"limit": 2}, headers=auth)
    second = client.get("/api/v1/accounts", params={"limit": 2, "offset": 2}, headers=auth)
    past_end = client.get("/api/v1/accounts", params={"limit": 2, "offset": 10}, headers=auth)
    assert names(first) == BY_NAME[:2]
    assert names(second) == BY_NAME[2:4]
    assert names(past_end) == []
    assert first.json()["total"] == second.json()["total"] == past_end.json()["total"] == len(ACCOUNTS)


def test_filters(client: TestClient, auth: dict[str, str], seeded: dict[str, int]) -> None:
    def get(**params: str) -> tuple[list[str], int]:
        resp = client.get("/api/v1/accounts", params=params, headers=auth)
        return names(resp), resp.json()["total"]

    assert get(segment="smb") == (["Aspen Homes", "Birch Lane Apartments", "Dogwood 100% Rentals"], 3)
    assert get(segment="smb", limit="1") == (["Aspen Homes"], 3)
    assert get(health="healthy") == (["Cedar Point Living", "Oakwood Residential"], 2)
    assert get(owner="Ben@PayReady.com") == (["Aspen Homes", "Birch Lane Apartments"], 2)
    assert get(q="LIVING") == (["Cedar Point Living"], 1)
    assert get(q="100%") == (["Dogwood 100% Rentals"], 1)  # % is taken literally
    assert get(q="%") == (["Dogwood 100% Rentals"], 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"segment": "huge"}, "segment"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"health": "fine"}, "health"),
    ],
)
def test_bad_query_is_422_naming_the_field(client: TestClient, auth: dict[str, str], params, field) -> None:  # noqa: ANN001
    resp = client.get("/api/v1/accounts", params=params, headers=auth)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_input"
    assert f"query parameter {field}:" in error["message"]


def test_bad_segment_lists_the_allowed_values(client: TestClient, auth: dict[str, str]) -> None:
    message = client.get("/api/v1/accounts", params={"segment": "huge"}, headers=auth).json()["error"]["message"]
    assert all(v in message for v in ("smb", "mid_market", "enterprise"))


def test_one_account(client: TestClient, auth: dict[str, str], seeded: dict[str, int]) -> None:
    resp = client.get(f"/api/v1/accounts/{seeded['3']}", headers=auth)
    assert resp.status_code == 200
    assert resp.json()["name"] == "Cedar Point Living"


def test_missing_account_is_404(client: TestClient, auth: dict[str, str], seeded: dict[str, int]) -> None:
    resp = client.get("/api/v1/accounts/999999", headers=auth)
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "no account with id 999999"}}


def test_same_listing_on_postgresql(any_runtime: Runtime) -> None:
    with any_runtime.session() as session:
        ingest_records(session=session, source="hubspot", entity="accounts", records=ACCOUNTS)
    with TestClient(create_app(any_runtime)) as client:
        auth = bearer(client)
        assert names(client.get("/api/v1/accounts", headers=auth)) == BY_NAME
        resp = client.get("/api/v1/accounts", params={"q": "100%", "segment": "smb"}, headers=auth)
        assert names(resp) == ["Dogwood 100% Rentals"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/accounts", {"offset": 2**63}),
        ("/api/v1/accounts", {"offset": 10**30}),
        (f"/api/v1/accounts/{2**63}", {}),
        (f"/api/v1/accounts/{2**64 + 1}", {}),
    ],
)
def test_integers_beyond_the_database_are_a_clear_422(client: TestClient, seeded, path: str, params: dict) -> None:
    resp = client.get(path, params=params, headers=bearer(client))
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_input"


def test_the_largest_stored_integer_still_answers(client: TestClient, seeded) -> None:
    headers = bearer(client)
    assert client.get("/api/v1/accounts", params={"offset": 2**63 - 1}, headers=headers).json()["items"] == []
    assert client.get(f"/api/v1/accounts/{2**63 - 1}", headers=headers).status_code == 404
