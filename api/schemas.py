"""What the API returns: one public schema per purpose. No table object leaves unfiltered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.auth.views import ApiKeyPublic, UserPublic, UsersPublic

__all__ = [  # the user and API-key views live in core (the Admin page shows the same ones)
    "AccountPublic",
    "ActionPublic",
    "AskPublic",
    "AccountsPublic",
    "ApiKeyPublic",
    "Health",
    "IdentityPublic",
    "InsightPublic",
    "InsightsPublic",
    "JobPublic",
    "JobsPublic",
    "SchedulerPublic",
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


# An insight is exactly ``core.insights.insight_dict`` (the shape `sophia insights list --json` prints too).
InsightPublic = dict[str, Any]


class InsightsPublic(BaseModel):
    items: list[InsightPublic]
    total: int


class JobPublic(BaseModel):
    """One job (``core.scheduling.JobStatus``); times are UTC ISO 8601."""

    id: str
    description: str
    interval_s: float
    paused: bool
    run_requested_at: datetime | None
    next_run_at: datetime | None
    last_status: Literal["running", "succeeded", "failed"] | None
    last_trigger: str | None
    last_started_at: datetime | None
    last_duration_s: float | None
    last_error: str | None
    last_result: dict[str, Any] | None
    last_host: str | None


class SchedulerPublic(BaseModel):
    active: bool
    holder: str | None  # <pid>@<host> of the process holding the scheduler's lease
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    heartbeat_age_s: float | None
    heartbeat_state: Literal["never", "fresh", "stale"]
    summary: str


class JobsPublic(BaseModel):
    items: list[JobPublic]
    scheduler: SchedulerPublic


# ---- Ask Sophia: exactly ``core.agents.ask.AskResult.as_json`` (what `sophia ask --json` prints) ------------


class AskCitation(BaseModel):
    doc_id: str | None  # the search document, when the record has one
    table: str
    external_id: str
    title: str
    url: str  # the record's page in Sophia


class AskToolCall(BaseModel):
    agent: str
    tool: str
    args: dict[str, Any]
    ms: float


class AskDissent(BaseModel):
    agent: str
    reason: str


class AskConsensus(BaseModel):
    verdict: str
    agree: int
    of: int
    dissents: list[AskDissent]


class AskAction(BaseModel):
    id: str
    tool: str
    args: dict[str, Any]
    status: Literal["proposed", "executing", "executed", "failed", "rejected"]


class AskUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class AskPublic(BaseModel):
    answer: str
    offline: bool  # answered by the offline engine (no language model)
    conversation_id: str
    citations: list[AskCitation]
    agents: list[str]
    tool_calls: list[AskToolCall]
    consensus: AskConsensus | None
    proposed_actions: list[AskAction]
    usage: AskUsage


class ActionPublic(AskAction):
    summary: str
    result: dict[str, Any]  # {"text", "data"} once executed, {"error"} when it failed
