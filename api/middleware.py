"""Per-request plumbing: request id, one structured access line, Prometheus request metrics."""

from __future__ import annotations

import re
import time

from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.observability.logging import bound, get_logger, new_id

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # anything else is replaced, so logs stay clean
UNMATCHED = "<unmatched>"  # one label for every path no route knows, so scanners cannot grow the series
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at debug
SECRET_PATH_PARAMS = frozenset({"secret"})  # path parameters that carry a credential: never logged
# the Estuary secret-in-the-path prefix, masked even when a malformed URL matched another route (or none)
_SECRET_SEGMENT = re.compile(r"(/webhooks/estuary/s/)[^/]+")
MASK = "***"

REQUESTS = Counter("sophia_http_requests_total", "HTTP requests served by the API", ["method", "route", "status"])
LATENCY = Histogram(
    "sophia_http_request_duration_seconds",
    "Time to serve an HTTP request, until the response is complete",
    ["method", "route", "status"],
)
log = get_logger("api.access")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


def logged_path(scope: Scope) -> str:
    """The request path with every credential in it masked (a feed secret sent in the URL)."""
    path = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        if name in SECRET_PATH_PARAMS and value:
            path = path.replace(str(value), MASK)
    return _SECRET_SEGMENT.sub(rf"\g<1>{MASK}", path)


class RequestContextMiddleware:
    """Takes ``X-Request-ID`` (or makes one), binds it to every log line of the request, echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_ID.match(incoming) else new_id()
        # for the 500 handler: Starlette answers an unexpected exception outside this middleware
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what an exception that escapes the app becomes

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        start = time.perf_counter()
        with bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - start
                method, route = scope["method"], route_template(scope)
                REQUESTS.labels(method, route, str(status)).inc()
                LATENCY.labels(method, route, str(status)).observe(elapsed)
                write = log.debug if scope["path"] in QUIET_PATHS else log.info
                write(
                    "request",
                    method=method,
                    path=logged_path(scope),
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
