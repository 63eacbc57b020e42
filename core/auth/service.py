"""Users, roles, API keys and tokens. Every face checks identity and roles through these calls."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import bcrypt
import jwt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.auth.throttle import LoginThrottle
from core.config import Settings
from core.db.models import ApiKey, Role, User
from core.db.types import utcnow
from core.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound

ROLES = ("admin", "analyst", "viewer")
ROLE_RANK = {"viewer": 10, "analyst": 20, "admin": 30}
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt only reads the first 72 bytes; refuse rather than truncate silently
API_KEY_PREFIX = "sk_sophia_"
JWT_ALGORITHM = "HS256"
TOKEN_ISSUER = "sophia"
API_TOKENS = "api"  # the purpose of bearer tokens; any other purpose signs with a key derived for it
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "ver"]
BCRYPT_ROUNDS = 12
# Checked instead of a real hash when the user does not exist, at the same cost, so that an unknown
# username takes as long as a wrong password. A literal: computing one would cost every process start.
STAND_IN_HASH = "$2b$12$AhHZfeCG/NKsZ474Gxl55e2AIKKU/uUbkc3rAUTqucOJPYrDuC/PW"


@dataclass(frozen=True)
class Identity:
    """Who is calling, however they proved it."""

    username: str
    role: str
    via: str  # password | token | api_key | cli
    key_id: str | None = None
    token_version: int = 0  # the user's, when proved by password or token: what a token issued now carries

    @property
    def actor(self) -> str:
        return f"api-key:{self.key_id}" if self.key_id else self.username

    def can(self, required_role: str) -> bool:
        return role_allows(self.role, required_role)


def role_allows(role: str, required: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


def require_role(identity: Identity, required: str) -> None:
    if not identity.can(required):
        raise Forbidden(f"this needs the {required} role; {identity.username} is {identity.role}")


# ---- passwords ----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    _check_password(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    data = password.encode()
    if len(data) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(data, password_hash.encode())
    except ValueError:
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, ~144 bits


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
    if password != password.strip():
        # the sign-in form strips what is typed, so such a password could never be entered there
        raise InvalidInput("password must not start or end with a space")


# ---- users --------------------------------------------------------------------------------


def _check_role(session: Session, role: str) -> None:
    if session.get(Role, role) is None:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def get_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(
    *,
    session: Session,
    username: str,
    role: str,
    password: str,
    actor: str,
    display_name: str | None = None,
    email: str | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput("username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    _check_role(session, role)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        display_name=display_name or username,
        email=email,
    )
    session.add(user)
    session.flush()
    audit(session=session, actor=actor, action="user.create", target=username, details={"role": role})
    return user


def set_role(*, session: Session, username: str, role: str, actor: str) -> User:
    user = get_user(session=session, username=username)
    _check_role(session, role)
    if user.role == "admin" and role != "admin" and _active_admins(session) <= 1:
        raise Conflict(f"{username} is the last admin; make another admin first")
    old, user.role = user.role, role
    audit(session=session, actor=actor, action="user.set_role", target=username, details={"from": old, "to": role})
    return user


def set_password(*, session: Session, username: str, password: str, actor: str) -> None:
    user = get_user(session=session, username=username)
    user.password_hash = hash_password(password)
    _end_sessions(user)
    audit(session=session, actor=actor, action="user.set_password", target=username)


def set_active(*, session: Session, username: str, active: bool, actor: str) -> User:
    """Disable or re-enable a user; a disabled user cannot sign in and their keys stop working."""
    user = get_user(session=session, username=username)
    if not active and user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise Conflict(f"{username} is the last active admin; make another admin first")
    if user.active != active:
        user.active = active
        if not active:
            _end_sessions(user)
        audit(session=session, actor=actor, action="user.enable" if active else "user.disable", target=username)
    return user


def _end_sessions(user: User) -> None:
    """Every token and re-login cookie issued to ``user`` so far stops working."""
    user.token_version = (user.token_version or 0) + 1


def record_sign_in(*, session: Session, username: str) -> None:
    """Note a sign-in that a face verified itself (the Streamlit form checks the bcrypt hash)."""
    user = get_user(session=session, username=username)
    user.last_login_at = utcnow()
    audit(session=session, actor=username, action="user.sign_in", target=username)


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active)) or 0


def authenticate(
    *, session: Session, username: str, password: str, throttle: LoginThrottle, address: str | None = None
) -> Identity:
    """Check a username and password; the same error (and the same bcrypt cost) whether the user or the
    password is wrong. While ``throttle`` holds the username or the ``address`` back after failures,
    even the right password is refused with ``RateLimited`` (it says how long to wait)."""
    name = username.strip().lower()
    throttle.check(username=name, address=address)
    user = session.scalar(select(User).where(User.username == name))
    ok = verify_password(password, user.password_hash if user else STAND_IN_HASH)
    if not (user and ok and user.active):
        throttle.failed(username=name, address=address)
        raise AuthError("wrong username or password")
    throttle.succeeded(username=name)
    user.last_login_at = utcnow()
    return Identity(username=user.username, role=user.role, via="password", token_version=user.token_version)


def ensure_first_admin(*, session: Session, settings: Settings) -> str | None:
    """Create the first admin when there are no users. Returns the password only if it was generated."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    generated = None if settings.admin_password else generate_password()
    create_user(
        session=session,
        username=settings.admin_user,
        role="admin",
        password=settings.admin_password or generated,  # type: ignore[arg-type]
        actor="system",
        display_name="Administrator",
    )
    return generated


# ---- API keys -----------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is the right tool (bcrypt is for low-entropy passwords)
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(*, session: Session, username: str, name: str = "", actor: str) -> tuple[ApiKey, str]:
    """Make a key for a user; returns the stored row and the key itself (shown once, never stored)."""
    user = get_user(session=session, username=username)
    key_id = f"ak_{secrets.token_hex(6)}"
    key = f"{API_KEY_PREFIX}{key_id[3:]}_{secrets.token_urlsafe(32)}"
    row = ApiKey(id=key_id, user_id=user.id, name=name, key_hash=_key_hash(key))
    session.add(row)
    session.flush()
    audit(
        session=session, actor=actor, action="api_key.create", target=key_id, details={"user": username, "name": name}
    )
    return row, key


def list_api_keys(*, session: Session, username: str | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).join(User).order_by(ApiKey.created_at.desc())
    if username:
        stmt = stmt.where(User.username == username)
    return list(session.scalars(stmt))


def revoke_api_key(*, session: Session, key_id: str, actor: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session=session, actor=actor, action="api_key.revoke", target=key_id)
    return row


def identity_from_api_key(*, session: Session, key: str) -> Identity:
    if not key.startswith(API_KEY_PREFIX):
        raise AuthError("invalid API key")
    digest = _key_hash(key)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise AuthError("invalid API key")
    if row.revoked_at is not None:
        raise AuthError("this API key has been revoked")
    if not row.user.active:
        raise AuthError("the user of this API key is disabled")
    # no write here: the face records the use with record_api_key_use, at most every few minutes
    return Identity(username=row.user.username, role=row.user.role, via="api_key", key_id=row.id)


# ---- bearer tokens ------------------------------------------------------------------------


def _token_key(settings: Settings, purpose: str) -> str:
    return settings.signing_key() if purpose == API_TOKENS else settings.derived_key(purpose)


def issue_token(
    *,
    settings: Settings,
    identity: Identity,
    purpose: str = API_TOKENS,
    ttl: timedelta | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed token for ``identity`` carrying its token version; ``purpose`` other than API bearer tokens
    (e.g. the app's re-login cookie) signs with a key derived for that purpose, so one is never the other."""
    now = utcnow()
    claims = {
        **(extra or {}),
        "sub": identity.username,
        "role": identity.role,
        "ver": identity.token_version,
        "iat": now,
        "exp": now + (ttl or timedelta(minutes=settings.jwt_ttl_minutes)),
        "iss": TOKEN_ISSUER,
    }
    return jwt.encode(claims, _token_key(settings, purpose), algorithm=JWT_ALGORITHM)


def identity_from_token(*, session: Session, settings: Settings, token: str, purpose: str = API_TOKENS) -> Identity:
    """A valid, unexpired token of a user who still exists and is active, issued since their password last
    changed (or they were disabled); the role is read fresh."""
    try:
        claims = jwt.decode(
            token,
            _token_key(settings, purpose),
            algorithms=[JWT_ALGORITHM],
            issuer=TOKEN_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired; sign in again") from None
    except jwt.PyJWTError:
        raise AuthError("invalid token") from None
    user = session.scalar(select(User).where(User.username == claims["sub"]))
    if user is None or not user.active:
        raise AuthError("the token's user no longer exists or is disabled")
    if claims["ver"] != user.token_version:
        raise AuthError("the token was issued before the password or access changed; sign in again")
    return Identity(username=user.username, role=user.role, via="token", token_version=user.token_version)
