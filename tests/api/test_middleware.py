"""Request ids and the access log."""

from __future__ import annotations

import structlog
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from tests.api.conftest import bearer


def test_request_id_is_echoed(client: TestClient) -> None:
    resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"


def test_request_id_is_made_when_missing_or_unsafe(client: TestClient) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert made and made != client.get("/healthz").headers["x-request-id"]
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert unsafe.headers["x-request-id"] not in ("", "a b\tc" + "x" * 200)


def test_errors_carry_the_request_id(client: TestClient) -> None:
    resp = client.get("/api/v1/accounts", headers={"X-Request-ID": "req-401"})
    assert resp.status_code == 401
    assert resp.headers["x-request-id"] == "req-401"


def test_one_access_line_per_request_carrying_the_id(client: TestClient) -> None:
    headers = bearer(client) | {"X-Request-ID": "trace-me"}
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        client.get("/api/v1/accounts", params={"segment": "smb"}, headers=headers)
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "trace-me"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/v1/accounts", 200)
    assert isinstance(line["duration_ms"], float)
    assert "Bearer" not in repr(lines)  # no credentials in the log


def test_an_unexpected_error_answers_500_with_the_request_id(runtime) -> None:
    from api.main import create_app

    app = create_app(runtime)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)  # a route with a bug in it
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/broken", headers={"X-Request-ID": "req-500"})
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "req-500"
    assert resp.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the server log has the details (request req-500)",
        }
    }
    assert "a bug" not in resp.text  # nothing of the bug leaks to the caller


def test_a_feed_secret_in_the_url_is_not_logged(client: TestClient, runtime) -> None:
    from core import estuary

    with runtime.session() as s:
        _, secret = estuary.create_feed(
            session=s, name="crm", actor="test", bindings=[estuary.parse_binding("w/accounts=entity:accounts@platform")]
        )
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        ok = client.post(f"/webhooks/estuary/s/{secret}/crm/w/accounts", content="[]")
        wrong = client.post("/webhooks/estuary/s/not-the-secret-but-close/crm/w/accounts", content="[]")
        malformed = client.post(f"/webhooks/estuary/s/{secret}", content="[]")  # no collection: another route
    assert (ok.status_code, wrong.status_code) == (200, 401) and malformed.status_code != 200
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == 3
    assert secret not in repr(lines) and "not-the-secret-but-close" not in repr(lines)
    assert access[0]["path"] == "/webhooks/estuary/s/***/crm/w/accounts"
    assert access[0]["route"] == "/webhooks/estuary/s/{secret}/{feed}/{collection:path}"
