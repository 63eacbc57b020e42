"""Slack's shape -> our model. Pure functions over the documented message shape (slack.md 3.2, 3.3), to which
the connector adds ``channel`` (the channel id: history and replies do not carry it).

- external id ``<channel id>:<ts>``: ``ts`` is unique within a channel (slack.md 4), kept as a string;
- ``posted_at`` from ``ts`` (Unix seconds, UTC), ``updated_at`` from ``edited.ts`` when the message was edited;
- ``thread_ts``: a thread's parent has ``thread_ts == ts``, its replies the parent's ``ts``;
- ``user_name``: the user's real name from ``users.list`` (then display name, then handle); bots by their
  ``username`` / ``bot_profile.name``;
- messages are not linked to accounts: Slack says nothing about which customer a message concerns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import RecordError
from connectors.base.mapping import fit as fit_column
from core.db import models as m

SOURCE = "slack"
TS_PATTERN = re.compile(r"^\d{1,12}\.\d{1,9}$")
# Subtypes that are channel housekeeping, not conversation: not read (slack.md 3.2).
HOUSEKEEPING = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "channel_convert_to_private",
        "channel_convert_to_public",
        "group_join",
        "group_leave",
        "group_topic",
        "group_purpose",
        "group_name",
        "group_archive",
        "group_unarchive",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "reminder_add",
    }
)
# A deleted thread parent that still has replies stays as a placeholder (slack.md 6): the message is gone.
TOMBSTONE = "tombstone"
# Only the Events API sends this; a polled history never should, but if one does, it names what was deleted.
DELETED = "message_deleted"


@dataclass(frozen=True)
class MappingContext:
    users: Mapping[str, str] = field(default_factory=dict)  # user id -> name
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name


def user_name(user: Mapping[str, Any]) -> str | None:
    """A ``users.list`` member's name, best first: real name, display name, handle."""
    profile = user.get("profile") if isinstance(user.get("profile"), Mapping) else {}
    for value in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def valid_ts(value: Any) -> str | None:
    return value if isinstance(value, str) and TS_PATTERN.fullmatch(value) else None


def ts_time(ts: str) -> datetime:
    """A ``ts`` as a UTC time, from its exact decimal value (a float would lose the microseconds)."""
    seconds = Decimal(ts)
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    return datetime.fromtimestamp(whole, tz=UTC).replace(microsecond=micros)


def ts_key(ts: str) -> Decimal:
    """``ts`` values compare as numbers, never as text or floats (slack.md 4)."""
    try:
        return Decimal(ts)
    except InvalidOperation:
        return Decimal(0)


def message_id(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


def external_id(msg: Mapping[str, Any]) -> str | None:
    channel, ts = msg.get("channel"), msg.get("ts")
    if isinstance(channel, str) and channel and isinstance(ts, str) and ts:
        return message_id(channel, ts)
    return None


def text(value: Any) -> str:
    return value.replace("\x00", "") if isinstance(value, str) else ""


def fit(column: str, value: str | None) -> str | None:
    return fit_column(m.SlackMessage, column, value)


def body(msg: Mapping[str, Any]) -> str:
    """The message text; a message of attachments only (bots, link unfurls) by its attachments' fallback."""
    raw = msg.get("text")
    if raw is not None and not isinstance(raw, str):
        raise RecordError(f"text is a {type(raw).__name__}, not text")
    if raw and raw.strip():
        return text(raw)
    parts = [text(a.get("fallback") or a.get("text")) for a in msg.get("attachments") or [] if isinstance(a, Mapping)]
    return "\n".join(p for p in parts if p)


def map_message(msg: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    channel = msg.get("channel")
    if not isinstance(channel, str) or not channel:
        raise RecordError("message has no channel")
    ts = valid_ts(msg.get("ts"))
    if ts is None:
        raise RecordError(f"ts {str(msg.get('ts'))[:40]!r} is not a Slack timestamp")
    thread_ts = msg.get("thread_ts")
    if thread_ts is not None and valid_ts(thread_ts) is None:
        raise RecordError(f"thread_ts {str(thread_ts)[:40]!r} is not a Slack timestamp")
    posted = ts_time(ts)
    edited = msg.get("edited")
    edited_ts = valid_ts(edited.get("ts")) if isinstance(edited, Mapping) else None
    user = msg.get("user") if isinstance(msg.get("user"), str) else None
    bot = msg.get("bot_profile") if isinstance(msg.get("bot_profile"), Mapping) else {}
    profile = msg.get("user_profile") if isinstance(msg.get("user_profile"), Mapping) else {}
    name = (
        ctx.users.get(user or "")
        or _str(msg.get("username"))
        or _str(bot.get("name"))
        or _str(profile.get("real_name"))
    )
    return {
        "external_id": message_id(channel, ts),
        "raw": dict(msg),
        "channel_id": fit("channel_id", channel),
        "channel": fit("channel", ctx.channels.get(channel) or channel),
        "ts": ts,
        "thread_ts": thread_ts,
        "user_id": fit("user_id", user or _str(msg.get("bot_id"))),
        "user_name": fit("user_name", name),
        "text": body(msg),
        "posted_at": posted,
        "created_at": posted,
        "updated_at": ts_time(edited_ts) if edited_ts else posted,
    }


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
