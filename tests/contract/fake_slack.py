"""A local Slack Web API speaking the documented shapes (../shared/reference/slack.md), on 127.0.0.1.

Real HTTP/1.1; methods at ``/api/<method>`` taking GET query strings or POST form bodies (what the official
SDK sends); Bearer auth; every answer HTTP 200 with ``ok`` unless a fault says otherwise; errors as
``{"ok": false, "error": "<code>"}`` (``not_authed``, ``invalid_auth``, ``channel_not_found``,
``not_in_channel``, ``thread_not_found``, ``invalid_cursor``, ``missing_scope``...). ``conversations.list``,
``users.list``, ``conversations.history`` (newest first, ``oldest``/``latest`` exclusive unless ``inclusive``)
and ``conversations.replies`` (the parent first on every page, then replies oldest first), all paged by an
opaque ``response_metadata.next_cursor`` that is ``""`` on the last page. A deleted thread parent with
replies stays as a ``tombstone``; other deleted messages vanish. Faults are injected at the wire: a status
(429 ``ratelimited`` + Retry-After, 5xx with an HTML body), an ``ok: false`` error, a dropped connection or a
hang, after N matching requests, once or forever.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.contract.fake_server import FakeHandler, FakeServer

HISTORY_LIMIT_MAX = 999
LIST_LIMIT_MAX = 1000


def ts_of(at: datetime, n: int) -> str:
    return f"{int(at.timestamp())}.{n % 1_000_000:06d}"


@dataclass
class Seen:
    method: str  # the Slack method, e.g. conversations.history
    args: dict[str, str]
    at: float
    status: int = 0
    error: str | None = None


@dataclass
class Fault:
    method: str  # a Slack method name ("" for every method)
    after: int
    times: int | None
    status: int | None = None
    error: str | None = None  # answer HTTP 200 {"ok": false, "error": ...}
    drop: bool = False
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    seen: int = 0
    fired: int = 0


class FakeSlack(FakeServer):
    def __init__(self, *, token: str = "xoxb-1111-2222-fakeslacktoken") -> None:
        super().__init__()
        self.token = token
        self.team = {"id": "T012AB3C4", "name": "PayReady"}
        self.bot_user = "U0BOTSOPHIA"
        self.channels: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}  # channel -> ts -> message
        self.kicked: set[str] = set()  # channels listed as joined whose history answers not_in_channel
        self.scopes_missing: set[str] = set()  # methods answering missing_scope
        self._n = 0

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{super().url}/api"

    # ---- data -----------------------------------------------------------------------------------

    def add_channel(self, name: str, *, member: bool = True, archived: bool = False, private: bool = False) -> str:
        cid = f"C{len(self.channels) + 1:08d}X"
        self.channels.append(
            {
                "id": cid,
                "name": name,
                "name_normalized": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": private,
                "is_archived": archived,
                "is_general": False,
                "is_member": member,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "created": 1449252889,
                "creator": "U012A3CDE",
                "num_members": 4,
                "previous_names": [],
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": f"#{name}", "creator": "", "last_set": 0},
            }
        )
        self.messages[cid] = {}
        return cid

    def add_user(self, uid: str, real_name: str, *, handle: str, deleted: bool = False, bot: bool = False) -> str:
        self.users.append(
            {
                "id": uid,
                "team_id": self.team["id"],
                "name": handle,
                "deleted": deleted,
                "real_name": real_name,
                "tz": "America/Chicago",
                "tz_label": "Central Standard Time",
                "tz_offset": -21600,
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": bot,
                "is_app_user": False,
                "updated": 1502138686,
                "profile": {
                    "real_name": real_name,
                    "display_name": handle,
                    "email": f"{handle}@payready.com",
                    "title": "",
                    "status_text": "",
                    "status_emoji": "",
                    "image_72": "https://x",
                    "team": "T012AB3C4",
                },
            }
        )
        return uid

    def post(
        self,
        channel: str,
        text: str,
        *,
        user: str | None,
        at: datetime,
        thread: str | None = None,
        broadcast: bool = False,
        subtype: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A message (a reply when ``thread`` is the parent's ts); returns its ts."""
        with self._lock:
            self._n += 1
            ts = ts_of(at, self._n)
            msg: dict[str, Any] = {"type": "message", "text": text, "ts": ts, "team": self.team["id"], "blocks": []}
            if user:
                msg["user"] = user
            if subtype or broadcast:
                msg["subtype"] = "thread_broadcast" if broadcast else subtype
            if thread is not None:
                parent = self.messages[channel][thread]
                msg["thread_ts"] = thread
                msg["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = thread
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if user and user not in users:
                    users.append(user)
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = max(parent.get("latest_reply", ts), ts, key=Decimal)
            msg.update(extra or {})
            self.messages[channel][ts] = msg
            return ts

    def edit(self, channel: str, ts: str, text: str, *, at: datetime | None = None) -> None:
        with self._lock:
            msg = self.messages[channel][ts]
            msg["text"] = text
            msg["edited"] = {"user": msg.get("user"), "ts": ts_of(at or datetime.now(UTC), 0)}

    def delete(self, channel: str, ts: str) -> None:
        """As Slack does: a parent with replies becomes a tombstone, anything else vanishes."""
        with self._lock:
            msg = self.messages[channel][ts]
            thread = msg.get("thread_ts")
            if thread == ts and msg.get("reply_count"):
                msg.clear()
                msg.update(
                    {
                        "type": "message",
                        "subtype": "tombstone",
                        "text": "This message was deleted.",
                        "user": "USLACKBOT",
                        "hidden": True,
                        "ts": ts,
                        "thread_ts": ts,
                        "reply_count": len(self._replies(channel, ts)),
                    }
                )
                return
            del self.messages[channel][ts]
            if thread and thread != ts and thread in self.messages[channel]:
                parent = self.messages[channel][thread]
                replies = self._replies(channel, thread)
                parent["reply_count"] = len(replies)
                if replies:
                    parent["latest_reply"] = replies[-1]["ts"]
                else:
                    for key in ("reply_count", "latest_reply", "reply_users", "reply_users_count"):
                        parent.pop(key, None)

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages[channel].values()
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]

    def _replies(self, channel: str, parent: str) -> list[dict[str, Any]]:
        return sorted(
            (m for m in self.messages[channel].values() if m.get("thread_ts") == parent and m["ts"] != parent),
            key=lambda m: Decimal(m["ts"]),
        )

    # ---- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        *,
        method: str = "",
        after: int = 0,
        times: int | None = 1,
        status: int | None = None,
        error: str | None = None,
        drop: bool = False,
        hang: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        return self.add_fault(Fault(method, after, times, status, error, drop, hang, dict(headers or {})))

    def _fault_for(self, method: str) -> Fault | None:
        return self._next_fault(lambda fault: fault.method in ("", method))

    def calls(self, method: str) -> list[Seen]:
        return [s for s in self.requests if s.method == method]

    # ---- the API --------------------------------------------------------------------------------

    def handle(self, method: str, args: dict[str, str], auth: str | None) -> dict[str, Any]:
        if not auth:
            return err("not_authed")
        if auth != f"Bearer {self.token}":
            return err("invalid_auth")
        if method in self.scopes_missing:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "channels:history",
                "provided": "channels:read,users:read",
            }
        routes = {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "users.list": self._users_list,
            "conversations.history": self._history,
            "conversations.replies": self._replies_page,
        }
        fn = routes.get(method)
        if fn is None:
            return err("unknown_method")
        with self._lock:
            try:
                return fn(args)
            except ApiError as exc:
                return err(exc.error)

    def _auth_test(self, args: dict[str, str]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://payready.slack.com/",
            "team": self.team["name"],
            "user": "sophia",
            "team_id": self.team["id"],
            "user_id": self.bot_user,
            "bot_id": "B0SOPHIA",
            "is_enterprise_install": False,
        }

    def _conversations_list(self, args: dict[str, str]) -> dict[str, Any]:
        types = set((args.get("types") or "public_channel").split(","))
        exclude_archived = args.get("exclude_archived") in ("1", "true")
        found = [
            c
            for c in self.channels
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and not (exclude_archived and c["is_archived"])
        ]
        page, cursor = _offset_page(found, args, LIST_LIMIT_MAX, "team")
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def _users_list(self, args: dict[str, str]) -> dict[str, Any]:
        if not args.get("limit"):
            raise ApiError("limit_required")
        page, cursor = _offset_page(self.users, args, LIST_LIMIT_MAX, "user")
        return {"ok": True, "members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": cursor}}

    def _channel(self, args: dict[str, str]) -> str:
        cid = args.get("channel")
        channel = next((c for c in self.channels if c["id"] == cid), None)
        if channel is None:
            raise ApiError("channel_not_found")
        if not channel["is_member"] or cid in self.kicked:
            raise ApiError("not_in_channel")
        return cid

    def _history(self, args: dict[str, str]) -> dict[str, Any]:
        cid = self._channel(args)
        items = sorted(_window(self.top_level(cid), args), key=lambda m: Decimal(m["ts"]), reverse=True)
        return self._ts_page(items, args, newest_first=True)

    def _replies_page(self, args: dict[str, str]) -> dict[str, Any]:
        cid = self._channel(args)
        parent = self.messages[cid].get(args.get("ts") or "")
        if parent is None:
            raise ApiError("thread_not_found")
        replies = _window(self._replies(cid, parent["ts"]), args)
        out = self._ts_page(replies, args, newest_first=False)
        out["messages"] = [dict(parent)] + out["messages"]  # the parent first, on every page
        return out

    def _ts_page(self, items: list[dict[str, Any]], args: dict[str, str], *, newest_first: bool) -> dict[str, Any]:
        limit = int(args.get("limit") or 100)
        if limit > HISTORY_LIMIT_MAX:
            limit = HISTORY_LIMIT_MAX
        cursor = args.get("cursor")
        if cursor:
            try:
                kind, _, after = base64.b64decode(cursor).decode().partition(":")
            except ValueError:
                raise ApiError("invalid_cursor") from None
            if kind != "next_ts":
                raise ApiError("invalid_cursor")
            mark = Decimal(after)
            items = [m for m in items if (Decimal(m["ts"]) <= mark if newest_first else Decimal(m["ts"]) >= mark)]
        page, rest = items[:limit], items[limit:]
        nxt = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
        return {
            "ok": True,
            "messages": [dict(m) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": nxt},
        }


class ApiError(Exception):
    def __init__(self, error: str) -> None:
        self.error = error


def err(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _window(items: list[dict[str, Any]], args: dict[str, str]) -> list[dict[str, Any]]:
    """``oldest`` / ``latest`` bounds, exclusive unless ``inclusive`` (slack.md 3.2)."""
    try:
        oldest = Decimal(args["oldest"]) if args.get("oldest") else None
        latest = Decimal(args["latest"]) if args.get("latest") else None
    except ArithmeticError:
        raise ApiError("invalid_ts_oldest") from None
    inclusive = args.get("inclusive") in ("1", "true")
    out = []
    for m in items:
        ts = Decimal(m["ts"])
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            continue
        if latest is not None and (ts > latest or (ts == latest and not inclusive)):
            continue
        out.append(m)
    return out


def _offset_page(items: list[dict[str, Any]], args: dict[str, str], limit_max: int, prefix: str) -> tuple[list, str]:
    limit = min(int(args.get("limit") or 100), limit_max)
    start = 0
    if args.get("cursor"):
        try:
            kind, _, offset = base64.b64decode(args["cursor"]).decode().partition(":")
            start = int(offset)
        except ValueError:
            raise ApiError("invalid_cursor") from None
        if kind != prefix:
            raise ApiError("invalid_cursor")
    page = items[start : start + limit]
    nxt = base64.b64encode(f"{prefix}:{start + limit}".encode()).decode() if start + limit < len(items) else ""
    return [dict(i) for i in page], nxt


class _Handler(FakeHandler):
    vendor: FakeSlack

    def _serve(self, verb: str) -> None:  # every Slack method is a path; GET and POST alike
        slack = self.vendor
        parts = urlsplit(self.path)
        raw = self.read_body().decode()
        args = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if raw and (self.headers.get("Content-Type") or "").startswith("application/json"):
            args.update({k: str(v) for k, v in json.loads(raw).items()})
        elif raw:
            args.update({k: v[0] for k, v in parse_qs(raw).items()})
        method = parts.path.removeprefix("/api/")
        seen = Seen(method, args, time.monotonic())
        slack.requests.append(seen)
        fault = slack._fault_for(method)
        if fault is not None and fault.hang:
            self.hang()
            fault = None if fault.status is None and fault.error is None and not fault.drop else fault
        if fault is not None and fault.drop:
            self.drop(seen)
            return
        if fault is not None and fault.status is not None:
            if fault.status == 429:
                self._send(429, json.dumps(err("ratelimited")), fault.headers, seen, "ratelimited")
            else:
                page = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
                self._send(fault.status, page, fault.headers, seen, None, content_type="text/html")
            return
        if fault is not None and fault.error is not None:
            self._send(200, json.dumps(err(fault.error)), fault.headers, seen, fault.error)
            return
        out = slack.handle(method, args, self.headers.get("Authorization"))
        self._send(200, json.dumps(out), {}, seen, None if out.get("ok") else out.get("error"))

    def _send(
        self,
        status: int,
        body: str,
        headers: dict[str, str],
        seen: Seen,
        error: str | None,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        seen.status, seen.error = status, error
        self.send_data(status, body.encode(), content_type, headers)


FakeSlack.handler = _Handler


# ---- a believable workspace ----------------------------------------------------------------------


@dataclass
class Planted:
    channels: dict[str, str]  # name -> id
    users: dict[str, str]  # user id -> real name
    stored: int  # messages a full sync should store (no housekeeping, replies once)
    threads: int  # thread parents read


def populate(fake: FakeSlack, *, per_channel: int = 8, now: datetime | None = None) -> Planted:
    """Two readable channels of messages over the last 10 days (threads, a broadcast, a bot, joins), a channel
    the bot is not in, and an archived one."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    users = {
        "U01ANA": "Ana Ruiz",
        "U02BEN": "Ben Okafor",
        "W03CAT": "Cat Nguyen",
    }
    for uid, name in users.items():
        fake.add_user(uid, name, handle=name.split()[0].lower())
    fake.add_user("U04GONE", "Dee Parted", handle="dee", deleted=True)
    users["U04GONE"] = "Dee Parted"
    fake.add_user(fake.bot_user, "Sophia", handle="sophia", bot=True)
    channels = {name: fake.add_channel(name) for name in ("sales", "cs-escalations")}
    channels["random"] = fake.add_channel("random", member=False)
    channels["old-project"] = fake.add_channel("old-project", archived=True)
    people = list(users)
    stored = threads = 0
    for ci, name in enumerate(("sales", "cs-escalations")):
        cid = channels[name]
        at = now - timedelta(days=10) + timedelta(minutes=7 * ci)
        fake.post(cid, f"<@{people[0]}> has joined the channel", user=people[0], at=at, subtype="channel_join")
        for i in range(per_channel):
            at += timedelta(hours=240 / (per_channel + 2))
            ts = fake.post(
                cid,
                f"{name} update {i}: Property Co {i} asked about failed payments.",
                user=people[i % len(people)],
                at=at,
            )
            stored += 1
            if i % 3 == 0:
                threads += 1
                for k in range(2):
                    fake.post(
                        cid,
                        f"reply {k} to {i}",
                        user=people[(i + k + 1) % len(people)],
                        at=at + timedelta(minutes=5 + k),
                        thread=ts,
                    )
                    stored += 1
                if i == 3:
                    fake.post(
                        cid,
                        f"broadcast reply to {i}",
                        user=people[0],
                        at=at + timedelta(minutes=9),
                        thread=ts,
                        broadcast=True,
                    )
                    stored += 1
        fake.post(
            cid,
            "",
            user=None,
            at=at + timedelta(minutes=30),
            subtype="bot_message",
            extra={
                "bot_id": "B0ALERTS",
                "username": "Payments Alerts",
                "attachments": [{"fallback": "3 payments failed at Property Co 2", "text": "details"}],
            },
        )
        stored += 1
    fake.post(channels["random"], "lunch?", user=people[1], at=now - timedelta(days=1))
    return Planted(channels=channels, users=users, stored=stored, threads=threads)
