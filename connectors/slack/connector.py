"""The Slack connector: messages of the channels the token can read, with their threads.

Channels (``conversations.list``) and users (``users.list``) are read whole on each pass: Slack has no
"modified since" filter for them (slack.md 4) and we keep no table of them; they give messages their channel
and author names.

Incremental reading (slack.md 4). A *pass* lists the channels, then reads each channel's history newer than
that channel's mark (the newest ``ts`` read before) minus a look-back (editing a message keeps its ``ts``, so
edits and replies are only seen again while their message is inside the look-back; Airbyte does the same).
History comes newest first; the pass pages through it by keyset (``latest`` = the oldest ``ts`` committed,
exclusive), so the checkpoint holds ``ts`` values only, never a Slack cursor. Every thread parent read
(``reply_count > 0``) has its replies read whole (``conversations.replies``) in the same page. When a channel
is done its mark moves to the newest ``ts`` seen.

Threads (slack.md 4). History lists top-level messages only, and only newer than the mark: a new reply to a
thread whose parent is older is seen nowhere in it. So each channel's mark also keeps the threads active
within ``thread_lookback_days`` (parent ``ts`` -> the latest reply read), and after the channel's history the
pass re-checks those it did not just read whole: ``conversations.replies`` with ``oldest`` = that latest
reply, which returns only what came after (with the parent, whose ``latest_reply`` and ``reply_count`` are
then stored too). One call per watched thread per pass; a thread quiet for longer than the window is no
longer watched. Not covered: the first reply to a message older than ``lookback_hours`` (it was no thread
when last read).

Deletes (slack.md 6): Slack signals them to pollers only by a ``tombstone`` placeholder for a deleted thread
parent that still has replies; that message is deleted here. Other deleted messages simply vanish, so each
pass remembers the messages (and their thread replies) it saw in its look-back zone, the part of the window
the next pass reads again; one remembered but not listed again is deleted. Messages deleted after they left
the look-back are not noticed (the Events API's ``message_deleted``, which would tell, needs a public endpoint
or Socket Mode and is out of scope for a polling sync). With ``lookback_hours=0`` only tombstones delete.
"""

from __future__ import annotations

import time as clock
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import Checkpoint, Connector, ConnectorConfig, Page, StreamSpec
from connectors.slack import mapping
from connectors.slack.client import DEFAULT_BASE_URL, LIST_PAGE, PAGE_MAX, SlackClient, next_cursor
from connectors.slack.mapping import MappingContext, ts_key, valid_ts

log = structlog.get_logger(__name__)

MESSAGES = StreamSpec("messages", "slack_messages", "Slack channel messages with their thread replies")
RECENT_MAX = 5_000  # messages remembered per channel for deletes (the cursor stays small); the rest go unseen
MICRO = Decimal("0.000001")
DEFAULT_THREAD_LOOKBACK_DAYS = 30.0
THREADS_MAX = 2_000  # active threads remembered per channel (the most recently active); the rest go unwatched
THREAD_CHECKS_PER_PAGE = 20  # threads re-checked per committed page
_TYPE = "(public_channel|private_channel|mpim|im)"  # conversations.list `types` (slack.md 3.1)


class SlackConfig(ConnectorConfig):
    base_url: str = DEFAULT_BASE_URL
    token: SecretStr  # a bot (xoxb-) or user (xoxp-) token
    channel_types: str = Field("public_channel,private_channel", pattern=rf"^{_TYPE}(,{_TYPE})*$")
    channels: list[str] = Field(default_factory=list)  # only these (names or ids); empty: every readable one
    member_only: bool = True  # a bot token reads only channels it is a member of (slack.md 1)
    start_date: date | None = None  # the first pass reads history from this day; None: all of it
    lookback_hours: float = Field(24.0, ge=0, le=24 * 90)
    # threads whose latest reply is this recent are checked for new replies on each pass (0: never)
    thread_lookback_days: float = Field(DEFAULT_THREAD_LOOKBACK_DAYS, ge=0, le=365)
    page_size: int = Field(200, ge=1, le=PAGE_MAX)
    tier2_per_minute: int = Field(20, ge=1, le=10_000)  # conversations.list, users.list
    tier3_per_minute: int = Field(50, ge=1, le=10_000)  # conversations.history, conversations.replies
    workspace_url: str | None = Field(None, pattern=r"^https://[\w.-]+/?$")  # https://acme.slack.com, for permalinks


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelRef(_Frozen):
    id: str
    name: str


class ChannelMark(_Frozen):
    newest: str | None = None  # the newest ts read in this channel: the next pass starts there, minus look-back
    recent: list[str] = Field(default_factory=list)  # ts the last pass saw in its look-back zone
    threads: dict[str, str] = Field(default_factory=dict)  # active thread parent ts -> the latest reply ts read


class MessagesCheckpoint(Checkpoint):
    marks: dict[str, ChannelMark] = Field(default_factory=dict)  # by channel id
    channels: list[ChannelRef] | None = None  # the pass in progress; None: no pass in progress
    index: int = 0  # the channel being read
    before: str | None = None  # keyset: the oldest ts committed in that channel this pass (exclusive bound)
    newest: str | None = None  # that channel's newest ts, as far as this pass knows
    seen: list[str] = Field(default_factory=list)  # of the channel's remembered ts, those listed again
    zone: list[str] = Field(default_factory=list)  # ts this pass saw in the channel's new look-back zone
    threads: dict[str, str] = Field(default_factory=dict)  # threads this pass read in the channel: parent -> latest
    checked: list[str] = Field(default_factory=list)  # of the channel's watched threads, those re-checked (or gone)
    phase: Literal["history", "threads"] = "history"  # the channel's history, then its watched threads


@dataclass(frozen=True)
class Thread:
    parent: dict[str, Any] | None  # the parent as Slack shows it now (its latest_reply, reply_count)
    replies: dict[str, dict[str, Any]]  # by ts, channel housekeeping left out


class SlackConnector(Connector):
    kind = "slack"
    label = "Slack"
    source = mapping.SOURCE
    config_model = SlackConfig

    def __init__(self, config: SlackConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: SlackConfig = config
        self.client = SlackClient(
            config=config,
            token=config.token.get_secret_value(),
            name=name,
            tier2_per_minute=config.tier2_per_minute,
            tier3_per_minute=config.tier3_per_minute,
        )
        self._users: dict[str, str] | None = None
        self._channel_names: dict[str, str] = {}

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [MESSAGES]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        cp = MessagesCheckpoint.load(cursor, stream=stream.name) or MessagesCheckpoint()
        if cp.channels is None:
            cp = self._start_pass(cp)
        assert cp.channels is not None
        self._channel_names = {c.id: c.name for c in cp.channels}
        self._load_users()
        if cp.index >= len(cp.channels):
            return Page(records=[], next_cursor=MessagesCheckpoint(marks=cp.marks), done=True)
        ch = cp.channels[cp.index]
        if cp.phase == "threads":
            return self._thread_page(cp, ch, records=[], deletes=[])
        return self._channel_page(cp, ch)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return mapping.map_message(record, MappingContext(users=self._users or {}, channels=self._channel_names))

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        return mapping.external_id(record)

    def check(self) -> str:
        who = self.client.auth_test()
        self.client.channels_page(types=self.config.channel_types, cursor=None, limit=1)
        self.client.users_page(cursor=None, limit=1)
        user, team = who.get("user") or who.get("user_id") or "?", who.get("team") or who.get("team_id") or "?"
        return f"Slack at {self.config.base_url} accepted the token of {user} in {team}; it can list channels and users"

    def close(self) -> None:
        self.client.close()

    # ---- a pass and its channels -------------------------------------------------------------------

    def _start_pass(self, cp: MessagesCheckpoint) -> MessagesCheckpoint:
        wanted = {c.lstrip("#") for c in self.config.channels}
        found: list[ChannelRef] = []
        cursor: str | None = None
        while True:
            data = self.client.channels_page(types=self.config.channel_types, cursor=cursor, limit=LIST_PAGE)
            for ch in data.get("channels") or []:
                if not isinstance(ch, Mapping) or not isinstance(ch.get("id"), str) or ch.get("is_archived"):
                    continue
                if self.config.member_only and ch.get("is_member") is False:
                    continue
                name = ch.get("name") if isinstance(ch.get("name"), str) else ch["id"]
                if wanted and ch["id"] not in wanted and name not in wanted:
                    continue
                found.append(ChannelRef(id=ch["id"], name=name))
            cursor = next_cursor(data)
            if not cursor:
                break
        unique = {c.id: c for c in found}
        return MessagesCheckpoint(marks=cp.marks, channels=sorted(unique.values(), key=lambda c: (c.name, c.id)))

    def _oldest(self, mark: ChannelMark) -> str | None:
        if mark.newest is not None:
            start = ts_key(mark.newest) - Decimal(str(self.config.lookback_hours * 3600))
            return str(start.quantize(MICRO)) if start > 0 else None
        if self.config.start_date is not None:
            return f"{int(datetime.combine(self.config.start_date, time(0), tzinfo=UTC).timestamp())}.000000"
        return None

    def _channel_page(self, cp: MessagesCheckpoint, ch: ChannelRef) -> Page:
        mark = cp.marks.get(ch.id, ChannelMark())
        data = self._history(ch.id, oldest=self._oldest(mark), latest=cp.before)
        if data is None:  # not_in_channel, channel_not_found, is_archived: skip it, keep its mark
            log.warning("slack.channel_skipped", connector=self.name, channel=ch.name)
            return self._next_channel(cp, ch, mark, records=[], deletes=[], skipped=True)
        messages = [msg for msg in data.get("messages") or [] if isinstance(msg, Mapping)]
        stamps = [t for t in (valid_ts(msg.get("ts")) for msg in messages) if t]
        newest = _newest(cp.newest, mark.newest, *stamps)
        zone_start = ts_key(newest) - Decimal(str(self.config.lookback_hours * 3600)) if newest else None
        recent = set(mark.recent)
        seen, zone = set(cp.seen), set(cp.zone)

        def note(ts: str, *, in_zone: bool) -> None:
            if ts in recent:
                seen.add(ts)
            if in_zone and self.config.lookback_hours and len(zone) < RECENT_MAX:
                zone.add(ts)  # any part of the zone is safe to remember: all of it is read again

        records: dict[str, dict[str, Any]] = {}
        deletes: list[str] = []
        threads = dict(cp.threads)
        for msg in messages:
            item = {**msg, "channel": ch.id}
            ts = valid_ts(msg.get("ts"))
            if ts is None:
                records[f"bad:{len(records)}"] = item  # quarantined by the mapping
                continue
            in_zone = zone_start is not None and ts_key(ts) > zone_start
            subtype = msg.get("subtype")
            note(ts, in_zone=in_zone and subtype not in mapping.HOUSEKEEPING)
            if subtype == mapping.DELETED:
                gone = valid_ts(msg.get("deleted_ts"))
                deletes += [mapping.message_id(ch.id, gone)] if gone else []
                continue
            if subtype == mapping.TOMBSTONE:
                deletes.append(mapping.message_id(ch.id, ts))
            elif subtype not in mapping.HOUSEKEEPING:
                records.setdefault(ts, item)
            if _is_parent(msg, ts):
                thread = self._thread(ch.id, ts)
                replies = thread.replies if thread else {}
                for rts, reply in replies.items():
                    note(rts, in_zone=in_zone)
                    records[rts] = reply  # a broadcast reply is read twice: once is kept
                threads[ts] = _newest(ts, *replies) or ts
        more = next_cursor(data) is not None or bool(data.get("has_more"))
        update = {"newest": newest, "seen": sorted(seen), "zone": sorted(zone), "threads": threads}
        if more and stamps:
            nxt = cp.model_copy(update={**update, "before": _oldest_ts(messages)})
            return Page(records=list(records.values()), deletes=deletes, next_cursor=nxt, done=False)
        done = cp.model_copy(update={**update, "phase": "threads"})
        return self._thread_page(done, ch, records=list(records.values()), deletes=deletes)

    # ---- watched threads: new replies to threads whose parent is older than the history read ------------

    def _thread_page(
        self, cp: MessagesCheckpoint, ch: ChannelRef, *, records: list[dict[str, Any]], deletes: list[str]
    ) -> Page:
        """Re-check some of the channel's watched threads (active within ``thread_lookback_days`` and not read
        with the history this pass) for replies newer than the latest one read: ``conversations.replies`` with
        ``oldest`` = that reply. History lists only top-level messages, so a reply to an old thread is seen
        nowhere else. When none is left, the channel is done."""
        mark = cp.marks.get(ch.id, ChannelMark())
        pending = self._pending_threads(cp, mark)
        threads, checked = dict(cp.threads), list(cp.checked)
        found: list[dict[str, Any]] = []
        for parent in pending[:THREAD_CHECKS_PER_PAGE]:
            checked.append(parent)
            latest, new = self._new_replies(ch.id, parent, mark.threads[parent])
            if latest is not None:
                threads[parent] = latest
                found += new
        nxt = cp.model_copy(update={"threads": threads, "checked": checked})
        if len(pending) > THREAD_CHECKS_PER_PAGE:
            return Page(records=records + found, deletes=deletes, next_cursor=nxt, done=False)
        return self._next_channel(nxt, ch, mark, records=records + found, deletes=deletes)

    def _pending_threads(self, cp: MessagesCheckpoint, mark: ChannelMark) -> list[str]:
        done = set(cp.threads) | set(cp.checked)
        cutoff = self._thread_cutoff()
        return sorted(
            (p for p, latest in mark.threads.items() if p not in done and ts_key(latest) >= cutoff), key=ts_key
        )

    def _thread_cutoff(self) -> Decimal:
        """Threads whose latest reply is older than this ts are no longer watched."""
        days = self.config.thread_lookback_days
        return Decimal(str(clock.time() - days * 86_400)) if days else Decimal("Infinity")

    def _new_replies(self, channel: str, parent: str, since: str) -> tuple[str | None, list[dict[str, Any]]]:
        """The thread's replies after ``since`` (with the parent, whose ``latest_reply`` then changed), and the
        latest reply ts now; (None, []) when the thread is gone."""
        thread = self._thread(channel, parent, oldest=since)
        if thread is None:
            return None, []
        new = {rts: r for rts, r in thread.replies.items() if ts_key(rts) > ts_key(since)}
        if not new:
            return since, []
        skip = mapping.HOUSEKEEPING | {mapping.TOMBSTONE, mapping.DELETED}
        head = [thread.parent] if thread.parent and thread.parent.get("subtype") not in skip else []
        return _newest(since, *new), head + list(new.values())

    def _next_channel(
        self,
        cp: MessagesCheckpoint,
        ch: ChannelRef,
        mark: ChannelMark,
        *,
        records: list[dict[str, Any]],
        deletes: list[str],
        skipped: bool = False,
    ) -> Page:
        """The channel is read: move its mark, delete what its look-back zone lost, go on to the next channel."""
        assert cp.channels is not None
        if skipped:  # not read: nothing is known to be gone, and the mark stays as it was
            marks, gone = cp.marks, []
        else:
            seen = set(cp.seen)
            gone = [mapping.message_id(ch.id, ts) for ts in mark.recent if ts not in seen]
            marks = {
                **cp.marks,
                ch.id: ChannelMark(newest=cp.newest or mark.newest, recent=cp.zone, threads=self._watched(cp, mark)),
            }
        last = cp.index + 1 >= len(cp.channels)
        nxt = (
            MessagesCheckpoint(marks=marks)
            if last
            else MessagesCheckpoint(marks=marks, channels=cp.channels, index=cp.index + 1)
        )
        return Page(records=records, deletes=sorted(set(deletes) | set(gone)), next_cursor=nxt, done=last)

    def _watched(self, cp: MessagesCheckpoint, mark: ChannelMark) -> dict[str, str]:
        """The channel's threads to watch on the next pass: those read or re-checked this pass (a thread gone
        is dropped), active within ``thread_lookback_days``, at most ``THREADS_MAX`` most recently active."""
        known = {**{p: t for p, t in mark.threads.items() if p not in cp.checked}, **cp.threads}
        cutoff = self._thread_cutoff()
        active = sorted(((p, t) for p, t in known.items() if ts_key(t) >= cutoff), key=lambda i: ts_key(i[1]))
        return dict(active[-THREADS_MAX:])

    # ---- reads ----------------------------------------------------------------------------------

    def _history(self, channel: str, *, oldest: str | None, latest: str | None) -> dict[str, Any] | None:
        """A page of history; a page that is empty but says more follows (Slack may return short pages)."""
        data = self.client.history(channel=channel, oldest=oldest, latest=latest, limit=self.config.page_size)
        while data is not None and not data.get("messages") and next_cursor(data):
            data = self.client.history(
                channel=channel, oldest=oldest, latest=latest, limit=self.config.page_size, cursor=next_cursor(data)
            )
        return data

    def _thread(self, channel: str, parent: str, *, oldest: str | None = None) -> Thread | None:
        """A thread as ``conversations.replies`` shows it now (replies after ``oldest``); None when it is gone."""
        found = self._replies(channel, parent, oldest=oldest)
        if found is None:
            return None
        head: dict[str, Any] | None = None
        replies: dict[str, dict[str, Any]] = {}
        for msg in found:
            ts = valid_ts(msg.get("ts"))
            if ts == parent:
                head = head or {**msg, "channel": channel}
            elif ts is not None and msg.get("subtype") not in mapping.HOUSEKEEPING | {mapping.DELETED}:
                replies[ts] = {**msg, "channel": channel}
        return Thread(parent=head, replies=replies)

    def _replies(self, channel: str, ts: str, *, oldest: str | None = None) -> list[Mapping[str, Any]] | None:
        """Every reply of a thread (after ``oldest``; the parent, first on each page, is left out by the caller);
        None when the thread is gone."""
        found: list[Mapping[str, Any]] = []
        cursor: str | None = None
        while True:
            data = self.client.replies(
                channel=channel, ts=ts, limit=self.config.page_size, cursor=cursor, oldest=oldest
            )
            if data is None:  # the thread went away meanwhile
                return found or None
            found += [msg for msg in data.get("messages") or [] if isinstance(msg, Mapping)]
            cursor = next_cursor(data)
            if not cursor:
                return found

    def _load_users(self) -> None:
        if self._users is not None:
            return
        users: dict[str, str] = {}
        cursor: str | None = None
        while True:
            data = self.client.users_page(cursor=cursor, limit=LIST_PAGE, optional=True)
            if data is None:
                log.warning("slack.users_unavailable", connector=self.name, reason="the token lacks users:read")
                break
            for member in data.get("members") or []:
                if isinstance(member, Mapping) and isinstance(member.get("id"), str):
                    name = mapping.user_name(member)
                    if name:
                        users[member["id"]] = name
            cursor = next_cursor(data)
            if not cursor:
                break
        self._users = users


def _newest(*stamps: str | None) -> str | None:
    """The newest of some ts values, compared as numbers."""
    found = [s for s in stamps if s is not None]
    return max(found, key=ts_key) if found else None


def _oldest_ts(messages: list[Mapping[str, Any]]) -> str:
    return min((t for t in (valid_ts(m.get("ts")) for m in messages) if t), key=ts_key)


def _is_parent(msg: Mapping[str, Any], ts: str) -> bool:
    """A thread's parent: ``reply_count > 0`` and ``thread_ts`` equal to its own ``ts`` (slack.md 3.2)."""
    count = msg.get("reply_count")
    return isinstance(count, int) and count > 0 and msg.get("thread_ts", ts) == ts
