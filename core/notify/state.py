"""The delivery state every face reads: the ``meta`` row ``slack_delivery`` (the last run, the last success, the
token's state, each channel's last success and last error) plus the deliveries counted by status and channel.
``delivery_status`` is what the Monitoring and Admin pages show; ``DeliveryCollector`` exports it on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.models import InsightDelivery, Meta, NotifyRoute

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["STATE_KEY", "ChannelStatus", "DeliveryCollector", "DeliveryStatus", "StateChanges", "delivery_status"]

STATE_KEY = "slack_delivery"
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


@dataclass
class StateChanges:
    """What one run (or one test post) learned, written to the meta row at its end in one transaction."""

    token_ok: bool | None = None  # True: Slack took the token; False: it refused it (``token_error`` says why)
    token_error: str | None = None
    channel_ok: set[str] = field(default_factory=set)
    channel_errors: dict[str, str] = field(default_factory=dict)
    ran: bool = False  # a delivery run (not a test post)

    def channel_failed(self, channel: str, error: str) -> None:
        self.channel_errors[channel] = error
        self.channel_ok.discard(channel)

    def channel_succeeded(self, channel: str) -> None:
        self.channel_ok.add(channel)
        self.channel_errors.pop(channel, None)
        self.token_ok, self.token_error = True, None

    def token_failed(self, error: str) -> None:
        self.token_ok, self.token_error = False, error


def save_state(*, session: Session, now: datetime, changes: StateChanges) -> None:
    """Merge ``changes`` into the meta row, locked (two runs finishing at once both land)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Meta).values(key=STATE_KEY, value={}, updated_at=now).on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.get(Meta, STATE_KEY, with_for_update=True, populate_existing=True)
    value: dict[str, Any] = dict(row.value) if row is not None else {}
    at = now.isoformat()
    if changes.ran:
        value["last_run_at"] = at
    if changes.token_ok is not None:
        value["token"] = {"ok": changes.token_ok, "error": changes.token_error, "at": at}
    channels: dict[str, Any] = {k: dict(v) for k, v in (value.get("channels") or {}).items()}
    for channel in changes.channel_ok:
        channels[channel] = {**channels.get(channel, {}), "last_success_at": at, "error": None, "error_at": None}
        value["last_success_at"] = at
    for channel, error in changes.channel_errors.items():
        channels[channel] = {**channels.get(channel, {}), "error": error, "error_at": at}
    value["channels"] = channels
    if row is not None:
        row.value = value


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    routes: int  # enabled routes to it
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int
    last_success_at: str | None
    error: str | None  # the last error, until a post to it succeeds
    error_at: str | None

    @property
    def failing(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class DeliveryStatus:
    """Slack delivery at a glance: the token, each channel, counts by status."""

    token_ok: bool | None  # None: never tried
    token_error: str | None
    last_run_at: str | None
    last_success_at: str | None
    counts: dict[str, int]
    channels: list[ChannelStatus]

    @property
    def failing_channels(self) -> list[str]:
        return [c.channel for c in self.channels if c.failing]

    @property
    def healthy(self) -> bool:
        return self.token_ok is not False and not self.failing_channels

    def describe(self) -> str:
        """One line for people."""
        if self.token_ok is False:
            return f"Slack refuses the bot token ({self.token_error}); {self.counts.get('pending', 0)} waiting"
        if self.failing_channels:
            errors = ", ".join(f"{c.channel}: {c.error}" for c in self.channels if c.failing)
            return f"failing channels ({errors}); {self.counts.get('pending', 0)} waiting"
        if self.last_run_at is None:
            return "no delivery run yet"
        return f"delivering: {self.counts.get('sent', 0)} sent, {self.counts.get('pending', 0)} waiting"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["healthy"] = self.healthy
        return out


def delivery_status(*, session: Session) -> DeliveryStatus:
    row = session.get(Meta, STATE_KEY)
    value: dict[str, Any] = row.value if row is not None else {}
    token = value.get("token") or {}
    known: dict[str, Any] = value.get("channels") or {}
    counts = {s: 0 for s in DELIVERY_STATUSES}
    per_channel: dict[str, dict[str, int]] = {}
    q = select(InsightDelivery.channel, InsightDelivery.status, func.count()).group_by(
        InsightDelivery.channel, InsightDelivery.status
    )
    for channel, status, count in session.execute(q):
        counts[status] = counts.get(status, 0) + count
        per_channel.setdefault(channel, {})[status] = count
    enabled = select(NotifyRoute.channel, func.count()).where(NotifyRoute.enabled.is_(True))
    routes = {channel: count for channel, count in session.execute(enabled.group_by(NotifyRoute.channel))}
    channels = []
    for channel in sorted(set(per_channel) | set(routes) | set(known)):
        n, state = per_channel.get(channel, {}), known.get(channel, {})
        channels.append(
            ChannelStatus(
                channel=channel,
                routes=routes.get(channel, 0),
                pending=n.get("pending", 0),
                sending=n.get("sending", 0),
                sent=n.get("sent", 0),
                failed=n.get("failed", 0),
                skipped=n.get("skipped", 0),
                last_success_at=state.get("last_success_at"),
                error=state.get("error"),
                error_at=state.get("error_at"),
            )
        )
    return DeliveryStatus(
        token_ok=token.get("ok"),
        token_error=token.get("error"),
        last_run_at=value.get("last_run_at"),
        last_success_at=value.get("last_success_at"),
        counts=counts,
        channels=channels,
    )


class DeliveryCollector(Collector):
    """``sophia_slack_deliveries{status}``, ``sophia_slack_delivery_failing{channel}`` (1 while a channel's last
    post failed) and ``sophia_slack_token_ok`` (absent until a delivery has tried the token), read from the
    database when scraped. Alert on ``sophia_slack_token_ok == 0`` or any failing channel with pending rows."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        with self.runtime.session() as session:
            status = delivery_status(session=session)
        deliveries = GaugeMetricFamily(
            "sophia_slack_deliveries", "Insight deliveries to Slack by status", labels=["status"]
        )
        for name, n in status.counts.items():
            deliveries.add_metric([name], n)
        failing = GaugeMetricFamily(
            "sophia_slack_delivery_failing", "1 while the channel's last Slack post failed", labels=["channel"]
        )
        for channel in status.channels:
            failing.add_metric([channel.channel], 1.0 if channel.failing else 0.0)
        token = GaugeMetricFamily("sophia_slack_token_ok", "1 when Slack took the bot token at the last attempt")
        if status.token_ok is not None:
            token.add_metric([], 1.0 if status.token_ok else 0.0)
        yield from (deliveries, failing, token)
