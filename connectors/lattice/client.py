"""Lattice Talent API v1 over httpx (lattice.md): bearer API key, GET only, forward-only cursor paging.

List envelope: ``{"object": "list", "hasMore", "endingCursor", "data": [...]}``; the next page is asked with
``startingAfter=<endingCursor>`` (2). Lattice publishes no numeric rate limit (6): the client-side limit is a
conservative, configurable requests-per-minute, and a 429's ``Retry-After`` is honoured by the base policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BearerAuth,
    CallPolicy,
    ConnectorConfig,
    ErrorTable,
    HttpClient,
    Kind,
    RateLimit,
    Rule,
    SecretFilter,
)

VENDOR = "Lattice"
DEFAULT_BASE_URL = "https://api.latticehq.com/v1"
PAGE_MAX = 100  # `limit` maximum (the MCP client's code; unconfirmed in Lattice's docs, 2)

LATTICE_RULES: tuple[Rule, ...] = (
    # Airbyte ignores 403 on a stream; here it must fail: an empty answer would read as "everyone was deleted"
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "the Lattice API key may not read this ({status}); an admin's key is needed: {detail}",
        status=403,
    ),
)
ERROR_TABLE = ErrorTable(LATTICE_RULES + DEFAULT_RULES)


@dataclass(frozen=True)
class ListPage:
    data: list[dict[str, Any]]
    next_after: str | None  # the endingCursor to continue from; None on the last page


class LatticeClient:
    def __init__(self, *, config: ConnectorConfig, api_key: str, name: str, requests_per_minute: int) -> None:
        policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter([api_key])
        )
        self.base_path = urlsplit(config.base_url).path.rstrip("/")
        self.http = HttpClient(
            base_url=config.base_url,
            policy=policy,
            auth=BearerAuth(api_key),
            headers={"Accept": "application/json"},
            timeout_s=config.timeout_s,
            limits=[RateLimit(f"{requests_per_minute}/minute", key=f"lattice:{name}")],
        )

    def list_page(
        self, path: str, *, limit: int, after: str | None = None, params: Mapping[str, str] | None = None
    ) -> ListPage:
        query = {**(params or {}), "limit": limit}
        if after:
            query["startingAfter"] = after
        body = self.http.get(self.path_of(path), params=query) or {}
        data = [d for d in body.get("data") or [] if isinstance(d, dict)]
        after_next = body.get("endingCursor")
        more = bool(body.get("hasMore")) and bool(after_next) and bool(data)
        return ListPage(data, str(after_next) if more else None)

    def list_all(self, path: str, *, limit: int, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self.list_page(path, limit=limit, after=after, params=params)
            found += page.data
            if page.next_after is None:
                return found
            after = page.next_after

    def get(self, path: str) -> dict[str, Any]:
        body = self.http.get(self.path_of(path))
        return body if isinstance(body, dict) else {}

    def path_of(self, ref: str) -> str:
        """A path under the base URL, from a relative path or from a reference's absolute ``url`` (whose host
        may differ from a configured base URL, e.g. a regional or test host)."""
        if "://" not in ref:
            return ref if ref.startswith("/") else f"/{ref}"
        path = urlsplit(ref).path
        return path[len(self.base_path) :] if self.base_path and path.startswith(self.base_path + "/") else path

    def close(self) -> None:
        self.http.close()
