"""Insights: the feed with its filters (any signed-in role, within what the role may see), one insight, and
acknowledge / resolve (analyst and up; audited by ``core.insights.service``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from api.deps import CurrentIdentity, Offset, RowId, RuntimeDep, SessionDep, require_role
from api.schemas import InsightPublic, InsightsPublic
from core import insights
from core.insights.service import MAX_LIMIT

router = APIRouter(prefix="/api/v1/insights", tags=["insights"], dependencies=[Depends(require_role("viewer"))])
Status = Literal["new", "acknowledged", "resolved", "snoozed", "open"]
Severity = Literal["critical", "high", "medium", "low"]
Sort = Literal["severity", "newest", "score"]
NOT_FOUND = {404: {"description": "no such insight (or not one the caller's role may see)"}}


class ResolveBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="why (kept in the audit log)")


@router.get("")
def list_insights(
    runtime: RuntimeDep,
    session: SessionDep,
    identity: CurrentIdentity,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Offset = 0,
    type: Annotated[str | None, Query(max_length=64, description="only this insight type")] = None,  # noqa: A002
    status: Annotated[Status | None, Query(description="open: new or acknowledged, not snoozed")] = None,
    account: Annotated[str | None, Query(max_length=191, description="the account's external id")] = None,
    severity: Annotated[Severity | None, Query(description="this severity or worse")] = None,
    owner: Annotated[str | None, Query(max_length=255, description="owner's email")] = None,
    sort: Annotated[Sort, Query(description="severity: most severe, newest first")] = "severity",
) -> InsightsPublic:
    now = runtime.clock.now()
    filters = insights.InsightFilters(type=type, status=status, account=account, severity=severity, owner=owner)
    rows, total = insights.list_insights(
        session=session, identity=identity, filters=filters, now=now, limit=limit, offset=offset, sort=sort
    )
    return InsightsPublic(items=[insights.insight_dict(r, now=now) for r in rows], total=total)


@router.get("/{insight_id}", responses=NOT_FOUND)
def read_insight(
    insight_id: RowId, runtime: RuntimeDep, session: SessionDep, identity: CurrentIdentity
) -> InsightPublic:
    row = insights.get_insight(session=session, identity=identity, insight_id=insight_id)
    return insights.insight_dict(row, now=runtime.clock.now())


@router.post(
    "/{insight_id}/acknowledge",
    dependencies=[Depends(require_role("analyst"))],
    responses={**NOT_FOUND, 409: {"description": "already resolved"}},
)
def acknowledge(
    insight_id: RowId, runtime: RuntimeDep, session: SessionDep, identity: CurrentIdentity
) -> InsightPublic:
    now = runtime.clock.now()
    row = insights.acknowledge(session=session, identity=identity, insight_id=insight_id, now=now)
    return insights.insight_dict(row, now=now)


@router.post("/{insight_id}/resolve", dependencies=[Depends(require_role("analyst"))], responses=NOT_FOUND)
def resolve(
    insight_id: RowId,
    runtime: RuntimeDep,
    session: SessionDep,
    identity: CurrentIdentity,
    body: Annotated[ResolveBody | None, Body()] = None,
) -> InsightPublic:
    now = runtime.clock.now()
    note = body.note if body else None
    row = insights.resolve(session=session, identity=identity, insight_id=insight_id, now=now, note=note)
    return insights.insight_dict(row, now=now)
