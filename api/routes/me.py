"""Who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentIdentity
from api.schemas import IdentityPublic

router = APIRouter(prefix="/api/v1/me", tags=["users"])


@router.get("")
def read_me(identity: CurrentIdentity) -> IdentityPublic:
    return IdentityPublic.model_validate(identity)
