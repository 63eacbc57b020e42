"""Planning: which insight goes to which channel, and when. For each open insight (new or acknowledged, not
snoozed) and each enabled route it matches (its type or every type, at least its minimum severity), one
``InsightDelivery`` row per (insight, channel), never two (a unique key, inserted with ON CONFLICT DO NOTHING so
two processes planning at once agree). Critical insights and routes with ``digest_minutes`` 0 are due at once;
the rest are due at the route's next digest slot inside business hours (``schedule.next_digest_slot``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.models import SEVERITIES, InsightDelivery, NotifyRoute
from core.db.models import Insight as InsightRow
from core.notify.routes import RouteView
from core.notify.schedule import BusinessHours, next_digest_slot

__all__ = ["open_insights_condition", "plan_deliveries", "route_matches"]


def open_insights_condition(now: datetime) -> Any:
    """New or acknowledged, and not snoozed at ``now`` (``core.insights.service.effective_status``)."""
    not_snoozed = or_(InsightRow.snoozed_until.is_(None), InsightRow.snoozed_until <= now)
    return and_(InsightRow.status.in_(("new", "acknowledged")), not_snoozed)


def route_matches(route: RouteView | NotifyRoute, *, type_: str, severity: str) -> bool:
    if route.type is not None and route.type != type_:
        return False
    return SEVERITIES.index(severity) <= SEVERITIES.index(route.min_severity)


def _due(route: NotifyRoute, severity: str, now: datetime, hours: BusinessHours) -> tuple[str, datetime]:
    if severity == "critical" or route.digest_minutes == 0:
        return "immediate", now
    return "digest", next_digest_slot(now, every_minutes=route.digest_minutes, hours=hours)


def _insert_for(session: Session) -> Callable[..., Any]:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def plan_deliveries(*, session: Session, now: datetime, hours: BusinessHours) -> int:
    """Write the deliveries not planned yet; returns how many were written."""
    routes = list(session.scalars(select(NotifyRoute).where(NotifyRoute.enabled.is_(True)).order_by(NotifyRoute.id)))
    if not routes:
        return 0
    insights = session.execute(
        select(InsightRow.id, InsightRow.type, InsightRow.severity).where(open_insights_condition(now))
    ).all()
    if not insights:
        return 0
    planned = {
        (i, c)
        for i, c in session.execute(
            select(InsightDelivery.insight_id, InsightDelivery.channel).where(
                InsightDelivery.insight_id.in_(select(InsightRow.id).where(open_insights_condition(now)))
            )
        )
    }
    wanted: dict[tuple[int, str], dict[str, Any]] = {}
    for insight_id, type_, severity in insights:
        for route in routes:
            key = (insight_id, route.channel)
            if key in planned or not route_matches(route, type_=type_, severity=severity):
                continue
            mode, due_at = _due(route, severity, now, hours)
            best = wanted.get(key)
            if best is None or due_at < best["due_at"]:  # two routes to one channel: the sooner wins
                wanted[key] = {
                    "insight_id": insight_id,
                    "channel": route.channel,
                    "route_id": route.id,
                    "mode": mode,
                    "status": "pending",
                    "due_at": due_at,
                    "attempts": 0,
                    "created_at": now,
                }
    if not wanted:
        return 0
    insert = _insert_for(session)
    written = 0
    rows = list(wanted.values())
    for start in range(0, len(rows), 500):
        stmt = insert(InsightDelivery).on_conflict_do_nothing(index_elements=["insight_id", "channel"])
        result = session.execute(stmt.returning(InsightDelivery.id), rows[start : start + 500])
        written += len(result.all())
    return written
