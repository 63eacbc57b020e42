"""Gong API v2 over httpx through the base HTTP client (Gong publishes no official Python client, gong.md 6).

Auth (gong.md 1): an access key and its secret as HTTP Basic, or an OAuth access token as Bearer. Every call
goes through the base ``CallPolicy``: client-side rate limits, the error table, backoff with jitter,
``Retry-After``, secret filtering. Gong's quirks are named here:

- An empty date window is answered with **HTTP 404** and ``errors: ["No calls found corresponding to the
  provided filters"]``, not an empty list: that 404 means "no data"; any other 404 is an error (3).
- Lists are paged by ``records.cursor`` (absent on the last page); for POST endpoints the cursor goes in the
  JSON body and the rest of the body is repeated unchanged (3).
- Limits: 3 calls/s and 10,000 calls/day per company (4). Over them Gong answers 429 with ``Retry-After`` in
  seconds. A wait of hours means the daily cap: the run fails at once with a message saying so.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from limits.storage import MemoryStorage

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BearerAuth,
    CallPolicy,
    ConnectorConfig,
    ConnectorError,
    ErrorTable,
    HttpClient,
    Kind,
    Problem,
    RateLimit,
    Rule,
    SecretFilter,
    default_detail,
    parse_retry_after,
)

VENDOR = "Gong"
DEFAULT_BASE_URL = "https://api.gong.io"
PAGE_MAX = 100  # records Gong puts in a page; there is no documented page-size parameter (gong.md 3)
CALL_IDS_MAX = PAGE_MAX  # call ids per transcript request: no documented maximum, so one page of calls
NO_DATA = "found corresponding to the provided filters"  # the empty-window 404's message (gong.md 3)
# A 429 asking us to wait longer than this is the daily cap (10,000 calls/day), not the per-second limit.
DAILY_CAP_WAIT_S = 3600.0
RATE = "{n}/second"
DAILY = "{n}/day"

# The day's budget is counted per process (like RateLimit), shared by every Gong connector in it.
_DAILY_STORAGE = MemoryStorage()


def gong_errors(p: Problem) -> list[str]:
    """Gong's error body: ``{"requestId": ..., "errors": ["..."]}`` (strings, gong.md 4)."""
    body = p.json()
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        return [str(e) for e in body["errors"]]
    return []


def gong_detail(p: Problem) -> str:
    errors = gong_errors(p)
    return "; ".join(errors) if errors else default_detail(p)


def is_no_data(p: Problem) -> bool:
    """The 404 that means "nothing in this window" (Airbyte >= 1.4 reads it the same way)."""
    return p.status == 404 and any(NO_DATA in e for e in gong_errors(p))


def _daily_cap(p: Problem) -> bool:
    wait = parse_retry_after(p.header("Retry-After"))
    return wait is not None and wait > DAILY_CAP_WAIT_S


GONG_RULES: tuple[Rule, ...] = (
    Rule(
        Action.FAIL,
        Kind.VENDOR,
        "Gong's daily API cap for this company is used up (10,000 calls a day unless Gong raised it); "
        "sync again when it resets ({status}): {detail}",
        status=429,
        when=_daily_cap,
    ),
    Rule(Action.FAIL, Kind.CREDENTIALS, "Gong refused the access key ({status}): {detail}", status=401),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "Gong denied access ({status}); the key's owner needs API access to calls and users: {detail}",
        status=403,
    ),
)
ERROR_TABLE = ErrorTable(GONG_RULES + DEFAULT_RULES, detail=gong_detail)


class DailyCap(RateLimit):
    """The day's budget on our side: when it is spent the call fails at once rather than sleep for hours."""

    def __init__(self, per_day: int, *, key: str) -> None:
        super().__init__(DAILY.format(n=per_day), key=key, storage=_DAILY_STORAGE)
        self.per_day = per_day

    def acquire(self) -> float:
        if not self._limiter.hit(self._item, self._key):
            raise ConnectorError(
                f"stopped before Gong's daily cap: this process already made {self.per_day} Gong calls in the "
                "last 24 hours (setting requests_per_day)",
                action=Action.FAIL,
                kind=Kind.VENDOR,
            )
        return 0.0


class GongClient:
    """The Gong calls the connector makes, each returning decoded JSON in Gong's documented shape."""

    def __init__(
        self,
        *,
        config: ConnectorConfig,
        name: str,
        access_key: str | None,
        access_key_secret: str | None,
        token: str | None,
        requests_per_s: int,
        requests_per_day: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        secrets: list[str | None] = [access_key, access_key_secret, token]
        auth: httpx.Auth
        if token:
            auth = BearerAuth(token)
        else:
            auth = httpx.BasicAuth(access_key or "", access_key_secret or "")
            secrets.append(base64.b64encode(f"{access_key}:{access_key_secret}".encode()).decode())
        policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter(secrets)
        )
        limits = (
            RateLimit(RATE.format(n=requests_per_s), key=f"gong:{name}:rate"),
            DailyCap(requests_per_day, key=f"gong:{name}:day"),
        )
        self.http = HttpClient(
            base_url=config.base_url,
            policy=policy,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout_s=config.timeout_s,
            limits=limits,
            transport=transport,
        )

    # ---- the calls ----------------------------------------------------------------------------

    def calls_page(self, body: Mapping[str, Any], cursor: str | None) -> dict[str, Any]:
        """One page of ``POST /v2/calls/extensive``; an empty window gives ``{"calls": []}``."""
        payload = {**body, "cursor": cursor} if cursor else dict(body)
        data = self.http.post("/v2/calls/extensive", json=payload, empty_when=is_no_data)
        return data if isinstance(data, dict) else {"calls": []}

    def transcripts(self, call_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Monologues by call id (``POST /v2/calls/transcript`` by ``filter.callIds``, no dates: gong.md 2.3).
        A call Gong has no transcript for is missing from the result."""
        found: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(call_ids), CALL_IDS_MAX):
            body: dict[str, Any] = {"filter": {"callIds": list(call_ids[i : i + CALL_IDS_MAX])}}
            for page in self._pages("/v2/calls/transcript", body):
                for item in page.get("callTranscripts") or []:
                    found[str(item.get("callId"))] = list(item.get("transcript") or [])
        return found

    def users(self) -> dict[str, str]:
        """User id -> email address (``GET /v2/users``, all pages)."""
        found: dict[str, str] = {}
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else None
            data = self.http.get("/v2/users", params=params) or {}
            for user in data.get("users") or []:
                email = user.get("emailAddress")
                if user.get("id") is not None and isinstance(email, str) and email.strip():
                    found[str(user["id"])] = email.strip().lower()
            cursor = next_cursor(data)
            if not cursor:
                return found

    def list_calls(self, *, from_iso: str, to_iso: str) -> dict[str, Any]:
        """``GET /v2/calls`` (basic metadata): used to check access; an empty window is ``{"calls": []}``."""
        window = {"fromDateTime": from_iso, "toDateTime": to_iso}
        data = self.http.get("/v2/calls", params=window, empty_when=is_no_data)
        return data if isinstance(data, dict) else {"calls": []}

    def close(self) -> None:
        self.http.close()

    def _pages(self, path: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every page of a POST list endpoint: the cursor in the body, the rest of the body unchanged."""
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            payload = {**body, "cursor": cursor} if cursor else dict(body)
            data = self.http.post(path, json=payload, empty_when=is_no_data)
            if not isinstance(data, dict):
                return pages
            pages.append(data)
            cursor = next_cursor(data)
            if not cursor:
                return pages


def next_cursor(data: Mapping[str, Any]) -> str | None:
    """``records.cursor``: present only when more pages remain (gong.md 2)."""
    cursor = (data.get("records") or {}).get("cursor")
    return str(cursor) if cursor else None
