"""Users, roles, API keys and tokens through core.auth, on a real database."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from core import auth
from core.db.models import ApiKey, AuditLog, User
from core.db.types import utcnow
from core.errors import AuthError, Conflict, Forbidden, InvalidInput
from tests.conftest import ADMIN_PASSWORD


def test_first_admin_exists_with_only_a_hash(runtime) -> None:
    with runtime.session() as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        assert admin.role == "admin"
        assert admin.password_hash.startswith("$2") and ADMIN_PASSWORD not in admin.password_hash


def test_password_login(runtime) -> None:
    with runtime.session() as s:
        assert auth.authenticate(session=s, username="admin", password=ADMIN_PASSWORD).role == "admin"
        with pytest.raises(AuthError, match="wrong username or password"):
            auth.authenticate(session=s, username="admin", password="not-the-password")
        with pytest.raises(AuthError, match="wrong username or password"):
            auth.authenticate(session=s, username="nobody", password=ADMIN_PASSWORD)


def test_users_roles_and_audit(runtime) -> None:
    with runtime.session() as s:
        auth.create_user(session=s, username="Vera", role="viewer", password="viewer-pass-1", actor="admin")
        with pytest.raises(Conflict):
            auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="admin")
        with pytest.raises(InvalidInput, match="unknown role"):
            auth.create_user(session=s, username="x1", role="boss", password="long-enough", actor="admin")
        with pytest.raises(InvalidInput, match="at least 8"):
            auth.create_user(session=s, username="x2", role="viewer", password="short", actor="admin")
        auth.set_role(session=s, username="vera", role="analyst", actor="admin")
        with pytest.raises(Conflict, match="last admin"):
            auth.set_role(session=s, username="admin", role="viewer", actor="admin")
    with runtime.session() as s:
        assert auth.get_user(session=s, username="vera").role == "analyst"
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert actions[-2:] == ["user.create", "user.set_role"]


def test_role_ranks() -> None:
    viewer = auth.Identity(username="v", role="viewer", via="token")
    assert viewer.can("viewer") and not viewer.can("analyst")
    with pytest.raises(Forbidden):
        auth.require_role(viewer, "admin")


def test_api_keys_are_stored_hashed_and_can_be_revoked(runtime) -> None:
    with runtime.session() as s:
        row, key = auth.create_api_key(session=s, username="admin", name="ci", actor="cli")
    with runtime.session() as s:
        stored = s.get(ApiKey, row.id)
        assert key not in stored.key_hash and len(stored.key_hash) == 64
        ident = auth.identity_from_api_key(session=s, key=key)
        assert (ident.username, ident.role, ident.key_id) == ("admin", "admin", row.id)
        with pytest.raises(AuthError):
            auth.identity_from_api_key(session=s, key=key + "x")
        auth.revoke_api_key(session=s, key_id=row.id, actor="cli")
    with runtime.session() as s, pytest.raises(AuthError, match="revoked"):
        auth.identity_from_api_key(session=s, key=key)


def test_tokens_expire_and_follow_the_user(runtime) -> None:
    settings = runtime.settings
    ident = auth.Identity(username="admin", role="admin", via="password")
    token = auth.issue_token(settings=settings, identity=ident)
    with runtime.session() as s:
        assert auth.identity_from_token(session=s, settings=settings, token=token).username == "admin"
        expired = jwt.encode(
            {"sub": "admin", "iss": "sophia", "exp": utcnow() - timedelta(minutes=1)},
            settings.signing_key(),
            algorithm="HS256",
        )
        with pytest.raises(AuthError, match="expired"):
            auth.identity_from_token(session=s, settings=settings, token=expired)
        forged = jwt.encode(
            {"sub": "admin", "iss": "sophia"}, "another-secret-key-of-enough-length!", algorithm="HS256"
        )
        with pytest.raises(AuthError, match="invalid token"):
            auth.identity_from_token(session=s, settings=settings, token=forged)


def test_disabled_users_cannot_sign_in_or_use_keys(runtime) -> None:
    with runtime.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="admin")
        _, key = auth.create_api_key(session=s, username="vera", actor="admin")
        auth.set_active(session=s, username="vera", active=False, actor="admin")
        with pytest.raises(Conflict, match="last active admin"):
            auth.set_active(session=s, username="admin", active=False, actor="admin")
    with runtime.session() as s:
        with pytest.raises(AuthError):
            auth.authenticate(session=s, username="vera", password="viewer-pass-1")
        with pytest.raises(AuthError, match="disabled"):
            auth.identity_from_api_key(session=s, key=key)


def test_passwords_with_outer_spaces_are_refused(runtime) -> None:
    with runtime.session() as s, pytest.raises(InvalidInput, match="space"):
        auth.create_user(session=s, username="sam", role="viewer", password=" padded-pass ", actor="admin")
