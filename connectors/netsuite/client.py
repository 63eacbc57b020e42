"""NetSuite SuiteQL over SuiteTalk REST (netsuite.md 3), signed with OAuth 1.0a token-based auth (2).

- Signing: ``oauthlib`` (the library under ``requests-oauthlib``, which Airbyte's connector uses) supports
  HMAC-SHA256 and the realm, so it signs here, inside an ``httpx.Auth``: every request, retries included,
  gets a fresh nonce and timestamp (NetSuite's nonce/timestamp rules are unconfirmed, 2.4). The JSON body
  is NOT part of the signature: ``sign(body=None)``, or oauthlib would add ``oauth_body_hash`` (2.4). The
  realm is the account id in its upper-case, underscore form; the host uses the lower-case, dash form (1).
- Limits: NetSuite governs concurrent requests per account, not requests per minute (6). The client-side
  limit is therefore a process-wide cap on requests in flight per account (``max_concurrency``); over the
  limit NetSuite answers 429 with no Retry-After, so we back off exponentially with jitter.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping
from typing import Any

import httpx
from oauthlib import oauth1

from connectors.base import (
    DEFAULT_RULES,
    Action,
    CallPolicy,
    ConnectorConfig,
    ErrorTable,
    HttpClient,
    Kind,
    Problem,
    Rule,
    SecretFilter,
    default_detail,
)

VENDOR = "NetSuite"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
PAGE_MAX = 1000  # `limit` maximum of the SuiteQL endpoint (3)
ROW_CAP = 100_000  # rows one SuiteQL query returns at most through REST (3.2)
HOST = "https://{account}.suitetalk.api.netsuite.com"
# Over the concurrency limit: 429 (REST), 400 SSS_REQUEST_LIMIT_EXCEEDED (RESTlets); the o:errorCode
# CONCURRENCY_LIMIT_EXCEEDED is reported by third parties (unconfirmed). All mean "later", never "fail".
CONCURRENCY_CODES = frozenset({"CONCURRENCY_LIMIT_EXCEEDED", "SSS_REQUEST_LIMIT_EXCEEDED", "WS_REQUEST_BLOCKED"})


def realm(account_id: str) -> str:
    """``1234567-sb1`` / ``1234567_sb1`` -> ``1234567_SB1`` (the OAuth realm, netsuite.md 2.3)."""
    return account_id.strip().upper().replace("-", "_")


def default_base_url(account_id: str) -> str:
    """``1234567_SB1`` -> ``https://1234567-sb1.suitetalk.api.netsuite.com`` (netsuite.md 1)."""
    return HOST.format(account=account_id.strip().lower().replace("_", "-"))


class TokenAuth(httpx.Auth):
    """OAuth 1.0a TBA header (HMAC-SHA256, realm = account id) on every request, signed by oauthlib.

    ``nonce``/``timestamp`` fixed: only to reproduce the documented test vector."""

    def __init__(
        self,
        *,
        account_id: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        nonce: str | None = None,
        timestamp: str | None = None,
    ) -> None:
        self._oauth = oauth1.Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=oauth1.SIGNATURE_HMAC_SHA256,
            realm=realm(account_id),
            nonce=nonce,
            timestamp=timestamp,
        )

    def authorization(self, method: str, url: str) -> str:
        # body=None: a JSON body is not signed (no oauth_body_hash); the URL's query (limit, offset) is.
        _, headers, _ = self._oauth.sign(url, http_method=method.upper(), body=None, headers=None)
        return headers["Authorization"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.authorization(request.method, str(request.url))
        yield request


class InFlight(httpx.Auth):
    """Holds one of the account's concurrency slots while a request is out (wraps the signing auth)."""

    _slots: dict[str, threading.BoundedSemaphore] = {}
    _lock = threading.Lock()

    def __init__(self, inner: httpx.Auth, *, key: str, limit: int) -> None:
        self.inner = inner
        with self._lock:
            self.slot = self._slots.setdefault(f"{key}:{limit}", threading.BoundedSemaphore(limit))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self.slot:
            yield from self.inner.auth_flow(request)


def _errors(p: Problem) -> list[Mapping[str, Any]]:
    body = p.json()
    details = body.get("o:errorDetails") if isinstance(body, Mapping) else None
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def netsuite_detail(p: Problem) -> str:
    """``{"title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}`` -> ``CODE: detail`` (5)."""
    found = _errors(p)
    if found:
        first = found[0]
        code, detail = first.get("o:errorCode"), first.get("detail") or ""
        return f"{code}: {detail}" if code else str(detail)
    body = p.json()
    if isinstance(body, Mapping) and isinstance(body.get("title"), str):
        return body["title"]
    return default_detail(p)


def _code_in(codes: frozenset[str]) -> Any:
    return lambda p: any(d.get("o:errorCode") in codes for d in _errors(p))


NETSUITE_RULES: tuple[Rule, ...] = (
    Rule(
        Action.BACKOFF,
        Kind.VENDOR,
        "NetSuite's concurrency limit for the account is reached ({status}): {detail}",
        status=range(400, 500),
        when=_code_in(CONCURRENCY_CODES),
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "NetSuite refused the credentials ({status}); check the account id (realm), consumer key/secret and "
        "token id/secret, and that the token is not revoked: {detail}",
        status=401,
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "the NetSuite role of this token lacks a permission SuiteQL needs ({status}): {detail}",
        status=403,
    ),
    Rule(
        Action.FAIL,
        Kind.OUR_BUG,
        "NetSuite refused the SuiteQL query ({status}); a configured column may not exist in this account: {detail}",
        status=400,
    ),
)
ERROR_TABLE = ErrorTable(NETSUITE_RULES + DEFAULT_RULES, detail=netsuite_detail)


class SuiteQLClient:
    """``POST /services/rest/query/v1/suiteql?limit=&offset=`` with ``{"q": ...}`` and ``Prefer: transient``."""

    def __init__(
        self,
        *,
        config: ConnectorConfig,
        account_id: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        max_concurrency: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        signer = TokenAuth(
            account_id=account_id,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            token_id=token_id,
            token_secret=token_secret,
        )
        secrets = [consumer_key, consumer_secret, token_id, token_secret]
        self.policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter(secrets)
        )
        self.http = HttpClient(
            base_url=config.base_url,
            policy=self.policy,
            auth=InFlight(signer, key=realm(account_id), limit=max_concurrency),
            # Prefer: transient is in Oracle's SuiteQL example and every connector sends it (3)
            headers={"Prefer": "transient", "Accept": "application/json"},
            timeout_s=config.timeout_s,
            transport=transport,
        )

    def query(self, q: str, *, limit: int, offset: int = 0) -> dict[str, Any]:
        """One page: ``{"items": [...], "count", "hasMore", "offset", "totalResults", "links"}``."""
        data = self.http.post(SUITEQL_PATH, params={"limit": limit, "offset": offset}, json={"q": q})
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        self.http.close()


def rows(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's rows without their (empty) ``links``; a NULL column is absent from its row (3.1)."""
    return [{k: v for k, v in item.items() if k != "links"} for item in page.get("items") or []]
