"""Users, roles, API keys and tokens through core.auth, on a real database."""

from __future__ import annotations

import re
from datetime import timedelta

import bcrypt
import jwt
import pytest
from sqlalchemy import select

from core import auth
from core.bus import EmbeddedCache
from core.db.models import ApiKey, AuditLog, User
from core.db.types import utcnow
from core.errors import AuthError, Conflict, Forbidden, InvalidInput, RateLimited
from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
def throttle(tmp_path) -> auth.LoginThrottle:
    return auth.LoginThrottle(EmbeddedCache(tmp_path / "throttle.sqlite3"))


def sign_in(session, throttle, username: str, password: str, address: str | None = "198.51.100.4") -> auth.Identity:
    return auth.authenticate(session=session, username=username, password=password, throttle=throttle, address=address)


def test_first_admin_exists_with_only_a_hash(runtime) -> None:
    with runtime.session() as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        assert admin.role == "admin"
        assert admin.password_hash.startswith("$2") and ADMIN_PASSWORD not in admin.password_hash


def test_password_login(runtime, throttle) -> None:
    with runtime.session() as s:
        assert sign_in(s, throttle, "admin", ADMIN_PASSWORD).role == "admin"
        with pytest.raises(AuthError, match="wrong username or password"):
            sign_in(s, throttle, "admin", "not-the-password")
        with pytest.raises(AuthError, match="wrong username or password"):
            sign_in(s, throttle, "nobody", ADMIN_PASSWORD)


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
            {"sub": "admin", "iss": "sophia", "ver": 0, "iat": utcnow(), "exp": utcnow() - timedelta(minutes=1)},
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


def test_disabled_users_cannot_sign_in_or_use_keys(runtime, throttle) -> None:
    with runtime.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="admin")
        _, key = auth.create_api_key(session=s, username="vera", actor="admin")
        auth.set_active(session=s, username="vera", active=False, actor="admin")
        with pytest.raises(Conflict, match="last active admin"):
            auth.set_active(session=s, username="admin", active=False, actor="admin")
    with runtime.session() as s:
        with pytest.raises(AuthError):
            sign_in(s, throttle, "vera", "viewer-pass-1")
        with pytest.raises(AuthError, match="disabled"):
            auth.identity_from_api_key(session=s, key=key)


def test_passwords_with_outer_spaces_are_refused(runtime) -> None:
    with runtime.session() as s, pytest.raises(InvalidInput, match="space"):
        auth.create_user(session=s, username="sam", role="viewer", password=" padded-pass ", actor="admin")


# ---- no username oracle, and a throttle on guessing ------------------------------------------------


def bcrypt_cost(hashed: str) -> int:
    match = re.fullmatch(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}", hashed)
    assert match, hashed
    return int(match[1])


def test_the_stand_in_hash_costs_what_a_real_one_costs(runtime) -> None:
    """An unknown username is checked against the stand-in hash: same bcrypt cost, so the same time."""
    with runtime.session() as s:
        real = auth.get_user(session=s, username="admin").password_hash
    assert bcrypt_cost(auth.STAND_IN_HASH) == bcrypt_cost(real) == bcrypt_cost(auth.hash_password("any-password-1"))
    assert bcrypt_cost(auth.STAND_IN_HASH) == auth.BCRYPT_ROUNDS >= 12
    assert not bcrypt.checkpw(b"", auth.STAND_IN_HASH.encode())  # a well-formed hash bcrypt really checks


def test_wrong_passwords_then_a_wait_even_for_the_right_one(runtime, throttle) -> None:
    with runtime.session() as s:
        for _ in range(5):
            with pytest.raises(AuthError):
                sign_in(s, throttle, "admin", "not-the-password")
        with pytest.raises(RateLimited) as caught:
            sign_in(s, throttle, "admin", ADMIN_PASSWORD)
    assert 1 <= caught.value.retry_after_s <= 60 and caught.value.status == 429
    assert f"{caught.value.retry_after_s} s" in caught.value.message


def test_the_waits_grow_with_more_failures(runtime, tmp_path) -> None:
    throttle = auth.LoginThrottle(EmbeddedCache(tmp_path / "t.sqlite3"), user_limits=("2 per minute", "3 per hour"))
    with runtime.session() as s:
        for _ in range(2):
            with pytest.raises(AuthError):
                sign_in(s, throttle, "admin", "wrong-password")
        with pytest.raises(RateLimited) as first:
            sign_in(s, throttle, "admin", ADMIN_PASSWORD)
    assert first.value.retry_after_s <= 60
    held = auth.LoginThrottle(EmbeddedCache(tmp_path / "t.sqlite3"), user_limits=("9 per minute", "3 per hour"))
    with runtime.session() as s:  # the minute's bound lifted, one more failure reaches the hour's
        with pytest.raises(AuthError):
            sign_in(s, held, "admin", "wrong-password")
        with pytest.raises(RateLimited) as second:
            sign_in(s, held, "admin", ADMIN_PASSWORD)
    assert 60 < second.value.retry_after_s <= 3600


def test_an_unknown_username_is_held_back_like_a_known_one(runtime, throttle) -> None:
    with runtime.session() as s:
        for name in ("admin", "nobody"):
            for _ in range(5):
                with pytest.raises(AuthError):
                    sign_in(s, throttle, name, "not-the-password")
            with pytest.raises(RateLimited):
                sign_in(s, throttle, name, "not-the-password")


def test_one_address_guessing_many_names_is_held_back(runtime, throttle) -> None:
    with runtime.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
        for i in range(30):
            with pytest.raises(AuthError):
                sign_in(s, throttle, f"user{i}", "guess-guess", address="203.0.113.9")
        with pytest.raises(RateLimited):
            sign_in(s, throttle, "vera", "viewer-pass-1", address="203.0.113.9")
        assert sign_in(s, throttle, "vera", "viewer-pass-1", address="198.51.100.20").username == "vera"


def test_a_sign_in_clears_its_usernames_count(runtime, throttle) -> None:
    with runtime.session() as s:
        for _ in range(4):
            with pytest.raises(AuthError):
                sign_in(s, throttle, "admin", "not-the-password")
        sign_in(s, throttle, "admin", ADMIN_PASSWORD)
        for _ in range(4):
            with pytest.raises(AuthError):
                sign_in(s, throttle, "admin", "not-the-password")
        assert sign_in(s, throttle, "admin", ADMIN_PASSWORD).username == "admin"


def test_processes_count_the_same_failures(runtime, tmp_path) -> None:
    """Two throttles over the same bus file (as the API and the app each open it) share the count."""
    api_side = auth.LoginThrottle(EmbeddedCache(tmp_path / "bus.sqlite3"))
    app_side = auth.LoginThrottle(EmbeddedCache(tmp_path / "bus.sqlite3"))
    with runtime.session() as s:
        for side in (api_side, app_side, api_side, app_side, api_side):
            with pytest.raises(AuthError):
                sign_in(s, side, "admin", "not-the-password")
        with pytest.raises(RateLimited):
            sign_in(s, app_side, "admin", ADMIN_PASSWORD)


def test_the_throttle_on_redis(runtime) -> None:
    import uuid

    from core.bus import RedisCache
    from core.bus.redis_impl import connect
    from tests.utils.services import redis_url_or_fail

    cache = RedisCache(connect(redis_url_or_fail()))
    throttle = auth.LoginThrottle(cache)
    name = f"nobody-{uuid.uuid4().hex[:12]}"  # the Redis is shared: a name no other test uses
    with runtime.session() as s:
        for _ in range(5):
            with pytest.raises(AuthError):
                sign_in(s, throttle, name, "not-the-password", address=None)
        with pytest.raises(RateLimited) as caught:
            sign_in(s, throttle, name, "not-the-password", address=None)
    assert 1 <= caught.value.retry_after_s <= 60
    cache.close()


# ---- sessions end when the password or access changes -----------------------------------------------


def test_a_password_change_ends_earlier_tokens(runtime, throttle) -> None:
    settings = runtime.settings
    with runtime.session() as s:
        token = auth.issue_token(settings=settings, identity=sign_in(s, throttle, "admin", ADMIN_PASSWORD))
        assert auth.identity_from_token(session=s, settings=settings, token=token).username == "admin"
        auth.set_password(session=s, username="admin", password="a-new-password-2", actor="admin")
    with runtime.session() as s:
        with pytest.raises(AuthError, match="password or access changed"):
            auth.identity_from_token(session=s, settings=settings, token=token)
        fresh = auth.issue_token(settings=settings, identity=sign_in(s, throttle, "admin", "a-new-password-2"))
        assert auth.identity_from_token(session=s, settings=settings, token=fresh).username == "admin"


def test_disabling_ends_tokens_for_good(runtime, throttle) -> None:
    settings = runtime.settings
    with runtime.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
        token = auth.issue_token(settings=settings, identity=sign_in(s, throttle, "vera", "viewer-pass-1"))
        auth.set_active(session=s, username="vera", active=False, actor="admin")
        auth.set_active(session=s, username="vera", active=True, actor="admin")
    with runtime.session() as s, pytest.raises(AuthError, match="password or access changed"):
        auth.identity_from_token(session=s, settings=settings, token=token)


def test_a_role_change_applies_to_a_live_token(runtime, throttle) -> None:
    """Roles are read fresh on every request, so a role change needs no new sign-in."""
    settings = runtime.settings
    with runtime.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
        token = auth.issue_token(settings=settings, identity=sign_in(s, throttle, "vera", "viewer-pass-1"))
        auth.set_role(session=s, username="vera", role="analyst", actor="admin")
    with runtime.session() as s:
        assert auth.identity_from_token(session=s, settings=settings, token=token).role == "analyst"


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "ver"])
def test_tokens_without_a_required_claim_are_refused(runtime, missing: str) -> None:
    now = utcnow()
    claims = {"sub": "admin", "iss": "sophia", "ver": 0, "iat": now, "exp": now + timedelta(minutes=5)}
    del claims[missing]
    token = jwt.encode(claims, runtime.settings.signing_key(), algorithm="HS256")
    with runtime.session() as s, pytest.raises(AuthError, match="invalid token"):
        auth.identity_from_token(session=s, settings=runtime.settings, token=token)


def test_tokens_of_another_issuer_or_purpose_are_refused(runtime) -> None:
    settings, now = runtime.settings, utcnow()
    claims = {"sub": "admin", "iss": "elsewhere", "ver": 0, "iat": now, "exp": now + timedelta(minutes=5)}
    other_issuer = jwt.encode(claims, settings.signing_key(), algorithm="HS256")
    admin = auth.Identity(username="admin", role="admin", via="password")
    cookie = auth.issue_token(settings=settings, identity=admin, purpose="streamlit-sign-in-cookie")
    bearer = auth.issue_token(settings=settings, identity=admin)
    with runtime.session() as s:
        for token, purpose in (
            (other_issuer, auth.API_TOKENS),
            (cookie, auth.API_TOKENS),
            (bearer, "streamlit-sign-in-cookie"),
        ):
            with pytest.raises(AuthError, match="invalid token"):
                auth.identity_from_token(session=s, settings=settings, token=token, purpose=purpose)
        assert auth.identity_from_token(session=s, settings=settings, token=cookie, purpose="streamlit-sign-in-cookie")


def test_sign_in_goes_on_when_the_throttles_cache_is_down(runtime, tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    broken = auth.LoginThrottle(EmbeddedCache(tmp_path / "a-file" / "bus.sqlite3"))  # cannot be opened
    with runtime.session() as s:
        for _ in range(7):
            with pytest.raises(AuthError):
                sign_in(s, broken, "admin", "not-the-password")
        assert sign_in(s, broken, "admin", ADMIN_PASSWORD).username == "admin"
