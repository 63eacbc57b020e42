"""What the API returns: one public schema per purpose. No table object leaves unfiltered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from core.auth.views import ApiKeyPublic, UserPublic, UsersPublic

__all__ = [  # the user and API-key views live in core (the Admin page shows the same ones)
    "AccountPublic",
    "AccountsPublic",
    "ApiKeyPublic",
    "Health",
    "IdentityPublic",
    "Readiness",
    "Token",
    "UserPublic",
    "UsersPublic",
]


class _FromRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AccountPublic(_FromRow):
    id: int
    name: str
    segment: str | None
    source: str
    external_id: str
    updated_at: datetime  # UTC, ISO 8601
    lifecycle_stage: str
    units_managed: int | None
    arr: float
    health: str | None
    health_score: int | None
    owner: str | None
    domain: str | None
    customer_since: date | None
    city: str | None
    state: str | None


class AccountsPublic(BaseModel):
    items: list[AccountPublic]
    total: int


class IdentityPublic(_FromRow):
    username: str
    role: str
    via: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]  # check -> "ok", "not_configured" or what failed
    scheduler_heartbeat_age_s: float | None = None  # seconds since the scheduler's last heartbeat (None: never)
