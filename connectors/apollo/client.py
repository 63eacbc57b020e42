"""Apollo.io REST over httpx (apollo.md): ``x-api-key`` header, JSON bodies, per-team rate limits.

Rate limits are per team and per endpoint class, in fixed windows per minute, hour and day, all at once
(apollo.md 3). The client-side limits are the plan's documented ones, one budget per API key (two connectors
on one key share it): "enrichment" (people/organisation enrichment) and "other" (search, ...). Apollo's own
signal is a 429 with ``retry-after`` (seconds until the window resets): waited out by the base policy, or the
call fails at once when the wait is longer than ``retry_after_max_s`` (a day's window does not reset in
minutes). Plan-gated endpoints answer 403 ``API_INACCESSIBLE``; people search needs a master key (403).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from connectors.base import (
    DEFAULT_RULES,
    Action,
    CallPolicy,
    ConnectorConfig,
    ErrorTable,
    HttpClient,
    Kind,
    Problem,
    RateLimit,
    Rule,
    SecretFilter,
    default_detail,
)

VENDOR = "Apollo"
DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
SEARCH_PATH = "/mixed_people/api_search"  # the current people search: no credits, no emails (2.1)
ORG_ENRICH_PATH = "/organizations/enrich"
PER_PAGE_MAX = 100  # people search `per_page` maximum (2.2)
PAGE_CAP = 500  # search results stop at 500 pages x 100 = 50,000 records (2.2)
RESULT_CAP = 50_000

Plan = Literal["free", "basic", "organization", "professional"]
# docs.apollo.io "Rate Limits" (apollo.md 3): (per minute, per hour, per day); None = no limit in that window.
# Free "other" per minute is 1-50 depending on the endpoint: 50 here, the endpoint's own 429 corrects it;
# the day figures of "other" are api-evangelist's (unconfirmed).
PLAN_LIMITS: dict[str, dict[str, tuple[int | None, int | None, int | None]]] = {
    "free": {"enrichment": (50, 200, 600), "other": (50, 200, 600)},
    "basic": {"enrichment": (1000, None, None), "other": (200, 400, 2000)},
    "organization": {"enrichment": (1000, None, None), "other": (200, 400, 6000)},
    "professional": {"enrichment": (1000, None, None), "other": (200, 600, 2000)},
}
WINDOWS = ("minute", "hour", "day")


def _code(p: Problem) -> str | None:
    body = p.json()
    return body.get("error_code") if isinstance(body, Mapping) else None


def apollo_detail(p: Problem) -> str:
    """``{"error": "...", "error_code": "..."}`` -> ``CODE: error``."""
    body = p.json()
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return f"{body['error_code']}: {body['error']}" if body.get("error_code") else body["error"]
    return default_detail(p)


APOLLO_RULES: tuple[Rule, ...] = (
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "the Apollo plan of this key does not include this endpoint ({status}): {detail}",
        status=403,
        when=lambda p: _code(p) == "API_INACCESSIBLE",
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "Apollo refused this key for the endpoint ({status}); people search needs a master API key: {detail}",
        status=403,
    ),
    Rule(Action.FAIL, Kind.OUR_BUG, "Apollo refused the request's parameters ({status}): {detail}", status=422),
)
ERROR_TABLE = ErrorTable(APOLLO_RULES + DEFAULT_RULES, detail=apollo_detail)


def plan_limits(plan: str, *, api_key: str) -> dict[str, list[RateLimit]]:
    """The plan's windows as client-side limits, keyed by the API key (a team's budget), not the connector."""
    team = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return {
        kind: [RateLimit(f"{n}/{w}", key=f"apollo:{team}:{kind}") for n, w in zip(windows, WINDOWS, strict=True) if n]
        for kind, windows in PLAN_LIMITS[plan].items()
    }


class ApolloClient:
    def __init__(self, *, config: ConnectorConfig, api_key: str, plan: str) -> None:
        policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter([api_key])
        )
        self.limits = plan_limits(plan, api_key=api_key)
        self.http = HttpClient(
            base_url=config.base_url,
            policy=policy,
            headers={"x-api-key": api_key, "Accept": "application/json", "Cache-Control": "no-cache"},
            timeout_s=config.timeout_s,
            limits=self.limits["other"],
        )

    def search_people(self, filters: Mapping[str, Any], *, page: int, per_page: int) -> dict[str, Any]:
        """``POST /mixed_people/api_search``: ``{"pagination": {...}, "people": [...]}``."""
        body = {**filters, "page": page, "per_page": per_page}
        data = self.http.post(SEARCH_PATH, json=body)
        return data if isinstance(data, dict) else {}

    def enrich_organization(self, domain: str) -> dict[str, Any] | None:
        """``GET /organizations/enrich?domain=``: the organisation, or None when Apollo does not know the domain
        (answered as ``{}`` or without ``organization``: both seen, unconfirmed which)."""
        data = self.http.get(ORG_ENRICH_PATH, params={"domain": domain}, limits=self.limits["enrichment"])
        org = data.get("organization") if isinstance(data, dict) else None
        return org if isinstance(org, dict) and org else None

    def close(self) -> None:
        self.http.close()
