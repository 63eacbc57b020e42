"""The HubSpot connector: one spec per stream and one generic loop over the CRM search API.

Incremental reading (hubspot.md 3.2, 4, 6). A *pass* reads the window of records modified in
``(since, until]``, ``until`` fixed when the pass starts (a little in the past: the search index lags
writes). Within the pass, records are sorted by ``hs_object_id`` and every page asks for ids above the
last one read: keyset paging, so the query is re-anchored on every page. That keeps every query far from
the 10,000-result cap (``after`` >= 10,000 is an HTTP 400) and, unlike offset paging, cannot skip a
record when another one leaves the window mid-pass (modified again, its new date is past ``until``: the
next pass reads it). After the changes, the pass lists archived records (search never returns them)
and applies those archived since the window start as deletes. Then ``since`` = ``until``.

Searches return no associations and no property history, so each page is enriched: v4 batch
associations for the related records, ``batch/read`` with ``propertiesWithHistory=dealstage,closedate`` for deals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from pydantic import Field, SecretStr, field_validator

from connectors.base import (
    Checkpoint,
    Connector,
    ConnectorConfig,
    ConnectorError,
    Kind,
    Page,
    StageMapping,
    StreamSpec,
)
from connectors.base.mapping import check_stage_map
from connectors.hubspot import mapping
from connectors.hubspot.client import DEFAULT_BASE_URL, LIST_PAGE_MAX, SEARCH_PAGE_MAX, HubSpotClient, next_after
from connectors.hubspot.mapping import MappingContext

log = structlog.get_logger(__name__)

OBJECT_ID = "hs_object_id"
DEFAULT_SEARCH_LAG_S = 60.0  # the search index lags writes by "a few seconds" (hubspot.md 3.2, unconfirmed)


class HubSpotConfig(ConnectorConfig):
    base_url: str = DEFAULT_BASE_URL
    token: SecretStr  # a private app access token (pat-...)
    page_size: int = Field(SEARCH_PAGE_MAX, ge=1, le=SEARCH_PAGE_MAX)
    search_lag_s: float = Field(DEFAULT_SEARCH_LAG_S, ge=0, le=3600)
    requests_per_10s: int = Field(100, ge=1, le=1000)  # 100 on Free/Starter, 150 on Professional/Enterprise
    search_requests_per_s: int = Field(4, ge=1, le=100)
    # tenant deal stage id -> our stage: overrides what the stage's pipeline metadata implies
    stage_map: dict[str, str] = Field(default_factory=dict)
    units_property: str | None = None  # a company property holding units managed
    portal_id: str | None = Field(None, pattern=r"^\d{1,12}$")  # the HubSpot account id, for links to records

    @field_validator("stage_map")
    @classmethod
    def _check_stages(cls, v: dict[str, str]) -> dict[str, str]:
        check_stage_map(v)
        return v


class SearchCheckpoint(Checkpoint):
    since_ms: int | None = None  # window start (exclusive), epoch ms; None: from the beginning
    until_ms: int | None = None  # window end (inclusive) of the pass in progress; None: no pass in progress
    after_id: int | None = None  # the last hs_object_id read in this pass
    phase: Literal["changes", "archived"] = "changes"
    archived_after: str | None = None  # paging cursor of the archived listing in progress


@dataclass(frozen=True)
class ObjectStream:
    spec: StreamSpec
    object_type: str
    modified: str  # the last-modified property (contacts name it differently)
    properties: tuple[str, ...]
    mapper: Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]
    associations: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    owners: bool = True

    def external_id(self, record: Mapping[str, Any]) -> str:
        if self.object_type in mapping.ENGAGEMENTS:
            return mapping.engagement_id(self.object_type, record.get("id"))
        return str(record.get("id"))


_ENGAGEMENT_COMMON = ("hs_timestamp", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate")
_ENGAGEMENT_PROPERTIES = {
    "notes": ("hs_note_body",),
    "emails": ("hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_direction", "hs_email_status"),
    "meetings": (
        "hs_meeting_title",
        "hs_meeting_body",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
        "hs_meeting_outcome",
    ),
    "calls": (
        "hs_call_title",
        "hs_call_body",
        "hs_call_direction",
        "hs_call_duration",
        "hs_call_disposition",
        "hs_call_status",
    ),
}

STREAMS: tuple[ObjectStream, ...] = (
    ObjectStream(
        StreamSpec("companies", "accounts", "HubSpot companies"),
        "companies",
        "hs_lastmodifieddate",
        (
            "name",
            "domain",
            "city",
            "state",
            "country",
            "lifecyclestage",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
        ),
        mapping.map_company,
    ),
    ObjectStream(
        StreamSpec("contacts", "contacts", "HubSpot contacts, with their primary company"),
        "contacts",
        "lastmodifieddate",
        ("firstname", "lastname", "email", "phone", "jobtitle", "createdate", "lastmodifieddate"),
        mapping.map_contact,
        associations=("companies",),
        owners=False,
    ),
    ObjectStream(
        StreamSpec("deals", "deals", "HubSpot deals, with stage history and company"),
        "deals",
        "hs_lastmodifieddate",
        (
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "dealtype",
            "hubspot_owner_id",
            "deal_currency_code",
            "createdate",
            "hs_lastmodifieddate",
        ),
        mapping.map_deal,
        associations=("companies",),
        history=("dealstage", "closedate"),
    ),
    *(
        ObjectStream(
            StreamSpec(kind, "activities", f"HubSpot {kind} (engagements)"),
            kind,
            "hs_lastmodifieddate",
            _ENGAGEMENT_COMMON + extra,
            mapping.engagement_mapper(kind),
            associations=("companies", "contacts", "deals"),
        )
        for kind, extra in _ENGAGEMENT_PROPERTIES.items()
    ),
)
BY_STREAM: dict[str, ObjectStream] = {s.spec.name: s for s in STREAMS}


class HubSpotConnector(Connector):
    kind = "hubspot"
    label = "HubSpot"
    source = "hubspot"
    config_model = HubSpotConfig

    def __init__(self, config: HubSpotConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: HubSpotConfig = config
        self.client = HubSpotClient(
            config=config,
            token=config.token.get_secret_value(),
            name=name,
            requests_per_10s=config.requests_per_10s,
            search_requests_per_s=config.search_requests_per_s,
        )
        self._owners: dict[str, str] | None = None
        self._stages: dict[str, mapping.PipelineStage] | None = None

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.spec for s in STREAMS]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        obj = BY_STREAM[stream.name]
        cp = SearchCheckpoint.load(cursor, stream=stream.name) or SearchCheckpoint()
        if cp.until_ms is None:
            cp = self._start_pass(cp)
        if cp.phase == "changes":
            return self._changes(obj, cp)
        return self._archived(obj, cp)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return BY_STREAM[stream.name].mapper(record, self._context())

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        return BY_STREAM[stream.name].external_id(record) if record.get("id") is not None else None

    def check(self) -> str:
        for obj in STREAMS:
            self.client.list_page(obj.object_type, limit=1)
        kinds = ", ".join(s.object_type for s in STREAMS)
        return f"HubSpot at {self.config.base_url} accepted the token; it can read {kinds}"

    def stage_mappings(self) -> list[StageMapping]:
        """Every deal stage of the portal's pipelines and the stage of ours its deals get (and why)."""
        self._load_stages()
        return mapping.stage_mappings(self._context())

    def close(self) -> None:
        self.client.close()

    # ---- steps --------------------------------------------------------------------------------

    def _start_pass(self, cp: SearchCheckpoint) -> SearchCheckpoint:
        until = int((time.time() - self.config.search_lag_s) * 1000)
        if cp.since_ms is not None:
            until = max(until, cp.since_ms)
        return SearchCheckpoint(since_ms=cp.since_ms, until_ms=until)

    def _changes(self, obj: ObjectStream, cp: SearchCheckpoint) -> Page:
        filters = [{"propertyName": obj.modified, "operator": "LTE", "value": str(cp.until_ms)}]
        if cp.since_ms is not None:
            filters.append({"propertyName": obj.modified, "operator": "GT", "value": str(cp.since_ms)})
        if cp.after_id is not None:
            filters.append({"propertyName": OBJECT_ID, "operator": "GT", "value": str(cp.after_id)})
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": OBJECT_ID, "direction": "ASCENDING"}],
            "properties": list(self._properties(obj)),
            "limit": self.config.page_size,
        }
        data = self.client.search(obj.object_type, body)
        results = list(data.get("results", []))
        self._enrich(obj, results)
        last_page = not results or next_after(data) is None
        if last_page:
            nxt = cp.model_copy(update={"phase": "archived", "after_id": None})
        else:
            nxt = cp.model_copy(update={"after_id": int(results[-1]["id"])})
        return Page(records=results, next_cursor=nxt, done=False, remaining=data.get("total"))

    def _archived(self, obj: ObjectStream, cp: SearchCheckpoint) -> Page:
        data = self.client.list_page(
            obj.object_type, limit=LIST_PAGE_MAX, after=cp.archived_after, properties=(obj.modified,), archived=True
        )
        gone = [
            obj.external_id(r)
            for r in data.get("results", [])
            if cp.since_ms is None or (mapping.time_ms(r.get("archivedAt")) or 0) > cp.since_ms
        ]
        after = next_after(data)
        if after:
            return Page(
                records=[], deletes=gone, next_cursor=cp.model_copy(update={"archived_after": after}), done=False
            )
        return Page(records=[], deletes=gone, next_cursor=SearchCheckpoint(since_ms=cp.until_ms), done=True)

    def _properties(self, obj: ObjectStream) -> tuple[str, ...]:
        if obj.object_type == "companies" and self.config.units_property:
            return (*obj.properties, self.config.units_property)
        return obj.properties

    def _enrich(self, obj: ObjectStream, results: list[dict[str, Any]]) -> None:
        """Add what search leaves out, in the list endpoint's shape: associations and property history."""
        if not results:
            return
        ids = [str(r["id"]) for r in results]
        for to_type in obj.associations:
            found = self.client.associations(obj.object_type, to_type, ids)
            for r in results:
                r.setdefault("associations", {})[to_type] = {"results": found.get(str(r["id"]), [])}
        if obj.history:
            history = self.client.history(obj.object_type, ids, obj.history)
            for r in results:
                r["propertiesWithHistory"] = history.get(str(r["id"]), {})
        if obj.owners:
            self._load_owners()
        if obj.history:
            self._load_stages()

    def _context(self) -> MappingContext:
        return MappingContext(
            owners=self._owners or {},
            stage_map=self.config.stage_map,
            pipeline_stages=self._stages or {},
            units_property=self.config.units_property,
        )

    def _load_owners(self) -> None:
        if self._owners is not None:
            return
        try:
            self._owners = self.client.owners()
        except ConnectorError as exc:
            if exc.kind is not Kind.CREDENTIALS or exc.http_status != 403:
                raise
            # owners need the crm.objects.owners.read scope; without it records keep no owner
            log.warning("hubspot.owners_unavailable", connector=self.name, error=exc.message)
            self._owners = {}

    def _load_stages(self) -> None:
        if self._stages is None:
            self._stages = mapping.pipeline_stages(self.client.pipelines("deals"))
