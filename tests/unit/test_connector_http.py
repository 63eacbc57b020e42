"""The shared HTTP client, call policy and error table, with the vendor faked at the transport."""

from __future__ import annotations

import time

import httpx
import pytest

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BearerAuth,
    CallPolicy,
    ConnectorError,
    ErrorTable,
    HttpClient,
    Kind,
    Problem,
    RateLimit,
    RetrySettings,
    SecretFilter,
    parse_retry_after,
)
from connectors.hubspot.client import ERROR_TABLE as HUBSPOT_TABLE

TOKEN = "tok-abcdefgh-12345678"
FAST = RetrySettings(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.02, retry_after_max_s=5)


def client(handler, *, retry: RetrySettings = FAST, limits=()) -> tuple[HttpClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request, len(seen))

    policy = CallPolicy(vendor="Acme", table=ErrorTable(), retry=retry, redact=SecretFilter([TOKEN]))
    http = HttpClient(
        base_url="https://api.acme.test",
        policy=policy,
        auth=BearerAuth(TOKEN),
        transport=httpx.MockTransport(record),
        limits=limits,
    )
    return http, seen


def test_server_errors_and_dropped_connections_are_retried() -> None:
    def vendor(request, n):
        if n == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if n == 2:
            return httpx.Response(503, json={"message": "busy"})
        return httpx.Response(200, json={"ok": True})

    http, seen = client(vendor)
    assert http.get("/things") == {"ok": True}
    assert len(seen) == 3 and seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_retry_after_is_honoured() -> None:
    def vendor(request, n):
        return httpx.Response(429, headers={"Retry-After": "1"}) if n == 1 else httpx.Response(200, json=[])

    http, seen = client(vendor)
    started = time.monotonic()
    assert http.get("/things") == []
    assert time.monotonic() - started >= 1.0


def test_a_retry_after_longer_than_allowed_fails_the_call() -> None:
    http, seen = client(lambda request, n: httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ConnectorError, match="asked us to wait 3600 s") as err:
        http.get("/things")
    assert len(seen) == 1 and err.value.kind is Kind.VENDOR


def test_credentials_errors_fail_at_once_and_never_show_the_secret() -> None:
    echo = {"message": f"token {TOKEN} is expired (Authorization: Bearer {TOKEN})"}
    http, seen = client(lambda request, n: httpx.Response(401, json=echo))
    with pytest.raises(ConnectorError) as err:
        http.get("/things")
    assert len(seen) == 1
    assert err.value.kind is Kind.CREDENTIALS and err.value.code == "connector_credentials"
    assert TOKEN not in err.value.message and err.value.message.startswith("Acme refused the credentials (401)")


def test_giving_up_says_how_often_it_tried() -> None:
    http, seen = client(lambda request, n: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(
        ConnectorError, match=r"server error \(502\): <html>Bad gateway</html> \(gave up after 3 attempts\)"
    ):
        http.get("/things")
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("problem", "action", "kind"),
    [
        (Problem(status=401), Action.FAIL, Kind.CREDENTIALS),
        (Problem(status=403), Action.FAIL, Kind.CREDENTIALS),
        (Problem(status=404), Action.FAIL, Kind.OUR_BUG),
        (Problem(status=400), Action.FAIL, Kind.OUR_BUG),
        (Problem(status=408), Action.RETRY, Kind.VENDOR),
        (Problem(status=429), Action.BACKOFF, Kind.VENDOR),
        (Problem(status=500), Action.RETRY, Kind.VENDOR),
        (Problem(status=504), Action.RETRY, Kind.VENDOR),
        (Problem(exc=httpx.ReadTimeout("slow")), Action.RETRY, Kind.VENDOR),
        (Problem(exc=ConnectionResetError()), Action.RETRY, Kind.VENDOR),
        (Problem(exc=KeyError("results")), Action.FAIL, Kind.OUR_BUG),
    ],
)
def test_the_error_table(problem: Problem, action: Action, kind: Kind) -> None:
    err = ErrorTable(DEFAULT_RULES).resolve(problem, vendor="Acme", redact=SecretFilter())
    assert (err.action, err.kind) == (action, kind)


def test_hubspot_rules_come_first() -> None:
    daily = Problem(429, {}, '{"status":"error","message":"You have reached your daily limit.","policyName":"DAILY"}')
    secondly = Problem(
        429, {"Retry-After": "2"}, '{"message":"You have reached your secondly limit.","policyName":"SECONDLY"}'
    )
    scopes = Problem(
        403, {}, '{"message":"This app hasn\'t been granted all required scopes","category":"MISSING_SCOPES"}'
    )
    resolve = lambda p: HUBSPOT_TABLE.resolve(p, vendor="HubSpot", redact=SecretFilter())  # noqa: E731
    assert resolve(daily).action is Action.FAIL and "daily API limit" in resolve(daily).message
    assert resolve(secondly).action is Action.BACKOFF and resolve(secondly).retry_after == 2
    assert resolve(scopes).message.startswith(
        "the HubSpot token lacks a scope this connector needs (403): MISSING_SCOPES"
    )


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_the_rate_limit_spaces_calls_out() -> None:
    limit = RateLimit("5/second", key="test:spacing")
    http, seen = client(lambda request, n: httpx.Response(200, json={}), limits=[limit])
    started = time.monotonic()
    for _ in range(7):
        http.get("/things")
    assert time.monotonic() - started >= 0.9  # five in the first second, the rest wait for the window


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (lambda rq: httpx.ConnectError("[Errno 111] Connection refused", request=rq), "api.acme.test:443 refused"),
        (lambda rq: httpx.ConnectError("[Errno -2] Name or service not known", request=rq), "does not resolve"),
        (lambda rq: httpx.ConnectTimeout("timed out", request=rq), "no answer from api.acme.test:443 in time"),
        (lambda rq: httpx.RemoteProtocolError("Server disconnected", request=rq), "closed the connection"),
    ],
)
def test_transport_failures_are_told_in_plain_words_naming_the_address(raised, said) -> None:
    def vendor(request, n):
        raise raised(request)

    http, seen = client(vendor, retry=RetrySettings(max_attempts=1))
    with pytest.raises(ConnectorError) as err:
        http.get("/things")
    assert len(seen) == 1 and err.value.message.startswith("could not reach Acme: ") and said in err.value.message
    assert "Error" not in err.value.message and "gave up" not in err.value.message  # no exception names
