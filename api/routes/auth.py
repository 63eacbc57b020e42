"""Sign in: OAuth2 password form in, bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import RuntimeDep, SessionDep
from api.schemas import Token
from core import auth

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token")
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], runtime: RuntimeDep, session: SessionDep
) -> Token:
    identity = auth.authenticate(session=session, username=form.username, password=form.password)
    token = auth.issue_token(settings=runtime.settings, identity=identity)
    return Token(access_token=token, expires_in=runtime.settings.jwt_ttl_minutes * 60)
