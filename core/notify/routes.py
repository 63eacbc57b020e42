"""Where insights go in Slack: routes an admin adds, lists, enables, disables and removes (the CLI and the Admin
page call these). Each route: a channel, one insight type or all, a minimum severity, and ``digest_minutes``
(0: each insight at once; 15/60/240: gathered into a digest inside business hours). Every change is audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.db.models import SEVERITIES, NotifyRoute
from core.errors import InvalidInput, NotFound

__all__ = [
    "DIGEST_CHOICES",
    "RouteView",
    "add_route",
    "insight_types",
    "list_routes",
    "remove_route",
    "set_route_enabled",
]

DIGEST_CHOICES = (0, 15, 60, 240)
CHANNEL_MAX = 128


@dataclass(frozen=True)
class RouteView:
    """A route as every face shows it (``sophia notify route list --json`` items)."""

    id: int
    channel: str
    type: str | None  # None: every type
    min_severity: str
    digest_minutes: int  # 0: at once
    enabled: bool
    created_at: str
    created_by: str | None

    @classmethod
    def of(cls, row: NotifyRoute) -> RouteView:
        return cls(
            id=row.id,
            channel=row.channel,
            type=row.type,
            min_severity=row.min_severity,
            digest_minutes=row.digest_minutes,
            enabled=row.enabled,
            created_at=row.created_at.isoformat() if isinstance(row.created_at, datetime) else str(row.created_at),
            created_by=row.created_by,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def describe(self) -> str:
        what = self.type or "every type"
        when = "at once" if self.digest_minutes == 0 else f"digest every {self.digest_minutes} min"
        return f"{what}, {self.min_severity} and worse → {self.channel} ({when}; critical always at once)"


def insight_types() -> list[str]:
    """The insight types a route may name: the registered detectors."""
    from core.insights.detectors import all_detectors

    return sorted(all_detectors())


def _check(channel: str, type_: str | None, min_severity: str, digest_minutes: int) -> str:
    channel = (channel or "").strip()
    if not channel:
        raise InvalidInput("channel: give a Slack channel id (C0123…) or name")
    if len(channel) > CHANNEL_MAX or any(c.isspace() for c in channel):
        raise InvalidInput(f"channel {channel[:40]!r}: a channel id or name, without spaces, {CHANNEL_MAX} at most")
    if type_ is not None:
        known = insight_types()
        if type_ not in known:
            raise InvalidInput(f"type {type_!r}: expected one of {', '.join(known)} (or none for every type)")
    if min_severity not in SEVERITIES:
        raise InvalidInput(f"min severity {min_severity!r}: expected one of {', '.join(SEVERITIES)}")
    if digest_minutes not in DIGEST_CHOICES:
        raise InvalidInput(f"digest {digest_minutes!r}: expected one of {', '.join(map(str, DIGEST_CHOICES))}")
    return channel


def add_route(
    *,
    session: Session,
    actor: str,
    channel: str,
    type: str | None = None,  # noqa: A002 - the insight type, as the CLI names it
    min_severity: str = "low",
    digest_minutes: int = 60,
) -> RouteView:
    channel = _check(channel, type or None, min_severity, digest_minutes)
    row = NotifyRoute(
        channel=channel,
        type=type or None,
        min_severity=min_severity,
        digest_minutes=digest_minutes,
        enabled=True,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    view = RouteView.of(row)
    details = {k: v for k, v in view.as_dict().items() if k in ("channel", "type", "min_severity", "digest_minutes")}
    audit(session=session, actor=actor, action="notify.route.add", target=str(row.id), details=details)
    return view


def list_routes(*, session: Session, enabled_only: bool = False) -> list[RouteView]:
    q = select(NotifyRoute).order_by(NotifyRoute.id)
    if enabled_only:
        q = q.where(NotifyRoute.enabled.is_(True))
    return [RouteView.of(r) for r in session.scalars(q)]


def _get(session: Session, route_id: int) -> NotifyRoute:
    row = session.get(NotifyRoute, route_id)
    if row is None:
        raise NotFound(f"no notification route {route_id}")
    return row


def remove_route(*, session: Session, actor: str, route_id: int) -> RouteView:
    """Delete a route. Deliveries already planned through it keep going out (they name their channel)."""
    view = RouteView.of(_get(session, route_id))
    session.execute(delete(NotifyRoute).where(NotifyRoute.id == route_id))
    audit(session=session, actor=actor, action="notify.route.remove", target=str(route_id), details=view.as_dict())
    return view


def set_route_enabled(*, session: Session, actor: str, route_id: int, enabled: bool) -> RouteView:
    row = _get(session, route_id)
    if row.enabled != enabled:
        row.enabled = enabled
        action = "notify.route.enable" if enabled else "notify.route.disable"
        audit(session=session, actor=actor, action=action, target=str(route_id))
    return RouteView.of(row)
