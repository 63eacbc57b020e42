"""Shared dependencies: the runtime, a unit-of-work session, the caller's identity and the role check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from core import auth
from core.auth import Identity, LoginThrottle
from core.bus import EventBus, make_bus, make_cache
from core.db.types import BIGINT_MAX
from core.errors import AuthError, BackendUnavailable
from core.runtime import Runtime

TOKEN_URL = "/auth/token"

# Integers at the edge stay within what the database stores: 2**63 is a 422, not an overflow and a 500.
RowId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="a row id")]
Offset = Annotated[int, Query(ge=0, le=BIGINT_MAX, description="rows to skip")]

# auto_error=False: a missing credential is our AuthError (one error shape), not FastAPI's own 401/403.
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def app_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise BackendUnavailable("the API is still starting")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(app_runtime)]


def app_bus(request: Request) -> EventBus:
    """The process's event bus, made on first use (Redis Streams or the embedded bus)."""
    bus = getattr(request.app.state, "bus", None)
    if bus is None:
        bus = request.app.state.bus = make_bus(app_runtime(request).settings)
    return bus


def app_throttle(request: Request) -> LoginThrottle:
    """The sign-in throttle over the installation's shared cache (made on first use, closed at shutdown)."""
    throttle = getattr(request.app.state, "throttle", None)
    if throttle is None:
        request.app.state.cache = make_cache(app_runtime(request).settings)
        throttle = request.app.state.throttle = LoginThrottle(request.app.state.cache)
    return throttle


def client_address(request: Request) -> str | None:
    """The caller's address (uvicorn takes it from X-Forwarded-For only behind a trusted proxy)."""
    return request.client.host if request.client else None


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One unit of work per request: committed before the response is sent, rolled back on error."""
    with runtime.session() as session:
        yield session


# scope="function": the session closes (and commits) when the endpoint returns, not after the response.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def current_identity(
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Identity:
    if token:
        return auth.identity_from_token(session=session, settings=runtime.settings, token=token)
    if api_key:
        identity = auth.identity_from_api_key(session=session, key=api_key)
        auth.record_api_key_use(engine=runtime.engine, key_id=identity.key_id or "", now=runtime.clock.now())
        return identity
    raise AuthError("sign in: send 'Authorization: Bearer <token>' (from POST /auth/token) or 'X-API-Key: <key>'")


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def require_role(role: str) -> Callable[[Identity], Identity]:
    """A dependency that lets the caller through when their role includes ``role``."""
    if role not in auth.ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def check(identity: CurrentIdentity) -> Identity:
        auth.require_role(identity, role)
        return identity

    check.__name__ = f"require_{role}"
    return check
