"""The fake Slack Web API (``fake_slack.FakeSlack``) taught to take posts: ``chat.postMessage`` with a JSON body
(what ``slack_sdk`` sends: blocks and metadata kept as sent), answering ``{"ok", "channel", "ts", "message"}``;
``conversations.history`` showing a message's ``metadata`` only with ``include_all_metadata``; ``is_archived`` for
an archived channel; a token that can be revoked (``token_revoked``) and restored. Messages are stamped by a clock
handed in (the test's ``ManualClock``), so their ``ts`` agree with the times the code under test reads.

Faults as in ``FakeSlack.fail`` (429 with Retry-After, an ``ok: false`` error, a dropped connection), plus
``lose_responses``: the next N posts are stored, then their connection is cut before the answer (the post landed,
the client cannot know).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.contract.fake_slack import ApiError, FakeSlack, Seen, _Handler, err


class FakeSlackPost(FakeSlack):
    def __init__(self, *, token: str = "xoxb-1111-2222-fakeslacktoken", now: Callable[[], datetime] | None = None):
        super().__init__(token=token)
        self.now = now or (lambda: datetime.now(UTC))
        self.revoked = False
        self.lose_responses = 0
        self.posts: list[dict[str, Any]] = []  # every stored post: channel, ts, text, blocks, metadata

    def add_channel(self, name: str, *, cid: str | None = None, **kw: Any) -> str:
        made = super().add_channel(name, **kw)
        if cid is None:
            return made
        self.channels[-1]["id"] = cid
        self.messages[cid] = self.messages.pop(made)
        return cid

    def posts_to(self, channel: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if p["channel"] == channel]

    def handle(self, method: str, args: dict[str, Any], auth: str | None) -> dict[str, Any]:
        if auth == f"Bearer {self.token}" and self.revoked:
            return err("token_revoked")
        if method == "chat.postMessage" and auth == f"Bearer {self.token}":
            with self._lock:
                try:
                    return self._post_message(args)
                except ApiError as exc:
                    return err(exc.error)
        out = super().handle(method, args, auth)
        if (
            method == "conversations.history"
            and out.get("ok")
            and args.get("include_all_metadata") not in ("1", "true")
        ):
            for message in out["messages"]:
                message.pop("metadata", None)
        return out

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        cid = self._channel({"channel": str(args.get("channel") or "")})
        if next(c for c in self.channels if c["id"] == cid)["is_archived"]:
            raise ApiError("is_archived")
        if not args.get("text") and not args.get("blocks"):
            raise ApiError("no_text")
        blocks = args.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if len(blocks) > 50:
            raise ApiError("invalid_blocks")
        extra: dict[str, Any] = {"blocks": blocks, "bot_id": "B0SOPHIA"}
        if args.get("metadata"):
            extra["metadata"] = args["metadata"]
        ts = self.post(cid, str(args.get("text") or ""), user=self.bot_user, at=self.now(), extra=extra)
        self.posts.append(
            {"channel": cid, "ts": ts, "text": args.get("text"), "blocks": blocks, "metadata": args.get("metadata")}
        )
        return {"ok": True, "channel": cid, "ts": ts, "message": dict(self.messages[cid][ts])}


class _PostHandler(_Handler):
    """As ``FakeSlack``'s, but a JSON body keeps its types (blocks, metadata)."""

    vendor: FakeSlackPost

    def _serve(self, verb: str) -> None:
        slack = self.vendor
        parts = urlsplit(self.path)
        raw = self.read_body().decode()
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if raw and (self.headers.get("Content-Type") or "").startswith("application/json"):
            args.update(json.loads(raw))
        elif raw:
            args.update({k: v[0] for k, v in parse_qs(raw).items()})
        method = parts.path.removeprefix("/api/")
        seen = Seen(method, {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items()}, time.monotonic())
        slack.requests.append(seen)
        fault = slack._fault_for(method)
        if fault is not None and fault.drop:
            self.drop(seen)
            return
        if fault is not None and fault.status == 429:
            self._send(429, json.dumps(err("ratelimited")), fault.headers, seen, "ratelimited")
            return
        if fault is not None and fault.status is not None:
            page = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
            self._send(fault.status, page, fault.headers, seen, None, content_type="text/html")
            return
        if fault is not None and fault.error is not None:
            self._send(200, json.dumps(err(fault.error)), fault.headers, seen, fault.error)
            return
        out = slack.handle(method, args, self.headers.get("Authorization"))
        if method == "chat.postMessage" and out.get("ok") and slack.lose_responses > 0:
            slack.lose_responses -= 1
            self.drop(seen)  # stored, but the answer never reaches the client
            return
        self._send(200, json.dumps(out), {}, seen, None if out.get("ok") else out.get("error"))


FakeSlackPost.handler = _PostHandler
