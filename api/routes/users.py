"""People who may sign in. Admins only."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require_role
from api.schemas import UserPublic, UsersPublic
from core import auth

router = APIRouter(prefix="/api/v1/users", tags=["users"], dependencies=[Depends(require_role("admin"))])


@router.get("")
def list_users(session: SessionDep) -> UsersPublic:
    users = auth.list_users(session=session)
    return UsersPublic(items=[UserPublic.model_validate(u) for u in users], total=len(users))
