"""Customer and prospect accounts. Any signed-in role may read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import Offset, RowId, SessionDep, require_role
from api.schemas import AccountPublic, AccountsPublic
from core import accounts
from core.accounts import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Health, Segment

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"], dependencies=[Depends(require_role("viewer"))])


@router.get("")
def list_accounts(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    segment: Segment | None = None,
    health: Health | None = None,
    owner: Annotated[str | None, Query(max_length=255, description="owner's email")] = None,
    q: Annotated[str | None, Query(max_length=200, description="name contains (case-insensitive)")] = None,
) -> AccountsPublic:
    page = accounts.list_accounts(
        session=session, limit=limit, offset=offset, segment=segment, health=health, owner=owner, q=q
    )
    return AccountsPublic(items=[AccountPublic.model_validate(a) for a in page.rows], total=page.total)


@router.get("/{account_id}", responses={404: {"description": "no such account"}})
def read_account(account_id: RowId, session: SessionDep) -> AccountPublic:
    return AccountPublic.model_validate(accounts.get_account(session=session, account_id=account_id))
