"""The Slack Web API as delivery uses it: the token (``SOPHIA_SLACK_BOT_TOKEN``, or ``env:VARIABLE``), a
``slack_sdk.WebClient`` with no automatic re-send (``retry_handlers=[]``: a duplicate post is worse than a late
one), and every failure sorted into what delivery does about it."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Literal
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.clock import Clock
from core.config import Settings
from core.notify.messages import Message
from core.pipelines.configured import ENV_REF_PREFIX, read_env_secret

__all__ = ["CHANNEL_ERRORS", "TOKEN_ERRORS", "PostResult", "make_client", "post_message", "resolve_token"]

TOKEN_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "missing_scope"}
)
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# Slack read the message and refused it as written: sending it again cannot help
REJECTED_ERRORS = frozenset(
    {
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
        "markdown_text_conflict",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "invalid_arguments",
        "too_many_attachments",
    }
)
RATE_RETRIES = 3  # 429s waited out per message, then the rows wait for the next run
RATE_WAIT_MAX_S = 60.0  # a longer Retry-After ends this run instead of holding it
TIMEOUT_S = 20

Kind = Literal["ok", "rate_limited", "token", "channel", "rejected", "refused", "unreachable", "unknown"]


@dataclass(frozen=True)
class PostResult:
    """``ok`` (with ``ts``); ``token`` / ``channel`` / ``rate_limited`` / ``refused`` (Slack said no: not posted,
    worth trying again later) / ``rejected`` (the message itself: never) / ``unreachable`` (nothing was sent) /
    ``unknown`` (the request may have been posted: reconcile, never re-send blindly)."""

    kind: Kind
    ts: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def resolve_token(settings: Settings) -> str | None:
    value = settings.slack_bot_token
    if value and value.startswith(ENV_REF_PREFIX):
        return read_env_secret(value.removeprefix(ENV_REF_PREFIX))
    return value or None


def make_client(settings: Settings, token: str) -> WebClient:
    base = settings.slack_api_url or WebClient.BASE_URL
    return WebClient(token=token, base_url=base, timeout=TIMEOUT_S, retry_handlers=[])


def classify(exc: BaseException) -> PostResult:
    """What a failed call means for delivery (see ``PostResult``)."""
    if isinstance(exc, SlackApiError):
        response: Any = exc.response
        status = getattr(response, "status_code", 200)
        code = _code(response)
        if status == 429 or code in ("ratelimited", "rate_limited"):
            return PostResult("rate_limited", error=f"ratelimited (Retry-After {retry_after(response):g} s)")
        if code in TOKEN_ERRORS:
            return PostResult("token", error=code)
        if code in CHANNEL_ERRORS:
            return PostResult("channel", error=code)
        if code in REJECTED_ERRORS:
            return PostResult("rejected", error=code)
        if status >= 500 or code in ("fatal_error", "request_timeout", "internal_error", "service_unavailable"):
            return PostResult("unknown", error=f"HTTP {status} {code or ''}".strip())
        return PostResult("refused", error=code or f"HTTP {status}")
    if isinstance(exc, URLError) and isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
        return PostResult("unreachable", error=f"Slack unreachable: {exc.reason}")
    if isinstance(exc, ConnectionRefusedError | socket.gaierror):
        return PostResult("unreachable", error=f"Slack unreachable: {exc}")
    return PostResult("unknown", error=f"{type(exc).__name__}: {exc}"[:300])


def _code(response: Any) -> str | None:
    try:
        data = response.data if isinstance(response.data, dict) else {}
    except AttributeError:
        return None
    code = data.get("error")
    return str(code) if code else None


def retry_after(response: Any) -> float:
    headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(0.0, float(raw)) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def call(client: WebClient, clock: Clock, fn: str, **kwargs: Any) -> tuple[PostResult, dict[str, Any]]:
    """One Web API call, waiting out 429s (``Retry-After``, on ``clock``) up to ``RATE_RETRIES`` times."""
    for attempt in range(RATE_RETRIES + 1):
        try:
            response = getattr(client, fn)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is sorted by classify
            result = classify(exc)
            if result.kind == "rate_limited" and isinstance(exc, SlackApiError) and attempt < RATE_RETRIES:
                wait = retry_after(exc.response)
                if wait <= RATE_WAIT_MAX_S:
                    clock.sleep(wait)
                    continue
            return result, {}
        data = response.data if isinstance(response.data, dict) else {}
        return PostResult("ok", ts=str(data.get("ts") or "") or None), data
    raise AssertionError("unreachable")  # pragma: no cover


def post_message(
    client: WebClient, clock: Clock, *, channel: str, message: Message, metadata: dict[str, Any] | None = None
) -> PostResult:
    """``chat.postMessage`` with blocks (checked here, before anything is sent) and the text fallback."""
    try:
        blocks = message.block_dicts()
    except Exception as exc:  # noqa: BLE001 - SlackObjectFormationError or too many blocks: a bug, never sent
        return PostResult("rejected", error=f"message not built: {exc}"[:300])
    kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": blocks}
    kwargs.update(unfurl_links=False, unfurl_media=False)
    if metadata is not None:
        kwargs["metadata"] = metadata
    result, _ = call(client, clock, "chat_postMessage", **kwargs)
    return result
