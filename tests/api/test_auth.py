"""Signing in and proving who you are: tokens, API keys, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from fastapi.testclient import TestClient

from api.deps import require_role
from core.auth import revoke_api_key
from core.runtime import Runtime
from tests.api.conftest import ADMIN_PASSWORD, api_key, bearer


def test_token_for_the_right_password(client: TestClient) -> None:
    resp = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "admin", "role": "admin", "via": "token"}


def test_token_refused_for_a_wrong_password(client: TestClient) -> None:
    resp = client.post("/auth/token", data={"username": "admin", "password": "not-the-password"})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json() == {"error": {"code": "unauthenticated", "message": "wrong username or password"}}


def test_token_form_missing_a_field_names_it(client: TestClient) -> None:
    resp = client.post("/auth/token", data={"username": "admin"})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_input"
    assert "password" in resp.json()["error"]["message"]


def test_no_credentials_is_401(client: TestClient) -> None:
    resp = client.get("/api/v1/accounts")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["error"]["code"] == "unauthenticated"


def test_garbage_token_is_401(client: TestClient) -> None:
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "invalid token"


def test_expired_token_is_401(client: TestClient, runtime: Runtime) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = {
        "sub": "admin",
        "role": "admin",
        "iss": "sophia",
        "ver": 0,
        "iat": past,
        "exp": past + timedelta(minutes=60),
    }
    token = jwt.encode(claims, runtime.settings.signing_key(), algorithm="HS256")
    resp = client.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert "expired" in resp.json()["error"]["message"]


def test_token_signed_with_another_key_is_401(client: TestClient) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "admin", "role": "admin", "iss": "sophia", "iat": now, "exp": now + timedelta(minutes=5)}
    token = jwt.encode(claims, "some-other-key-0123456789-abcdefghijklmnop", algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_api_key_then_revoked(client: TestClient, runtime: Runtime) -> None:
    key_id, headers = api_key(runtime, "analyst")
    resp = client.get("/api/v1/accounts", headers=headers)
    assert resp.status_code == 200
    assert client.get("/api/v1/me", headers=headers).json() == {
        "username": "analyst-user",
        "role": "analyst",
        "via": "api_key",
    }
    with runtime.session() as session:
        revoke_api_key(session=session, key_id=key_id, actor="test")
    resp = client.get("/api/v1/accounts", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "this API key has been revoked"


def test_unknown_api_key_is_401(client: TestClient) -> None:
    resp = client.get("/api/v1/accounts", headers={"X-API-Key": "sk_sophia_0000_made-up"})
    assert resp.status_code == 401


def test_users_need_admin(client: TestClient, runtime: Runtime) -> None:
    _, viewer = api_key(runtime, "viewer")
    resp = client.get("/api/v1/users", headers=viewer)
    assert resp.status_code == 403
    assert resp.json()["error"] == {"code": "forbidden", "message": "this needs the admin role; viewer-user is viewer"}

    resp = client.get("/api/v1/users", headers=bearer(client))
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 2
    admin = next(u for u in body["items"] if u["username"] == "admin")
    assert set(admin) == {"username", "display_name", "role", "active", "created_at", "last_login_at"}
    assert admin["role"] == "admin" and admin["active"] is True
    assert admin["last_login_at"] is not None  # the sign-in above was recorded
    assert "hash" not in resp.text and "$2b$" not in resp.text


def test_require_role_refuses_unknown_roles() -> None:
    try:
        require_role("superuser")
    except ValueError as exc:
        assert "superuser" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_wrong_passwords_then_429_with_retry_after_even_for_the_right_one(client: TestClient) -> None:
    for _ in range(5):
        wrong = client.post("/auth/token", data={"username": "admin", "password": "not-the-password"})
        assert wrong.status_code == 401
    resp = client.post("/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert resp.json()["error"]["code"] == "rate_limited"
    assert resp.headers["retry-after"] in resp.json()["error"]["message"]


def test_an_unknown_username_is_held_back_the_same_way(client: TestClient) -> None:
    statuses = [
        client.post("/auth/token", data={"username": "nobody", "password": "not-the-password"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_a_password_change_ends_earlier_tokens(client: TestClient, runtime: Runtime) -> None:
    from core.auth import set_password

    old = bearer(client)
    assert client.get("/api/v1/me", headers=old).status_code == 200
    with runtime.session() as session:
        set_password(session=session, username="admin", password="a-new-password-2", actor="admin")
    resp = client.get("/api/v1/me", headers=old)
    assert resp.status_code == 401 and "sign in again" in resp.json()["error"]["message"]
    assert client.get("/api/v1/me", headers=bearer(client, password="a-new-password-2")).status_code == 200


def test_a_token_without_issued_at_or_version_is_401(client: TestClient, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "admin", "role": "admin", "iss": "sophia", "exp": now + timedelta(minutes=5)}  # as before
    token = jwt.encode(claims, runtime.settings.signing_key(), algorithm="HS256")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
