"""Sending what is due, once. ``deliver_due`` plans (``planning``), recovers what a dead run left half-done, then
posts channel by channel:

1. **Claim** rows with a lease: one conditional UPDATE ``pending → sending`` (``lease_owner``, ``lease_expires_at``)
   that only one process can win, so two scheduler processes never post the same row.
2. **Mark the message** before posting: the rows get the message's ``batch`` key (committed), and the post carries
   it in its ``metadata`` (``event_type`` ``sophia_insight``, ``event_payload`` ``{"delivery_id", "batch"}``).
3. **Post**, then store ``message_ts``, ``sent`` and ``sent_at``.

A row found in ``sending`` past its lease (or whose holder process died) is reconciled: no batch key means it was
never posted (back to pending); with one, the channel's history (``conversations.history`` with
``include_all_metadata``) says whether the message landed (``sent`` with its ``ts``) or not (pending again). When
the history cannot be read (a missing ``channels:history`` scope, the channel gone) the row is ``failed`` with
``outcome unknown``: it is never re-posted blindly.

Failures: 429 waits ``Retry-After`` on the runtime's clock and tries again (bounded); a channel error
(``channel_not_found``, ``not_in_channel``, ``is_archived``) leaves that channel's rows pending with the error and
goes on with the other channels; a token error stops the run; nothing is lost: pending rows go out on a later run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from sqlalchemy import and_, or_, select, update

from core.db.engine import changed_rows
from core.db.models import Insight, InsightDelivery
from core.errors import BackendUnavailable, ConfigError, InvalidInput, RateLimited
from core.leases import holder_is_dead, new_owner
from core.notify.messages import Card, Links, Message, cards_for, digest_messages, insight_message, probe_message
from core.notify.planning import open_insights_condition, plan_deliveries
from core.notify.schedule import BusinessHours
from core.notify.slack import PostResult, call, make_client, post_message, resolve_token
from core.notify.state import StateChanges, save_state
from core.observability.logging import get_logger

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["EVENT_TYPE", "DeliveryReport", "deliver_due", "send_test"]

log = get_logger("notify")
EVENT_TYPE = "sophia_insight"
LEASE_TTL = timedelta(minutes=10)
POST_INTERVAL_S = 1.0  # Slack: about one message per second per channel
MAX_ATTEMPTS = 5  # Slack refused a message this often (an unlisted error): failed, shown, not retried forever
HISTORY_PAGES = 5
HISTORY_MARGIN = timedelta(minutes=5)
NO_TOKEN = "not configured: set SOPHIA_SLACK_BOT_TOKEN (or env:VARIABLE)"


@dataclass
class DeliveryReport:
    planned: int = 0  # deliveries planned by this run
    sent: int = 0  # deliveries posted (an insight to a channel)
    messages: int = 0  # messages posted
    digests: int = 0  # of which digests
    failed: int = 0  # deliveries failed by this run (rejected, or outcome unknown)
    skipped: int = 0  # insights resolved before their delivery went out
    reconciled: int = 0  # half-done deliveries found posted in the channel's history
    pending: int = 0  # deliveries waiting after this run (not due yet, or held back by an error)
    errors: dict[str, str] = field(default_factory=dict)  # "token" or a channel -> what went wrong

    def counts(self) -> dict[str, Any]:
        """`sophia notify deliver --json`."""
        return {
            "planned": self.planned,
            "sent": self.sent,
            "digests": self.digests,
            "failed": self.failed,
            "pending": self.pending,
            "errors": [f"{k}: {v}" for k, v in self.errors.items()],
            "messages": self.messages,
            "skipped": self.skipped,
            "reconciled": self.reconciled,
        }


class _Stop(Exception):
    """End the run (token refused, Slack unreachable or limiting us, an unknown outcome)."""


class _Run:
    def __init__(self, runtime: Runtime, client: WebClient | None, report: DeliveryReport) -> None:
        self.runtime, self.client, self.report = runtime, client, report
        self.clock = runtime.clock
        self.owner = new_owner()
        self.links = Links(runtime.settings.public_url)
        self.state = StateChanges(ran=True)
        self.last_post: dict[str, float] = {}

    def now(self) -> datetime:
        return self.clock.now()

    # ---- leases ------------------------------------------------------------------------------------------

    def claim(self, ids: Sequence[int]) -> list[int]:
        """Take pending rows (one conditional UPDATE); the ids this run got."""
        if not ids:
            return []
        now = self.now()
        with self.runtime.session() as s:
            s.execute(
                update(InsightDelivery)
                .where(InsightDelivery.id.in_(list(ids)), InsightDelivery.status == "pending")
                .values(status="sending", lease_owner=self.owner, lease_expires_at=now + LEASE_TTL, batch=None)
            )
            return list(s.scalars(self._mine(ids)))

    def _mine(self, ids: Iterable[int]) -> Any:
        return select(InsightDelivery.id).where(
            InsightDelivery.id.in_(list(ids)),
            InsightDelivery.status == "sending",
            InsightDelivery.lease_owner == self.owner,
        )

    def mark_batch(self, ids: Sequence[int], batch: str) -> list[int]:
        """Record the message's key on the rows (and renew their lease) before it is posted."""
        now = self.now()
        with self.runtime.session() as s:
            s.execute(
                update(InsightDelivery)
                .where(InsightDelivery.id.in_(list(ids)), InsightDelivery.lease_owner == self.owner)
                .values(batch=batch, lease_expires_at=now + LEASE_TTL)
            )
            return list(s.scalars(self._mine(ids)))

    def finish(self, ids: Sequence[int], **values: Any) -> int:
        """Set the rows' outcome and free their lease (only rows this run still holds)."""
        if not ids:
            return 0
        values = {"lease_owner": None, "lease_expires_at": None, **values}
        with self.runtime.session() as s:
            return changed_rows(
                s,
                update(InsightDelivery)
                .where(InsightDelivery.id.in_(list(ids)), InsightDelivery.lease_owner == self.owner)
                .values(**values),
            )

    # ---- posting -----------------------------------------------------------------------------------------

    def _pace(self, channel: str) -> None:
        last = self.last_post.get(channel)
        if last is not None:
            wait = POST_INTERVAL_S - (self.clock.monotonic() - last)
            if wait > 0:
                self.clock.sleep(wait)

    def post(self, channel: str, ids: list[int], message: Message) -> bool:
        """Post one message for the claimed rows ``ids``; True when it went out. Raises ``_Stop``."""
        batch = uuid.uuid4().hex[:16]
        ids = self.mark_batch(ids, batch)
        if not ids:
            return False  # lost the lease meanwhile: another run has these rows
        assert self.client is not None
        self._pace(channel)
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"delivery_id": ids[0], "batch": batch}}
        result = post_message(self.client, self.clock, channel=channel, message=message, metadata=metadata)
        self.last_post[channel] = self.clock.monotonic()
        return self.settle(channel, ids, result)

    def settle(self, channel: str, ids: list[int], result: PostResult) -> bool:
        now = self.now()
        incr = InsightDelivery.attempts + 1
        if result.ok:
            self.finish(ids, status="sent", message_ts=result.ts, sent_at=now, error=None, attempts=incr)
            self.state.channel_succeeded(channel)
            self.report.sent += len(ids)
            self.report.messages += 1
            return True
        error = result.error or result.kind
        log.warning("slack post failed", channel=channel, kind=result.kind, error=error, deliveries=len(ids))
        if result.kind == "channel":
            self.finish(ids, status="pending", error=error)
            self.state.channel_failed(channel, error)
            self.report.errors[channel] = error
            return False
        if result.kind == "rejected":
            self.finish(ids, status="failed", error=error, attempts=incr)
            self.report.failed += len(ids)
            self.report.errors[channel] = error
            return False
        if result.kind == "refused":
            with self.runtime.session() as s:
                worn = list(
                    s.scalars(
                        select(InsightDelivery.id).where(
                            InsightDelivery.id.in_(ids), InsightDelivery.attempts + 1 >= MAX_ATTEMPTS
                        )
                    )
                )
            self.finish(worn, status="failed", error=f"{error} ({MAX_ATTEMPTS} attempts)", attempts=incr)
            self.finish([i for i in ids if i not in worn], status="pending", error=error, attempts=incr)
            self.report.failed += len(worn)
            self.state.channel_failed(channel, error)
            self.report.errors[channel] = error
            return False
        if result.kind == "unknown":
            # the post may have landed: keep the rows "sending" with their batch key, lease expired, for the
            # reconciliation of the next run; never post them again blindly
            with self.runtime.session() as s:
                s.execute(
                    update(InsightDelivery)
                    .where(InsightDelivery.id.in_(ids), InsightDelivery.lease_owner == self.owner)
                    .values(lease_expires_at=now, error=f"outcome unknown: {error}", attempts=incr)
                )
            self.report.errors[channel] = f"outcome unknown: {error}"
            raise _Stop(error)
        self.finish(ids, status="pending", error=error)  # token, rate_limited, unreachable
        if result.kind == "token":
            self.state.token_failed(error)
            self.report.errors["token"] = error
        else:
            self.report.errors["slack"] = error
        raise _Stop(error)

    # ---- one channel -------------------------------------------------------------------------------------

    def due(self) -> dict[str, list[tuple[int, int, str]]]:
        """Due pending rows of open insights: channel -> [(delivery id, insight id, mode)]."""
        now = self.now()
        q = (
            select(InsightDelivery.channel, InsightDelivery.id, InsightDelivery.insight_id, InsightDelivery.mode)
            .join(Insight, Insight.id == InsightDelivery.insight_id)
            .where(InsightDelivery.status == "pending", InsightDelivery.due_at <= now, open_insights_condition(now))
            .order_by(InsightDelivery.channel, InsightDelivery.due_at, InsightDelivery.id)
        )
        out: dict[str, list[tuple[int, int, str]]] = {}
        with self.runtime.session() as s:
            for channel, delivery_id, insight_id, mode in s.execute(q):
                out.setdefault(channel, []).append((delivery_id, insight_id, mode))
        return out

    def cards(self, insight_ids: Iterable[int]) -> dict[int, Card]:
        with self.runtime.session() as s:
            return cards_for(s, list(insight_ids))

    def channel(self, channel: str, rows: list[tuple[int, int, str]]) -> None:
        insight_of = {d: i for d, i, _ in rows}
        cards = self.cards(insight_of.values())
        for delivery_id, insight_id, mode in rows:
            if mode != "immediate":
                continue
            got = self.claim([delivery_id])
            if got and not self.post(channel, got, insight_message(cards[insight_id], links=self.links)):
                return  # this channel fails: its rows stay pending, the other channels go on
        digest = [d for d, _, mode in rows if mode != "immediate"]
        got = self.claim(digest)
        if not got:
            return
        by_insight = {insight_of[d]: d for d in got}
        messages = digest_messages([cards[insight_of[d]] for d in got], links=self.links)
        for n, message in enumerate(messages):
            ids = [by_insight[i] for i in message.insight_ids]
            if self.post(channel, ids, message):
                self.report.digests += 1
                continue
            rest = [by_insight[i] for m in messages[n + 1 :] for i in m.insight_ids]
            self.finish(rest, status="pending")
            return

    # ---- recovering what a dead run left -----------------------------------------------------------------

    def recover(self) -> None:
        """Rows left ``sending`` by a run that died or stalled past its lease: reconcile them (module notes)."""
        now = self.now()
        with self.runtime.session() as s:
            stale = s.execute(
                select(InsightDelivery.id, InsightDelivery.lease_owner, InsightDelivery.lease_expires_at).where(
                    InsightDelivery.status == "sending"
                )
            ).all()
        takeover: list[int] = []
        for delivery_id, owner, expires in stale:
            if expires is None or expires <= now or holder_is_dead(owner):
                with self.runtime.session() as s:
                    took = changed_rows(
                        s,
                        update(InsightDelivery)
                        .where(
                            InsightDelivery.id == delivery_id,
                            InsightDelivery.status == "sending",
                            or_(InsightDelivery.lease_owner.is_(None), InsightDelivery.lease_owner == owner),
                            or_(
                                InsightDelivery.lease_expires_at.is_(None), InsightDelivery.lease_expires_at == expires
                            ),
                        )
                        .values(lease_owner=self.owner, lease_expires_at=now + LEASE_TTL),
                    )
                if took:
                    takeover.append(delivery_id)
        if not takeover:
            return
        with self.runtime.session() as s:
            rows = s.execute(
                select(InsightDelivery.id, InsightDelivery.channel, InsightDelivery.batch, InsightDelivery.error).where(
                    InsightDelivery.id.in_(takeover)
                )
            ).all()
        never = [r.id for r in rows if r.batch is None]
        self.finish(never, status="pending")  # claimed, never marked: never posted
        batches: dict[tuple[str, str], list[int]] = {}
        for r in rows:
            if r.batch is not None:
                batches.setdefault((r.channel, r.batch), []).append(r.id)
        for (channel, batch), ids in batches.items():
            self.reconcile(channel, batch, ids, since=now - LEASE_TTL - HISTORY_MARGIN)

    def reconcile(self, channel: str, batch: str, ids: list[int], *, since: datetime) -> None:
        unknown = "outcome unknown: the message may have been posted"
        if self.client is None:
            self.finish(ids, status="sending", lease_expires_at=self.now())  # wait for a token to look
            return
        found, result = self._find_in_history(channel, batch, since)
        if found is not None:
            self.finish(ids, status="sent", message_ts=found, sent_at=self.now(), error=None)
            self.report.reconciled += len(ids)
            self.report.sent += len(ids)
            return
        if result.ok:  # read the history since the lease began: it is not there, so it was never posted
            self.finish(ids, status="pending", batch=None, error="not found in the channel's history: sending again")
            return
        if result.kind in ("token", "rate_limited", "unreachable", "unknown") and result.error != "missing_scope":
            self.finish(ids, status="sending", lease_expires_at=self.now())  # look again on a later run
            if result.kind == "token":
                self.state.token_failed(result.error or "token")
                self.report.errors["token"] = result.error or "token"
            raise _Stop(result.error)
        self.finish(ids, status="failed", error=f"{unknown} (the channel's history: {result.error})")
        self.report.failed += len(ids)

    def _find_in_history(self, channel: str, batch: str, since: datetime) -> tuple[str | None, PostResult]:
        assert self.client is not None
        cursor: str | None = None
        result = PostResult("ok")
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "oldest": f"{since.timestamp():.6f}", "limit": 200}
            kwargs["include_all_metadata"] = True
            if cursor:
                kwargs["cursor"] = cursor
            result, data = call(self.client, self.clock, "conversations_history", **kwargs)
            if not result.ok:
                return None, result
            for message in data.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("batch") == batch:
                    return str(message.get("ts")), result
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None, result
        return None, PostResult("refused", error=f"more than {HISTORY_PAGES} pages of history to look through")

    # ---- the run -----------------------------------------------------------------------------------------

    def skip_closed(self) -> None:
        """Pending rows whose insight was resolved before it went out: skipped (shown, never posted)."""
        with self.runtime.session() as s:
            resolved = select(Insight.id).where(Insight.status == "resolved")
            self.report.skipped += changed_rows(
                s,
                update(InsightDelivery)
                .where(InsightDelivery.status == "pending", InsightDelivery.insight_id.in_(resolved))
                .values(status="skipped", error="resolved before it was delivered"),
            )

    def count_pending(self) -> int:
        with self.runtime.session() as s:
            return len(
                s.scalars(
                    select(InsightDelivery.id).where(
                        or_(
                            InsightDelivery.status == "pending",
                            and_(InsightDelivery.status == "sending", InsightDelivery.lease_owner != self.owner),
                        )
                    )
                ).all()
            )


def deliver_due(*, runtime: Runtime) -> DeliveryReport:
    """Plan the deliveries of open insights, then post what is due (the job and `sophia notify deliver`)."""
    report = DeliveryReport()
    settings = runtime.settings
    hours = BusinessHours.from_settings(settings)
    with runtime.session() as s:
        report.planned = plan_deliveries(session=s, now=runtime.clock.now(), hours=hours)
    token = resolve_token(settings)
    run = _Run(runtime, make_client(settings, token) if token else None, report)
    try:
        run.skip_closed()
        if token is None:
            report.errors["token"] = NO_TOKEN
            run.state.token_failed(NO_TOKEN)
            run.recover()
        else:
            run.recover()
            for channel, rows in run.due().items():
                run.channel(channel, rows)
    except _Stop:
        pass
    finally:
        with runtime.session() as s:
            save_state(session=s, now=runtime.clock.now(), changes=run.state)
    report.pending = run.count_pending()
    log.info("slack delivery", **report.counts())
    return report


def send_test(*, runtime: Runtime, channel: str) -> str:
    """Post a test message to ``channel``; its ``ts``. Raises a clear error when Slack refuses it."""
    channel = (channel or "").strip()
    if not channel:
        raise InvalidInput("channel: give a Slack channel id (C0123…) or name")
    token = resolve_token(runtime.settings)
    if token is None:
        raise ConfigError(f"SOPHIA_SLACK_BOT_TOKEN: {NO_TOKEN.removeprefix('not configured: ')}")
    client = make_client(runtime.settings, token)
    message = probe_message(links=Links(runtime.settings.public_url), channel=channel)
    result = post_message(client, runtime.clock, channel=channel, message=message)
    state = StateChanges()
    if result.ok:
        state.channel_succeeded(channel)
    elif result.kind == "channel":
        state.channel_failed(channel, result.error or "channel")
    elif result.kind == "token":
        state.token_failed(result.error or "token")
    with runtime.session() as s:
        save_state(session=s, now=runtime.clock.now(), changes=state)
    if result.ok and result.ts:
        return result.ts
    error = result.error or result.kind
    if result.kind == "token":
        raise ConfigError(f"SOPHIA_SLACK_BOT_TOKEN: Slack refused the token ({error})")
    if result.kind == "channel":
        raise InvalidInput(f"channel {channel}: {error} (invite the Sophia app to it, or check the id)")
    if result.kind == "rate_limited":
        raise RateLimited(f"Slack is limiting posts: {error}", retry_after_s=60)
    raise BackendUnavailable(f"Slack did not take the test message: {error}")
