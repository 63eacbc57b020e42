"""HubSpot over the official client (``hubspot-api-client``), under our call policy.

How the official client is used, and why:
- ``HubSpot(access_token=..., host=base_url, retry=False)``: the host is configurable (tests, regional
  tenants). Its own retries (a urllib3 ``Retry``) are switched OFF: they would retry a 429 whatever
  HubSpot's ``policyName`` says (a DAILY limit does not lift in seconds), happen beneath our rate
  limiter, and end in an exception our error table never sees. Every call instead goes through
  ``CallPolicy``: rate limits, the error table, backoff with jitter, Retry-After, secret filtering.
- Calls pass ``_preload_content=False`` and we decode the JSON ourselves: records keep the documented
  wire shape (camelCase keys, string property values) that the mapping reads and ``raw`` stores,
  instead of the generated models' snake_case objects, and no time goes into building those models.
- Each ``client.crm...<x>_api`` property builds a new ApiClient with its own urllib3 pool, so each API
  object is built once here and reused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import hubspot.crm.associations.v4.exceptions as assoc_exc
import hubspot.crm.objects.exceptions as objects_exc
import hubspot.crm.owners.exceptions as owners_exc
import hubspot.crm.pipelines.exceptions as pipelines_exc
from hubspot import HubSpot

from connectors.base import (
    DEFAULT_RULES,
    Action,
    BadResponse,
    CallPolicy,
    ConnectorConfig,
    ErrorTable,
    Kind,
    Problem,
    RateLimit,
    Rule,
    SecretFilter,
    default_detail,
)

VENDOR = "HubSpot"
DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_PAGE_MAX = 200  # search `limit` maximum (hubspot.md 3.2)
LIST_PAGE_MAX = 100  # list `limit` maximum (3.1)
HISTORY_BATCH_MAX = 50  # propertiesWithHistory lowers the page maximum; Airbyte reads history 50 at a time (3.1)
ASSOCIATIONS_BATCH_MAX = 100  # v4 batch read inputs per call: the documented maximum is unconfirmed; stay low
OWNERS_PAGE_MAX = 100
CONNECT_TIMEOUT_MAX_S = 10.0
# The general limit is per account: 100 requests / 10 s on Free/Starter (150 on Professional/Enterprise);
# search has its own, lower limit of 4 requests / s per token (hubspot.md 5). Search calls count
# against both here, which is the conservative reading.
GENERAL_RATE = "{n}/10 seconds"
SEARCH_RATE = "{n}/second"

# Each generated sub-package raises its own ApiException class.
API_EXCEPTIONS: tuple[type[Exception], ...] = (
    objects_exc.ApiException,
    assoc_exc.ApiException,
    owners_exc.ApiException,
    pipelines_exc.ApiException,
)

# The generated REST layer logs whole response bodies at DEBUG: vendor data has no place in our logs.
logging.getLogger("hubspot").setLevel(logging.INFO)


def hubspot_detail(p: Problem) -> str:
    """HubSpot's error body: ``{"status": "error", "message": ..., "category": ...}``."""
    body = p.json()
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        category = body.get("category") or body.get("errorType") or body.get("policyName")
        return f"{category}: {body['message']}" if category else body["message"]
    return default_detail(p)


def _policy_name(p: Problem) -> str | None:
    body = p.json()
    return body.get("policyName") if isinstance(body, Mapping) else None


def _category(p: Problem) -> str | None:
    body = p.json()
    return body.get("category") if isinstance(body, Mapping) else None


HUBSPOT_RULES: tuple[Rule, ...] = (
    Rule(
        Action.FAIL,
        Kind.VENDOR,
        "HubSpot's daily API limit for this account is used up; it resets at midnight in the account's "
        "time zone ({status}): {detail}",
        status=429,
        when=lambda p: _policy_name(p) == "DAILY",
    ),
    Rule(
        Action.FAIL,
        Kind.CREDENTIALS,
        "the HubSpot token lacks a scope this connector needs ({status}): {detail}",
        status=403,
        when=lambda p: _category(p) == "MISSING_SCOPES",
    ),
)
ERROR_TABLE = ErrorTable(HUBSPOT_RULES + DEFAULT_RULES, detail=hubspot_detail)


class HubSpotClient:
    """The HubSpot calls the connector makes, each returning decoded JSON in HubSpot's documented shape."""

    def __init__(
        self,
        *,
        config: ConnectorConfig,
        token: str,
        name: str,
        requests_per_10s: int,
        search_requests_per_s: int,
    ) -> None:
        sdk = HubSpot(access_token=token, host=config.base_url, retry=False)
        self._basic = sdk.crm.objects.basic_api
        self._search_api = sdk.crm.objects.search_api
        self._batch = sdk.crm.objects.batch_api
        self._associations = sdk.crm.associations.v4.batch_api
        self._owners = sdk.crm.owners.owners_api
        self._pipelines = sdk.crm.pipelines.pipelines_api
        self._apis = (self._basic, self._search_api, self._batch, self._associations, self._owners, self._pipelines)
        self.policy = CallPolicy(
            vendor=VENDOR, table=ERROR_TABLE, retry=config.retry_settings(), redact=SecretFilter([token])
        )
        self._general = RateLimit(GENERAL_RATE.format(n=requests_per_10s), key=f"hubspot:{name}:general")
        self._search_limit = RateLimit(SEARCH_RATE.format(n=search_requests_per_s), key=f"hubspot:{name}:search")
        self._timeout = (min(CONNECT_TIMEOUT_MAX_S, config.timeout_s), config.timeout_s)

    # ---- the calls ----------------------------------------------------------------------------

    def search(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/{type}/search``."""
        return self._call(
            self._search_api.do_search,
            object_type,
            dict(body),
            limits=(self._search_limit, self._general),
            what=f"search {object_type}",
        )

    def list_page(
        self,
        object_type: str,
        *,
        limit: int,
        after: str | None = None,
        properties: Sequence[str] = (),
        archived: bool = False,
    ) -> dict[str, Any]:
        """``GET /crm/v3/objects/{type}`` (with ``archived=true``: only archived records)."""
        kwargs: dict[str, Any] = {"limit": limit, "archived": archived}
        if after:
            kwargs["after"] = after
        if properties:
            kwargs["properties"] = list(properties)
        return self._call(self._basic.get_page, object_type, what=f"list {object_type}", **kwargs)

    def history(self, object_type: str, ids: Sequence[str], properties: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``propertiesWithHistory`` of the given records, by id (``POST .../batch/read``)."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, HISTORY_BATCH_MAX):
            body = {"inputs": [{"id": i} for i in chunk], "properties": [], "propertiesWithHistory": list(properties)}
            data = self._call(self._batch.read, object_type, body, what=f"history of {object_type}")
            for obj in data.get("results", []):
                found[str(obj["id"])] = obj.get("propertiesWithHistory") or {}
        return found

    def associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Associated ids of the given records (``POST /crm/v4/associations/{from}/{to}/batch/read``):
        ``{from_id: [{"id": "987", "associationTypes": [...]}]}``."""
        found: dict[str, list[dict[str, Any]]] = {}
        for chunk in _chunks(ids, ASSOCIATIONS_BATCH_MAX):
            body = {"inputs": [{"id": i} for i in chunk]}
            data = self._call(
                self._associations.get_page, from_type, to_type, body, what=f"{from_type} to {to_type} associations"
            )
            for row in data.get("results", []):
                found[str(row["from"]["id"])] = [
                    {"id": str(to["toObjectId"]), "associationTypes": to.get("associationTypes", [])}
                    for to in row.get("to", [])
                ]
        return found

    def owners(self) -> dict[str, str]:
        """Owner id -> email (``GET /crm/v3/owners/``)."""
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": OWNERS_PAGE_MAX}
            if after:
                kwargs["after"] = after
            data = self._call(self._owners.get_page, what="owners", **kwargs)
            for owner in data.get("results", []):
                if owner.get("email"):
                    found[str(owner["id"])] = owner["email"]
            after = next_after(data)
            if not after:
                return found

    def pipelines(self, object_type: str) -> list[dict[str, Any]]:
        """``GET /crm/v3/pipelines/{type}`` (not paged)."""
        return self._call(self._pipelines.get_all, object_type, what=f"{object_type} pipelines").get("results", [])

    def close(self) -> None:
        for api in self._apis:
            api.api_client.rest_client.pool_manager.clear()

    # ---- one call under the policy -------------------------------------------------------------

    def _call(
        self,
        method: Callable[..., Any],
        *args: Any,
        what: str,
        limits: Sequence[RateLimit] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            try:
                response = method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            except API_EXCEPTIONS as exc:
                status = getattr(exc, "status", 0) or 0
                if status == 0:  # the client's way of reporting a TLS failure: no response at all
                    raise ConnectionError(str(getattr(exc, "reason", "") or "TLS error")) from None
                headers = dict(getattr(exc, "headers", None) or {})
                raise BadResponse(Problem(status, headers, _text(getattr(exc, "body", "")))) from None
            try:
                data = response.data  # reading the body can fail too (connection cut mid-way)
            finally:
                response.release_conn()
            return json.loads(data) if data else {}

        return self.policy.call(once, limits=(self._general,) if limits is None else limits, what=what)


def next_after(data: Mapping[str, Any]) -> str | None:
    """``paging.next.after``; absent on the last page."""
    nxt = (data.get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after not in (None, "") else None


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body or ""
