"""What a face shows of users and API keys: one filtered view per purpose, never the table row (no password
or key hash leaves). The API returns these (``api/schemas.py`` re-exports them) and the Admin page lists them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from core.auth.service import list_api_keys, list_users
from core.db.models import ApiKey


class _FromRow(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class UserPublic(_FromRow):
    """A user as anyone allowed to list users sees them."""

    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserDetail(UserPublic):
    """A user as an admin manages them (the Admin page): with the email address."""

    email: str | None


class UsersPublic(BaseModel):
    items: list[UserPublic]
    total: int


class ApiKeyPublic(BaseModel):
    """An API key without its hash: its public id, whose it is, its label and its life."""

    model_config = ConfigDict(frozen=True)

    id: str
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: ApiKey) -> ApiKeyPublic:
        return cls(
            id=row.id,
            username=row.user.username,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


def user_details(*, session: Session) -> list[UserDetail]:
    """Every user, by username, as the Admin page shows them."""
    return [UserDetail.model_validate(u) for u in list_users(session=session)]


def api_key_views(*, session: Session, username: str | None = None) -> list[ApiKeyPublic]:
    """Every API key (or one user's), newest first, without hashes."""
    return [ApiKeyPublic.from_row(k) for k in list_api_keys(session=session, username=username)]
