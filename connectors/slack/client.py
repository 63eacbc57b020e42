"""Slack's Web API over the official client (``slack-sdk``'s ``WebClient``), under our call policy.

How the official client is used, and why:
- ``WebClient(token=..., base_url=..., retry_handlers=[])``: the base URL is configurable (tests, Enterprise
  Grid proxies). The SDK's own retry handlers are switched OFF (its default retries connection errors, and
  ``RateLimitErrorRetryHandler`` would sleep through 429s): retries would happen beneath our rate limiter and
  outside the error table. Every call goes through ``CallPolicy`` instead: rate limits per method tier, the
  error table, backoff with jitter, ``Retry-After``, secret filtering.
- The SDK raises ``SlackApiError`` for any ``ok: false`` or non-200 answer; it becomes a ``Problem`` (status,
  headers, the JSON body) for the error table. Slack reports most errors with HTTP **200** and
  ``{"ok": false, "error": "<code>"}`` (slack.md 2), so the Slack rules below match on the error code:
  auth and scope errors fail as credentials errors; ``ratelimited`` (HTTP 429 + ``Retry-After``) backs off for
  as long as Slack asks; ``request_timeout``, ``fatal_error``, ``internal_error``, ``service_unavailable`` and
  5xx are retried (Airbyte's classification).
- Errors that concern one channel or one thread (``not_in_channel``, ``channel_not_found``, ``is_archived``,
  ``thread_not_found``) are not failures of the run: the call returns ``None`` and the connector skips it.
  So is a missing ``users:read`` when reading names: messages then keep their user ids only.
- Transport failures (urllib's ``URLError``, a connection cut mid-response) become a ``NetworkError`` (a
  ``ConnectionError``) in plain words naming the host, so the table retries them as network errors.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
from collections.abc import Mapping
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BadResponse,
    CallPolicy,
    ConnectorConfig,
    ErrorTable,
    Kind,
    NetworkError,
    Problem,
    RateLimit,
    Rule,
    SecretFilter,
    default_detail,
    network_detail,
)

VENDOR = "Slack"
DEFAULT_BASE_URL = "https://slack.com/api"
PAGE_MAX = 999  # conversations.history / replies `limit` maximum; Slack recommends <= 200 (slack.md 3.2)
LIST_PAGE = 200  # conversations.list / users.list page (users.list must always get a limit: limit_required)
# Rate limits are per method per workspace ("tiers", slack.md 5): conversations.history and .replies are
# Tier 3 (50+/min), conversations.list and users.list Tier 2 (20+/min), auth.test Tier 4 (100+/min).
TIER_RATE = "{n}/minute"

AUTH_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_such_token",
        "org_login_required",
        "ekm_access_denied",
    }
)
SCOPE_ERRORS = frozenset({"missing_scope", "no_permission", "not_allowed_token_type", "access_denied"})
RETRY_ERRORS = frozenset({"request_timeout", "fatal_error", "internal_error", "service_unavailable"})
# errors about one conversation or thread: skip it, the run goes on (slack.md 2)
SKIP_CHANNEL = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
SKIP_THREAD = frozenset({"thread_not_found"})

# The SDK logs request parameters (and, on parse failures, bodies) at DEBUG: vendor data stays out of our logs.
logging.getLogger("slack_sdk").setLevel(logging.INFO)


def slack_error(p: Problem) -> str | None:
    body = p.json()
    if isinstance(body, Mapping) and body.get("ok") is False and isinstance(body.get("error"), str):
        return body["error"]
    return None


def slack_detail(p: Problem) -> str:
    body = p.json()
    code = slack_error(p)
    if code is None:
        return default_detail(p)
    if isinstance(body, Mapping) and body.get("needed"):
        return f"{code} (needs {body['needed']}; the token has {body.get('provided') or 'none'})"
    return code


SLACK_RULES: tuple[Rule, ...] = (
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "Slack refused the token ({detail})",
        when=lambda p: slack_error(p) in AUTH_ERRORS,
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "the Slack token lacks a scope this connector needs: {detail}",
        when=lambda p: slack_error(p) in SCOPE_ERRORS,
    ),
    Rule(
        Action.BACKOFF,
        Kind.VENDOR,
        "Slack rate limit reached ({status}): {detail}",
        when=lambda p: slack_error(p) == "ratelimited" or p.status == 429,
    ),
    Rule(
        Action.RETRY,
        Kind.VENDOR,
        "Slack had a server error ({status}): {detail}",
        when=lambda p: slack_error(p) in RETRY_ERRORS,
    ),
    Rule(
        Action.FAIL,
        Kind.OUR_BUG,
        "Slack refused our request: {detail}",
        status=200,
        when=lambda p: slack_error(p) is not None,
    ),
)
ERROR_TABLE = ErrorTable(SLACK_RULES + DEFAULT_RULES, detail=slack_detail)


class SlackClient:
    """The Slack calls the connector makes, each returning the decoded JSON body Slack documents."""

    def __init__(
        self, *, config: ConnectorConfig, token: str, name: str, tier2_per_minute: int, tier3_per_minute: int
    ) -> None:
        parts = urlsplit(config.base_url)
        self._address = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._sdk = WebClient(
            token=token, base_url=config.base_url + "/", timeout=math.ceil(config.timeout_s), retry_handlers=[]
        )
        self.policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter([token])
        )
        self._tier2 = RateLimit(TIER_RATE.format(n=tier2_per_minute), key=f"slack:{name}:tier2")
        self._tier3 = RateLimit(TIER_RATE.format(n=tier3_per_minute), key=f"slack:{name}:tier3")

    # ---- the calls ----------------------------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        return self._call("auth_test", rate=self._tier3) or {}

    def channels_page(self, *, types: str, cursor: str | None, limit: int = LIST_PAGE) -> dict[str, Any]:
        return (
            self._call(
                "conversations_list", rate=self._tier2, types=types, exclude_archived=True, limit=limit, cursor=cursor
            )
            or {}
        )

    def users_page(
        self, *, cursor: str | None, limit: int = LIST_PAGE, optional: bool = False
    ) -> dict[str, Any] | None:
        """A page of ``users.list``; with ``optional``, None when the token lacks ``users:read``."""
        return self._call(
            "users_list", rate=self._tier2, skip=SCOPE_ERRORS if optional else frozenset(), limit=limit, cursor=cursor
        )

    def history(
        self, *, channel: str, oldest: str | None, latest: str | None, limit: int, cursor: str | None = None
    ) -> dict[str, Any] | None:
        """A page of ``conversations.history`` (newest first); None when the channel cannot be read."""
        return self._call(
            "conversations_history",
            rate=self._tier3,
            skip=SKIP_CHANNEL,
            channel=channel,
            oldest=oldest,
            latest=latest,
            limit=limit,
            cursor=cursor,
        )

    def replies(
        self, *, channel: str, ts: str, limit: int, cursor: str | None = None, oldest: str | None = None
    ) -> dict[str, Any] | None:
        """A page of ``conversations.replies`` (the parent first, then replies oldest first; only those after
        ``oldest`` when given); None when the thread or its channel is gone."""
        return self._call(
            "conversations_replies",
            rate=self._tier3,
            skip=SKIP_CHANNEL | SKIP_THREAD,
            channel=channel,
            ts=ts,
            limit=limit,
            cursor=cursor,
            oldest=oldest,
        )

    def close(self) -> None:
        """The SDK opens one urllib connection per request: nothing to release."""

    # ---- one call under the policy -------------------------------------------------------------

    def _call(
        self, method: str, *, rate: RateLimit, skip: frozenset[str] = frozenset(), **kwargs: Any
    ) -> dict[str, Any] | None:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        fn = getattr(self._sdk, method)

        def once() -> dict[str, Any] | None:
            try:
                response = fn(**kwargs)
            except SlackApiError as exc:
                resp = exc.response
                data = resp.data if isinstance(resp.data, dict) else None
                if resp.status_code == 200 and data is not None and data.get("error") in skip:
                    return None
                body = json.dumps(data) if data is not None else _text(resp.data)
                raise BadResponse(Problem(resp.status_code, dict(resp.headers or {}), body)) from None
            except (URLError, http.client.HTTPException, OSError) as exc:
                raise NetworkError(network_detail(exc, address=self._address)) from None
            return response.data if isinstance(response.data, dict) else {}

        return self.policy.call(once, limits=(rate,), what=method.replace("_", ".", 1))


def next_cursor(data: Mapping[str, Any]) -> str | None:
    """``response_metadata.next_cursor``; missing or ``""`` on the last page (the SDK's own test)."""
    cursor = (data.get("response_metadata") or {}).get("next_cursor")
    return str(cursor) if cursor else None


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return "" if data is None else str(data)
