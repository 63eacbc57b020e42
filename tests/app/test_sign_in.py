"""The sign-in form through AppTest: the same throttle as the API (counted in the shared cache, the wait
shown on the form), and a session that ends when its password changes. The re-login cookie cannot be
seeded in AppTest; its token is checked in tests/unit/test_auth.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from api.main import create_app
from core import auth
from tests.app.apptest_env import ENTRY
from tests.conftest import ADMIN_PASSWORD


def form() -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def test_after_failures_the_form_shows_the_wait_even_for_the_right_password(app_db) -> None:
    at = form()
    for _ in range(5):
        assert [e.value for e in submit(at, "admin", "not-the-password").error] == ["Wrong username or password."]
    submit(at, "admin", ADMIN_PASSWORD)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Too many failed sign-ins. Try again in "), errors
    assert at.session_state["authentication_status"] is False and not at.metric


def test_the_api_and_the_form_count_the_same_failures(app_db) -> None:
    with TestClient(create_app(app_db)) as client:
        for _ in range(3):
            assert client.post("/auth/token", data={"username": "admin", "password": "nope-nope"}).status_code == 401
    at = form()
    for _ in range(2):
        submit(at, "admin", "not-the-password")
    submit(at, "admin", ADMIN_PASSWORD)
    assert any(e.value.startswith("Too many failed sign-ins") for e in at.error)


def test_a_password_change_ends_the_session(app_db) -> None:
    at = submit(form(), "admin", ADMIN_PASSWORD)
    assert at.session_state["authentication_status"] is True
    with app_db.session() as s:
        auth.set_password(session=s, username="admin", password="a-new-password-2", actor="cli")
    at.run()
    assert [e.value for e in at.error] == ["Your password or access changed. Sign in again."]
    assert at.session_state["authentication_status"] is None and not at.metric
    submit(at, "admin", "a-new-password-2")
    assert at.session_state["authentication_status"] is True and not at.error


def test_the_relogin_cookie_is_read_by_the_library_and_ends_with_a_password_change(app_db) -> None:
    from types import SimpleNamespace

    from streamlit_authenticator.models.cookie_model import CookieModel

    from app.auth import COOKIE_PURPOSE, relogin_cookie
    from core.errors import AuthError

    with app_db.session() as s:
        admin = auth.get_user(session=s, username="admin")
        identity = auth.Identity(username="admin", role="admin", via="password", token_version=admin.token_version)
    token, _ = relogin_cookie(app_db, identity)
    # what streamlit-authenticator does with the cookie it finds (CookieModel.get_cookie)
    library = SimpleNamespace(token=token, cookie_key=app_db.settings.derived_key(COOKIE_PURPOSE))
    decoded = CookieModel._token_decode(library)
    assert decoded["username"] == "admin" and decoded["exp_date"] > __import__("time").time()
    with app_db.session() as s:  # and what we check before the library may read it
        assert auth.identity_from_token(session=s, settings=app_db.settings, token=token, purpose=COOKIE_PURPOSE)
        auth.set_password(session=s, username="admin", password="a-new-password-2", actor="cli")
    with app_db.session() as s, pytest.raises(AuthError, match="password or access changed"):
        auth.identity_from_token(session=s, settings=app_db.settings, token=token, purpose=COOKIE_PURPOSE)
