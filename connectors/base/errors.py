"""HTTP errors resolved by ONE table: what went wrong -> action (retry, back off, fail) + kind
(credentials, vendor, our bug) + a message that is safe to show (secrets filtered out).

A connector puts its vendor's quirks in front of ``DEFAULT_RULES`` (first match wins), e.g. HubSpot's
429 with ``policyName: DAILY`` fails instead of backing off.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import httpx
import urllib3.exceptions

from connectors.base.redact import SecretFilter
from core.errors import SophiaError

DETAIL_MAX_CHARS = 300


class Action(StrEnum):
    RETRY = "retry"  # exponential backoff with jitter
    BACKOFF = "backoff"  # the vendor's Retry-After when it sends one, else exponential backoff
    FAIL = "fail"


class Kind(StrEnum):
    CREDENTIALS = "credentials"  # the person who configured the connector can fix it
    VENDOR = "vendor"  # the vendor is down, slow or limiting us
    OUR_BUG = "our_bug"  # we sent something the vendor refuses, or broke on what it sent


# Errors of the transport itself (no response, or a cut-off one): worth another attempt.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
    json.JSONDecodeError,  # a body cut off mid-way
)


@dataclass(frozen=True)
class Problem:
    """One failed call: a response that was not a success, or an exception."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    exc: BaseException | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class BadResponse(Exception):
    """Raised by a client for a response that is not a success; the table resolves it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"HTTP {problem.status}")
        self.problem = problem


class ConnectorError(SophiaError):
    """A call to a vendor that failed, resolved by the error table. ``message`` is safe to show."""

    status = 502

    def __init__(
        self,
        message: str,
        *,
        action: Action,
        kind: Kind,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=f"connector_{kind.value}")
        self.action = action
        self.kind = kind
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    action: Action
    kind: Kind
    message: str  # may use {vendor}, {status} and {detail}
    status: int | range | None = None
    exc: type[BaseException] | tuple[type[BaseException], ...] | None = None
    when: Callable[[Problem], bool] | None = None

    def matches(self, p: Problem) -> bool:
        if self.status is not None:
            if p.status is None or (
                p.status != self.status if isinstance(self.status, int) else p.status not in self.status
            ):
                return False
        if self.exc is not None and not isinstance(p.exc, self.exc):
            return False
        return self.when is None or self.when(p)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(Action.RETRY, Kind.VENDOR, "could not reach {vendor}: {detail}", exc=NETWORK_ERRORS),
    Rule(Action.FAIL, Kind.CREDENTIALS, "{vendor} refused the credentials ({status}): {detail}", status=401),
    Rule(Action.FAIL, Kind.CREDENTIALS, "{vendor} denied access ({status}): {detail}", status=403),
    Rule(Action.BACKOFF, Kind.VENDOR, "{vendor} rate limit reached ({status}): {detail}", status=429),
    Rule(Action.RETRY, Kind.VENDOR, "{vendor} timed out ({status}): {detail}", status=408),
    Rule(Action.RETRY, Kind.VENDOR, "{vendor} had a server error ({status}): {detail}", status=range(500, 600)),
    Rule(Action.FAIL, Kind.OUR_BUG, "{vendor} has no such resource ({status}), check base_url: {detail}", status=404),
    Rule(Action.FAIL, Kind.OUR_BUG, "{vendor} refused our request ({status}): {detail}", status=range(400, 500)),
    Rule(
        Action.FAIL,
        Kind.VENDOR,
        "{vendor} answered with an unexpected status ({status}): {detail}",
        status=range(0, 1000),
    ),
)
FALLBACK = Rule(Action.FAIL, Kind.OUR_BUG, "calling {vendor} failed: {detail}")


class NetworkError(ConnectionError):
    """A transport failure a client has already put in plain words (``network_detail``)."""


NETWORK_HINT = "check base_url and the network"
_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-f]+>")
_SHORT_CHARS = 160


def network_detail(exc: BaseException, *, address: str | None = None) -> str:
    """A failure to talk to the vendor at all, in plain words: who refused, what did not resolve, what timed
    out; never the exception's repr. ``address`` (host:port) when the exception does not carry it."""
    if isinstance(exc, NetworkError):
        return str(exc)
    chain = _chain(exc)
    where = address or _address(chain) or "the server"
    said = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in said:
        return f"{where} refused the connection; {NETWORK_HINT}"
    if any(isinstance(e, socket.gaierror) for e in chain) or "resolve" in said or "name or service" in said:
        return f"the host name of {where} does not resolve; {NETWORK_HINT}"
    if any(isinstance(e, TimeoutError | httpx.TimeoutException | urllib3.exceptions.TimeoutError) for e in chain):
        return f"no answer from {where} in time; {NETWORK_HINT}"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in said:
        return f"the TLS handshake with {where} failed ({_short(chain[-1])})"
    if isinstance(exc, json.JSONDecodeError):
        return "the answer was cut off or is not JSON"
    if any(isinstance(e, ConnectionError | httpx.RemoteProtocolError | http.client.HTTPException) for e in chain):
        return f"{where} closed the connection without an answer"
    return f"{type(exc).__name__}: {_short(exc)}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it wraps (cause, context, a urllib ``reason``, exceptions among its args)."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 12:
        e = todo.pop(0)
        if e in found:
            continue
        found.append(e)
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())]
        todo += [n for n in nested if isinstance(n, BaseException)]
    return found


def _address(chain: list[BaseException]) -> str | None:
    """host:port of the failed connection, from httpx's request or urllib3's connection or pool."""
    for e in chain:
        try:
            url = e.request.url if isinstance(e, httpx.RequestError) else None
        except RuntimeError:  # httpx raises it for an error with no request attached
            url = None
        if url is not None:
            return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        conn = getattr(e, "conn", None) or getattr(e, "pool", None)
        if getattr(conn, "host", None):
            return f"{conn.host}:{conn.port}"
    return None


def _short(exc: BaseException) -> str:
    text = _OBJECT_REPR.sub("", str(exc)).strip() or type(exc).__name__
    return " ".join(text.split())[:_SHORT_CHARS]


def default_detail(p: Problem) -> str:
    """What the vendor (or the transport) said, short: the ``message`` of a JSON body, else its text."""
    if p.exc is not None:
        return (
            network_detail(p.exc) if isinstance(p.exc, NETWORK_ERRORS) else f"{type(p.exc).__name__}: {_short(p.exc)}"
        )
    body = p.json()
    if isinstance(body, Mapping):
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    return " ".join(p.body.split()) or "no details"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class ErrorTable:
    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES, *, detail: Callable[[Problem], str] = default_detail):
        self.rules = tuple(rules)
        self._detail = detail

    def rule_for(self, problem: Problem) -> Rule:
        return next((r for r in self.rules if r.matches(problem)), FALLBACK)

    def resolve(self, problem: Problem, *, vendor: str, redact: SecretFilter) -> ConnectorError:
        rule = self.rule_for(problem)
        detail = redact(self._detail(problem))[:DETAIL_MAX_CHARS]
        message = redact(rule.message.format(vendor=vendor, status=problem.status, detail=detail))
        retry_after = parse_retry_after(problem.header("Retry-After")) if rule.action is Action.BACKOFF else None
        return ConnectorError(
            message, action=rule.action, kind=rule.kind, http_status=problem.status, retry_after=retry_after
        )

    def problem_of(self, exc: BaseException) -> Problem:
        return exc.problem if isinstance(exc, BadResponse) else Problem(exc=exc)
