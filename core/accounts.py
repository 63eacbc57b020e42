"""Accounts, read a page at a time: every face (REST, GraphQL, MCP, pages) lists accounts through here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple, get_args

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.db.models import HEALTH, SEGMENTS, Account
from core.errors import InvalidInput, NotFound

Segment = Literal["smb", "mid_market", "enterprise"]
Health = Literal["healthy", "at_risk", "critical"]
assert get_args(Segment) == SEGMENTS and get_args(Health) == HEALTH, "keep in step with core.db.models"

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class AccountPage(NamedTuple):
    rows: list[Account]
    total: int  # how many match the filters, over all pages


def list_accounts(
    *,
    session: Session,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
    segment: str | None = None,
    health: str | None = None,
    owner: str | None = None,
    q: str | None = None,
) -> AccountPage:
    """One page of accounts ordered by name then id, and the total matching the filters.

    ``q`` matches names containing it (case-insensitive, taken literally); ``owner`` is the owner's
    email (case-insensitive).
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
    if offset < 0:
        raise InvalidInput(f"offset cannot be negative ({offset})")
    _check_choice("segment", segment, SEGMENTS)
    _check_choice("health", health, HEALTH)

    where: list[ColumnElement[bool]] = []
    if segment:
        where.append(Account.segment == segment)
    if health:
        where.append(Account.health == health)
    if owner and owner.strip():
        where.append(func.lower(Account.owner) == owner.strip().lower())
    if q and q.strip():
        where.append(Account.name.icontains(q.strip(), autoescape=True))

    total = session.scalar(select(func.count()).select_from(Account).where(*where)) or 0
    rows = session.scalars(select(Account).where(*where).order_by(Account.name, Account.id).limit(limit).offset(offset))
    return AccountPage(rows=list(rows), total=total)


def get_account(*, session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}")
    return account


def get_account_by_external_id(*, session: Session, external_id: str) -> Account:
    """The account with this external id (the first stored, when two sources share one)."""
    account = session.scalars(
        select(Account).where(Account.external_id == external_id).order_by(Account.id).limit(1)
    ).first()
    if account is None:
        raise NotFound(f"no account {external_id}")
    return account


def account_refs(*, session: Session, account_ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    """account id -> (external id, name): what a link to the account page needs."""
    ids = {i for i in account_ids if i is not None}
    if not ids:
        return {}
    q = select(Account.id, Account.external_id, Account.name).where(Account.id.in_(ids))
    return {i: (ext, name) for i, ext, name in session.execute(q)}


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
