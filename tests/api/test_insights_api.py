"""The insight feed over HTTP: crafted deals, real detection, the same filters and item shape as the CLI,
paging and sort, the lifecycle by role (audited), and the admin's jobs view."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.clock import ManualClock
from core.db.models import Account, AuditLog, Deal, Insight
from core.insights import insight_dict, run_detection
from core.runtime import Runtime
from core.scheduling import JOBS
from tests.api.conftest import api_key, bearer

AS_OF = date(2026, 10, 15)
NOW = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
URL = "/api/v1/insights"


def _deal(rt: Runtime, ext: str, *, account: str, days: int, owner: str) -> None:
    with rt.session() as s:
        acct = s.scalar(select(Account).where(Account.external_id == account))
        if acct is None:
            acct = Account(source="test", external_id=account, name=f"Account {account}", lifecycle_stage="live")
            s.add(acct)
            s.flush()
        s.add(
            Deal(
                source="test",
                external_id=ext,
                name=f"Deal {ext}",
                stage="proposal",
                amount=10_000,
                account_id=acct.id,
                owner=owner,
                stage_entered_at=NOW - timedelta(days=days),
            )
        )


@pytest.fixture
def found(runtime: Runtime) -> dict[str, int]:
    """Three stalled deals (one high: 70 days in stage), detected for real; subject external id -> insight id."""
    runtime.clock = ManualClock(NOW)
    _deal(runtime, "d-mid", account="a1", days=30, owner="ana@payready.com")
    _deal(runtime, "d-high", account="a1", days=70, owner="ben@payready.com")
    _deal(runtime, "d-other", account="a2", days=35, owner="ana@payready.com")
    _deal(runtime, "d-fresh", account="a2", days=3, owner="ana@payready.com")
    assert run_detection(runtime=runtime, as_of=AS_OF).created == 3
    with runtime.session() as s:
        return {i.subject_external_id: i.id for i in s.scalars(select(Insight))}


@pytest.fixture
def client(runtime: Runtime, found: dict[str, int]) -> TestClient:
    with TestClient(create_app(runtime)) as c:
        yield c


def subjects(resp) -> list[str]:  # noqa: ANN001
    assert resp.status_code == 200, resp.text
    return [i["subject"]["external_id"] for i in resp.json()["items"]]


def test_items_are_exactly_the_core_shape(runtime: Runtime, client: TestClient, found: dict[str, int]) -> None:
    _, viewer = api_key(runtime, "viewer")
    body = client.get(URL, headers=viewer).json()
    assert body["total"] == 3
    with runtime.session() as s:
        rows = {r.id: r for r in s.scalars(select(Insight))}
        expected = [insight_dict(rows[i["id"]], now=NOW) for i in body["items"]]
    assert body["items"] == expected
    assert body["items"][0]["subject"]["external_id"] == "d-high"  # most severe first
    one = client.get(f"{URL}/{found['d-mid']}", headers=viewer)
    assert one.status_code == 200 and one.json() == next(i for i in expected if i["id"] == found["d-mid"])


def test_filters_paging_and_sort(client: TestClient) -> None:
    auth = bearer(client)

    def get(**params: str) -> list[str]:
        return subjects(client.get(URL, params=params, headers=auth))

    assert get(severity="high") == ["d-high"]
    assert sorted(get(owner="ana@payready.com")) == ["d-mid", "d-other"]
    assert get(account="a2") == ["d-other"]
    assert get(account="nope") == []
    assert len(get(type="deal_stalled")) == 3 and get(type="late_payer") == []
    assert len(get(status="open")) == 3 and get(status="resolved") == []
    assert get(sort="score")[0] == "d-high"
    first, rest = (
        client.get(URL, params={"limit": 1}, headers=auth),
        client.get(URL, params={"offset": 1}, headers=auth),
    )
    assert len(subjects(first)) == 1 and len(subjects(rest)) == 2
    assert first.json()["total"] == rest.json()["total"] == 3
    assert set(subjects(first) + subjects(rest)) == {"d-high", "d-mid", "d-other"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"severity": "huge"}, "severity"),
        ({"sort": "x"}, "sort"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_query_is_422_naming_the_field(client: TestClient, params: dict, field: str) -> None:
    resp = client.get(URL, params=params, headers=bearer(client))
    assert resp.status_code == 422
    assert (
        resp.json()["error"]["code"] == "invalid_input"
        and f"query parameter {field}:" in resp.json()["error"]["message"]
    )


def test_lifecycle_is_for_analysts_and_up_and_audited(
    runtime: Runtime, client: TestClient, found: dict[str, int]
) -> None:
    _, viewer = api_key(runtime, "viewer")
    key_id, analyst = api_key(runtime, "analyst")
    actor = f"api-key:{key_id}"  # who the audit log names for a call with an API key
    mid = found["d-mid"]
    resp = client.post(f"{URL}/{mid}/acknowledge", headers=viewer)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    acked = client.post(f"{URL}/{mid}/acknowledge", headers=analyst)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    done = client.post(f"{URL}/{mid}/resolve", json={"note": "the buyer signed"}, headers=analyst)
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["resolution"], done.json()["resolved_by"]) == (
        "resolved",
        "person",
        actor,
    )
    again = client.post(f"{URL}/{mid}/acknowledge", headers=analyst)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert client.post(f"{URL}/{found['d-high']}/resolve", headers=analyst).status_code == 200  # no body needed
    assert subjects(client.get(URL, params={"status": "resolved"}, headers=viewer)) != []
    with runtime.session() as s:
        audited = [
            (a.actor, a.action, a.details) for a in s.scalars(select(AuditLog).where(AuditLog.target == str(mid)))
        ]
    assert audited == [
        (actor, "insight.acknowledge", {}),
        (actor, "insight.resolve", {"note": "the buyer signed"}),
    ]


def test_an_insight_the_role_may_not_see_is_404(runtime: Runtime, client: TestClient, found: dict[str, int]) -> None:
    with runtime.session() as s:
        s.get(Insight, found["d-high"]).min_role = "admin"
    _, viewer = api_key(runtime, "viewer")
    assert client.get(f"{URL}/{found['d-high']}", headers=viewer).status_code == 404
    assert client.get(URL, headers=viewer).json()["total"] == 2
    assert client.get(f"{URL}/{found['d-high']}", headers=bearer(client)).status_code == 200
    missing = client.get(f"{URL}/999999", headers=viewer)
    assert missing.json() == {"error": {"code": "not_found", "message": "no insight 999999"}}


def test_jobs_are_for_admins(runtime: Runtime, client: TestClient) -> None:
    _, analyst = api_key(runtime, "analyst")
    assert client.get("/api/v1/jobs", headers=analyst).status_code == 403
    resp = client.get("/api/v1/jobs", headers=bearer(client))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [j["id"] for j in body["items"]] == [j.id for j in JOBS]
    assert body["scheduler"]["active"] is False and body["scheduler"]["heartbeat_state"] == "never"
    assert body["items"][0]["last_status"] is None and body["items"][0]["paused"] is False


def test_signed_out_is_401(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
    assert client.get("/api/v1/jobs").status_code == 401
