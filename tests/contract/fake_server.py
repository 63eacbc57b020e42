"""The plumbing every fake vendor server shares: a real HTTP/1.1 server (keep-alive) on 127.0.0.1 in a
thread, a log of every request, and faults injected at the wire (a status after N matching requests, once
or forever, with its own headers such as Retry-After; a dropped connection; a hang to kill a client in).

``Listener`` + ``HttpHandler`` are the server, its thread and the wire (Pinecone's two planes and Weaviate's
REST use just these); ``FakeServer`` + ``FakeHandler`` add the request log, the faults and the hang;
``WireFake`` + ``WireHandler`` add the usual request flow (log, fault, authenticate, route, JSON answer). A
vendor subclasses ``WireFake`` and fills in ``authenticate``/``route`` (HubSpot, Gong, Salesforce, NetSuite,
Lattice, Apollo), or subclasses ``FakeServer`` with its own handler where its wire is different (Slack's
method calls).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# ---- the server, its thread and the wire ----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.connections: set[socket.socket] = set()  # open (keep-alive) connections, cut at stop


class Listener:
    """A real HTTP/1.1 server on 127.0.0.1 in a daemon thread, serving ``handler`` subclassed with ``attrs``
    set (e.g. the fake it answers for). ``stop()`` closes it and cuts its open keep-alive connections;
    ``start()`` listens again on the same port: a backend that is down, then back."""

    def __init__(self, handler: type[HttpHandler], **attrs: Any) -> None:
        self.handler = type(handler.__name__, (handler,), attrs)
        self.port = 0
        self._server: _Server | None = None

    def start(self) -> None:
        self._server = _Server(self.port, self.handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.port, "not started"
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for sock in list(server.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass


class HttpHandler(BaseHTTPRequestHandler):
    """Keep-alive, no Nagle delay, quiet; GET and POST go to ``_serve(method)``."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms to a response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        raise NotImplementedError

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_data(self, status: int, data: bytes, content_type: str | None, *header_sets: dict[str, str]) -> None:
        """One answer; no Content-Type header when ``content_type`` is None."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for headers in header_sets:
            for key, value in headers.items():
                self.send_header(key, value)
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, timed out)
            self.close_connection = True


# ---- a vendor: the request log, faults and the hang ----------------------------------------------------


class FakeServer:
    """A server on 127.0.0.1 with a request log, a fault list and a hang release. Subclasses set
    ``handler`` (a ``FakeHandler`` subclass); ``start()`` serves it with ``vendor`` set to this fake."""

    handler: type[FakeHandler]

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.faults: list[Any] = []
        self.hanging = threading.Event()  # set while a request hangs
        self._release = threading.Event()
        self._lock = threading.RLock()
        self._listener = Listener(self.handler, vendor=self)

    def start(self):  # noqa: ANN201 - returns the subclass
        self._listener.start()
        return self

    @property
    def url(self) -> str:
        return self._listener.url

    def stop(self) -> None:
        self._release.set()
        self._listener.stop()

    def add_fault(self, fault: Any) -> Any:
        with self._lock:
            self.faults.append(fault)
        return fault

    def recover(self) -> None:
        with self._lock:
            self.faults.clear()
        self._release.set()

    def _next_fault(self, matches: Callable[[Any], bool]) -> Any | None:
        """The first fault ``matches`` a request and that fires on it (past ``after``, under ``times``)."""
        with self._lock:
            for fault in self.faults:
                if matches(fault):
                    fault.seen += 1
                    if fault.seen > fault.after and (fault.times is None or fault.fired < fault.times):
                        fault.fired += 1
                        return fault
        return None


class FakeHandler(HttpHandler):
    vendor: FakeServer

    def hang(self) -> None:
        """Hold this request until ``recover()`` or ``stop()`` (60 s at most)."""
        self.vendor.hanging.set()
        self.vendor._release.wait(60)

    def drop(self, seen: Any) -> None:
        seen.status = -1
        self.close_connection = True


# ---- the usual flow: a path-routed JSON API ------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Fault:
    path: str  # a substring of the path ("" for every request)
    method: str | None
    after: int  # matching requests let through first
    times: int | None  # None: forever
    status: int | None = None
    drop: bool = False
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    when: Callable[[Seen], bool] | None = None  # e.g. only SuiteQL queries on invoices
    seen: int = 0
    fired: int = 0


Reply = tuple[int, Any, dict[str, str]]


class WireHandler(FakeHandler):
    vendor: WireFake

    def _serve(self, method: str) -> None:
        vendor = self.vendor
        parts = urlsplit(self.path)
        body = vendor.parse_body(self.read_body())
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = parse_qs(parts.query, keep_blank_values=vendor.keep_blank_values)
        seen = vendor.seen_type(method, parts.path, query, body, headers, time.monotonic())
        with vendor._lock:
            vendor.requests.append(seen)
        fault = vendor._fault_for(seen)
        if fault is not None and fault.hang:
            self.hang()
            fault = None if fault.status is None and not fault.drop else fault
        if fault is not None and fault.drop:
            self.drop(seen)
            return
        if fault is not None and fault.status is not None:
            self._send(fault.status, vendor.fault_payload(fault), fault.headers, seen)
            return
        with vendor._lock:
            refused = vendor.authenticate(seen, parts.query)
            status, out, extra = refused if refused is not None else vendor.route(seen)
        self._send(status, out, extra, seen)

    def _send(self, status: int, body: Any, headers: dict[str, str], seen: Seen) -> None:
        seen.status = status
        data = json.dumps(body).encode()
        self.send_data(status, data, self.vendor.content_type, self.vendor.response_headers(), headers)


class WireFake(FakeServer):
    """A vendor API answering JSON by path. Subclasses implement ``authenticate`` and ``route``."""

    handler = WireHandler
    content_type = "application/json"
    keep_blank_values = True  # how the query string is parsed into ``Seen.query``
    seen_type: type[Seen] = Seen

    def fail(
        self,
        *,
        path: str = "",
        method: str | None = None,
        after: int = 0,
        times: int | None = 1,
        status: int | None = None,
        drop: bool = False,
        hang: bool = False,
        headers: dict[str, str] | None = None,
        body: Any = None,
        when: Callable[[Seen], bool] | None = None,
    ) -> Fault:
        return self.add_fault(Fault(path, method, after, times, status, drop, hang, dict(headers or {}), body, when))

    def _fault_for(self, seen: Seen) -> Fault | None:
        return self._next_fault(
            lambda fault: (
                fault.path in seen.path
                and fault.method in (None, seen.method)
                and (fault.when is None or fault.when(seen))
            )
        )

    # ---- what a vendor fills in -------------------------------------------------------------------------

    def parse_body(self, raw: bytes) -> Any:
        """The request body as ``Seen.body``: parsed JSON, else the text."""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        """None when the request's credentials are good, else the refusal."""
        raise NotImplementedError

    def route(self, seen: Seen) -> Reply:
        raise NotImplementedError

    def fault_body(self, status: int) -> Any:
        return {"error": f"status {status}"}

    def fault_payload(self, fault: Fault) -> Any:
        """What a status fault answers: its own body, else the vendor's body for that status."""
        return fault.body if fault.body is not None else self.fault_body(fault.status)

    def response_headers(self) -> dict[str, str]:
        """Headers every answer carries (before a fault's own), e.g. an API-usage header."""
        return {}
