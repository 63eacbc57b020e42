"""Sign in: OAuth2 password form in, bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import RuntimeDep, SessionDep, app_throttle, client_address
from api.schemas import Token
from core import auth

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", responses={429: {"description": "too many failed sign-ins; see Retry-After"}})
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep, session: SessionDep
) -> Token:
    identity = auth.authenticate(
        session=session,
        username=form.username,
        password=form.password,
        throttle=app_throttle(request),
        address=client_address(request),
    )
    token = auth.issue_token(settings=runtime.settings, identity=identity)
    return Token(access_token=token, expires_in=runtime.settings.jwt_ttl_minutes * 60)
