"""Salesforce REST over the de-facto official client (``simple-salesforce``), under our call policy.

How the client is used, and why (read in simple_salesforce/api.py and util.py, v1.12.10):
- ``Salesforce(instance_url=base_url, session_id=token, version=api_version, session=...)``. The client
  keeps only the host (and a port other than 443) of ``instance_url`` and builds every URL as
  ``https://{host[:port]}/services/data/v{version}/...``, the ``nextRecordsUrl`` of ``query_more``
  included. ``InstanceSession`` (the ``session`` argument, the client's documented way to bring
  "requests Session features not otherwise exposed") maps those URLs back onto ``base_url``, scheme
  included, so a plain-HTTP server on 127.0.0.1 (tests, acceptance checks) works as well as an org's
  ``https://<MyDomain>.my.salesforce.com``; it also sets the timeout the client never sets, and keeps
  the last response so its headers (``Retry-After``, ``Sforce-Limit-Info``) reach the error table.
- A direct session (no username/password) means the client never retries or refreshes by itself: a
  status >= 300 raises ``SalesforceError`` (400 Malformed, 401 ExpiredSession, 403 RefusedRequest,
  404 ResourceNotFound, others General) carrying ``.status`` and ``.content`` (the parsed JSON error
  array ``[{"message", "errorCode"}]``). Every call goes through ``CallPolicy``: rate limit, the error
  table below, backoff with jitter, secret filtering. The one retry outside the table: a 401
  ``INVALID_SESSION_ID`` when a refresh token is configured gets a new access token and one more try.
- Salesforce signals limits as 403 ``REQUEST_LIMIT_EXCEEDED`` (no 429, no Retry-After; salesforce.md 6):
  "TotalRequests Limit exceeded" is the org's rolling 24-hour allocation (stop; it does not lift in
  seconds), other REQUEST_LIMIT_EXCEEDED messages are the concurrent long-running request cap (back off).
  ``Sforce-Limit-Info: api-usage=N/M`` on every response is watched too: the run stops before it uses
  more than ``api_usage_max_ratio`` of the org's allocation, which other integrations (UserGems among
  them) share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession, SalesforceMalformedRequest

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BadResponse,
    CallPolicy,
    ConnectorError,
    ErrorTable,
    Kind,
    Problem,
    RateLimit,
    RetrySettings,
    Rule,
    SecretFilter,
    default_detail,
)
from core.db.batches import in_batches
from core.errors import ConfigError

T = TypeVar("T")
VENDOR = "Salesforce"
DEFAULT_API_VERSION = "59.0"  # simple-salesforce's default (salesforce.md 1)
LOGIN_URL = "https://login.salesforce.com"
LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})
CONNECT_TIMEOUT_MAX_S = 10.0
BATCH_SIZE_MIN, BATCH_SIZE_MAX = 200, 2000  # Sforce-Query-Options batchSize bounds (salesforce.md 2)
# Ids per `IN (...)` lookup: 200 ids of 18 characters keep a query URL near 5 KB, far below URI limits.
IN_CHUNK = 200
# Salesforce documents no per-second request rate for REST, only the org's daily allocation and a cap of
# concurrent long-running requests; the client-side limit keeps one connector from bursting.
DEFAULT_REQUESTS_PER_SECOND = 20

# the client logs request details at DEBUG: vendor data and URLs with ids have no place in our logs
logging.getLogger("simple_salesforce").setLevel(logging.INFO)

# requests' own transport errors (its ConnectionError is not the builtin one the base table knows)
REQUESTS_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# ---- the error table ------------------------------------------------------------------------


def errors_of(p: Problem) -> list[Mapping[str, Any]]:
    """Salesforce's error body: a JSON array of ``{"message", "errorCode", "fields"?}`` (salesforce.md 6);
    the OAuth token endpoint answers ``{"error", "error_description"}`` instead."""
    body = p.json()
    if isinstance(body, list):
        return [e for e in body if isinstance(e, Mapping)]
    if isinstance(body, Mapping):
        if "errorCode" in body:
            return [body]
        if "error" in body:
            return [{"errorCode": body["error"], "message": body.get("error_description") or body["error"]}]
    return []


def error_code(p: Problem) -> str | None:
    found = errors_of(p)
    return str(found[0].get("errorCode")) if found and found[0].get("errorCode") else None


def salesforce_detail(p: Problem) -> str:
    found = errors_of(p)
    if found:
        first = found[0]
        code, message = first.get("errorCode"), first.get("message")
        return f"{code}: {message}" if code and message else str(code or message)
    return default_detail(p)


def _limit_exceeded(p: Problem) -> bool:
    return error_code(p) == "REQUEST_LIMIT_EXCEEDED"


def _daily_allocation(p: Problem) -> bool:
    return _limit_exceeded(p) and any("totalrequests" in str(e.get("message", "")).lower() for e in errors_of(p))


SALESFORCE_RULES: tuple[Rule, ...] = (
    Rule(Action.RETRY, Kind.VENDOR, "could not reach {vendor}: {detail}", exc=REQUESTS_NETWORK_ERRORS),
    Rule(
        Action.FAIL,
        Kind.VENDOR,
        "Salesforce's API request allocation for this org is used up; it is a rolling 24-hour limit, so the "
        "sync stops here and resumes from its saved cursor on a later run ({status}): {detail}",
        status=403,
        when=_daily_allocation,
    ),
    # the cap on concurrent long-running requests: lifts when other requests end
    Rule(
        Action.BACKOFF,
        Kind.VENDOR,
        "{vendor} limited concurrent requests ({status}): {detail}",
        status=403,
        when=_limit_exceeded,
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "{vendor} refused the access token ({status}): {detail}; give the connector a new token, or a "
        "refresh_token and client_id so it renews its own",
        status=401,
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "{vendor} denied access ({status}); the integration user needs API Enabled and read access to the "
        "objects and fields this connector reads: {detail}",
        status=403,
    ),
    Rule(Action.FAIL, Kind.OUR_BUG, "{vendor} refused the query ({status}): {detail}", status=400),
)
ERROR_TABLE = ErrorTable(SALESFORCE_RULES + DEFAULT_RULES, detail=salesforce_detail)


# ---- the requests session under simple-salesforce ------------------------------------------


def client_instance(base_url: str) -> str:
    """``host[:port]`` as simple-salesforce derives it from ``instance_url`` (api.py, direct session)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    return host if parts.port in (None, 443) else f"{host}:{parts.port}"


class InstanceSession(requests.Session):
    """The requests session simple-salesforce calls through: every ``https://{instance}`` URL it builds
    is sent to ``base_url`` (scheme included), with a timeout, and the last response is kept."""

    def __init__(self, *, base_url: str, timeout_s: float) -> None:
        super().__init__()
        parts = urlsplit(base_url)
        self._built = f"https://{client_instance(base_url)}"
        self._target = f"{parts.scheme}://{parts.netloc}"
        self._timeout = (min(CONNECT_TIMEOUT_MAX_S, timeout_s), timeout_s)
        self.last_response: requests.Response | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(url)
        if url == self._built or url.startswith(self._built + "/"):
            url = self._target + url[len(self._built) :]
        kwargs.setdefault("timeout", self._timeout)
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        self.last_response = response
        return response


# ---- the client ----------------------------------------------------------------------------


class TokenSource:
    """The access token, and how to renew it (OAuth 2.0 refresh-token flow, salesforce.md 1)."""

    def __init__(
        self,
        *,
        token: str | None,
        refresh_token: str | None,
        client_id: str | None,
        client_secret: str | None,
        login_url: str,
    ) -> None:
        self.token = token
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_url = login_url.rstrip("/") + "/services/oauth2/token"

    @property
    def renewable(self) -> bool:
        return bool(self.refresh_token and self.client_id)

    def secrets(self) -> list[str | None]:
        return [self.token, self.refresh_token, self.client_secret]


class SalesforceClient:
    """The Salesforce calls our connectors make, each returning the documented JSON shapes."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        api_version: str,
        timeout_s: float,
        retry: RetrySettings,
        requests_per_second: int,
        api_usage_max_ratio: float,
        batch_size: int,
    ) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.api_version = api_version
        self.batch_size = max(BATCH_SIZE_MIN, min(BATCH_SIZE_MAX, batch_size))
        self.api_usage_max_ratio = api_usage_max_ratio
        self.api_usage: tuple[int, int] | None = None  # (used, allocation) from the last Sforce-Limit-Info
        self.session = InstanceSession(base_url=base_url, timeout_s=timeout_s)
        self.redact = SecretFilter(tokens.secrets())
        self.policy = CallPolicy(vendor=VENDOR, table=ERROR_TABLE, retry=retry, redact=self.redact)
        # one budget per org: the Salesforce and UserGems connectors of one org share it
        self.limit = RateLimit(f"{requests_per_second}/second", key=f"salesforce:{client_instance(base_url)}")
        self._sf: Salesforce | None = None

    # ---- the calls ----------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """``GET .../query/?q=`` (``queryAll/`` with ``include_deleted``): the first page."""
        what = "queryAll" if include_deleted else "query"
        return self._call(lambda sf: sf.query(soql, include_deleted=include_deleted, headers=self._batch()), what=what)

    def query_more(self, next_records_url: str) -> dict[str, Any] | None:
        """The page at ``nextRecordsUrl``; None when Salesforce no longer knows the locator (it expires
        when unused, salesforce.md 2.1): the caller re-anchors its query on its cursor."""

        def more(sf: Salesforce) -> dict[str, Any] | None:
            try:
                return sf.query_more(next_records_url, identifier_is_url=True, headers=self._batch())
            except SalesforceMalformedRequest as exc:
                if _content_code(exc.content) == "INVALID_QUERY_LOCATOR":
                    return None
                raise

        return self._call(more, what="queryMore")

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a (small) query, following ``nextRecordsUrl``; each page under the policy."""
        records: list[dict[str, Any]] = []
        page = self.query(soql)
        while True:
            records.extend(page.get("records") or [])
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return records
            nxt = self.query_more(page["nextRecordsUrl"])
            if nxt is None:  # expired while we read: read it all again
                return self.query_all(soql)
            page = nxt

    def query_in(self, soql_for: Callable[[str], str], ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Records of a query over ``IN (...)`` id lists, ``IN_CHUNK`` ids at a time."""
        unique = list(dict.fromkeys(ids))
        for part in in_batches(unique, IN_CHUNK):
            yield from self.query_all(soql_for(in_list(part)))

    def describe(self, sobject: str) -> dict[str, Any]:
        """``GET .../sobjects/{X}/describe/``: the object's fields as the integration user sees them."""
        return self._call(lambda sf: getattr(sf, sobject).describe(), what=f"describe {sobject}")

    def deleted(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """``GET .../sobjects/{X}/deleted/?start=&end=`` (salesforce.md 5)."""
        return self._call(lambda sf: getattr(sf, sobject).deleted(start, end), what=f"deleted {sobject}")

    def close(self) -> None:
        self.session.close()

    # ---- one call under the policy -------------------------------------------------------------

    def _batch(self) -> dict[str, str]:
        return {"Sforce-Query-Options": f"batchSize={self.batch_size}"}

    def _client(self) -> Salesforce:
        if self._sf is None:
            token = self.tokens.token or self._refresh()
            self._sf = Salesforce(
                instance_url=self.base_url, session_id=token, version=self.api_version, session=self.session
            )
        return self._sf

    def _call(self, fn: Callable[[Salesforce], T], *, what: str) -> T:
        if urlsplit(self.base_url).hostname in LOGIN_HOSTS:
            raise ConfigError(
                "base_url is Salesforce's login host; set it to the org's instance URL "
                "(https://<MyDomain>.my.salesforce.com, the instance_url of its OAuth token response)"
            )

        def once() -> T:
            self._check_usage()
            sf = self._client()
            try:
                result = self._send(fn, sf)
            except SalesforceExpiredSession:
                if not self.tokens.renewable:
                    raise self._bad_response() from None
                self._renew(sf)
                result = self._send(fn, sf)  # once more with the new token; a second 401 goes to the table
            self._note_usage()
            return result

        return self.policy.call(once, limits=(self.limit,), what=what)

    def _send(self, fn: Callable[[Salesforce], T], sf: Salesforce) -> T:
        try:
            return fn(sf)
        except SalesforceExpiredSession:
            raise
        except SalesforceError:
            raise self._bad_response() from None

    def _bad_response(self) -> BadResponse:
        r = self.session.last_response
        if r is None:  # cannot happen: the client raises only after a response
            return BadResponse(Problem(status=0, body="no response"))
        return BadResponse(Problem(r.status_code, dict(r.headers), r.text))

    def _renew(self, sf: Salesforce) -> None:
        token = self._refresh()
        sf.session_id = token
        sf.headers["Authorization"] = f"Bearer {token}"

    def _refresh(self) -> str:
        """A new access token from the refresh token (``POST /services/oauth2/token``)."""
        t = self.tokens
        if not t.renewable:
            raise ConfigError("the salesforce connector needs a token, or a refresh_token and client_id")
        form = {"grant_type": "refresh_token", "refresh_token": t.refresh_token, "client_id": t.client_id}
        if t.client_secret:
            form["client_secret"] = t.client_secret
        response = self.session.post(t.token_url, data=form, headers={"Accept": "application/json"})
        if not response.ok:
            problem = Problem(response.status_code, dict(response.headers), response.text)
            if response.status_code >= 500:
                raise BadResponse(problem)
            raise ConnectorError(
                self.redact(
                    f"Salesforce refused the refresh token ({response.status_code}): {salesforce_detail(problem)}; "
                    "authorise the connected app again and set a new refresh_token"
                ),
                action=Action.FAIL,
                kind=Kind.CREDENTIALS,
                http_status=response.status_code,
            )
        token = str(response.json()["access_token"])
        t.token = token
        self.redact = SecretFilter(t.secrets())
        self.policy.redact = self.redact
        return token

    def _check_usage(self) -> None:
        if self.api_usage is None:
            return
        used, allocation = self.api_usage
        if allocation and used >= self.api_usage_max_ratio * allocation:
            raise ConnectorError(
                f"Salesforce API usage for this org is at {used} of {allocation} requests (rolling 24 hours); "
                f"the sync stops at api_usage_max_ratio={self.api_usage_max_ratio} to leave the rest to the "
                "org's other integrations, and resumes from its saved cursor on a later run",
                action=Action.FAIL,
                kind=Kind.VENDOR,
            )

    def _note_usage(self) -> None:
        r = self.session.last_response
        header = r.headers.get("Sforce-Limit-Info") if r is not None else None
        if header:
            usage = Salesforce.parse_api_usage(header).get("api-usage")
            if usage is not None:
                self.api_usage = (usage.used, usage.total)


def _content_code(content: Any) -> str | None:
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return content[0].get("errorCode")
    return None


def soql_string(value: str) -> str:
    """A SOQL string literal: single quotes, backslash escapes (SOQL reference, quoted string escapes)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def in_list(ids: Sequence[str]) -> str:
    return "(" + ", ".join(soql_string(i) for i in ids) + ")"
