"""The Salesforce connector: Account, Contact, Opportunity (with its stage history), Task and Event,
each one object read by the shared SOQL reader (``reader.py``: SystemModstamp windows, queryMore,
queryAll + getDeleted for deletes).

Each page is enriched before it is mapped: the owners' emails (``User`` by id, cached for the run) and,
for opportunities, their ``OpportunityHistory`` rows (salesforce.md 4: a snapshot row per change of
stage, amount, probability or close date, no setup needed), attached under ``OpportunityHistories`` as
a parent-to-child subquery would return them. A stage change writes a history row and moves the
opportunity's SystemModstamp, so the incremental read picks the opportunity up again with its new row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field, field_validator

from connectors.base import Connector, Page, StreamSpec
from connectors.base.mapping import check_stage_map
from connectors.salesforce import mapping
from connectors.salesforce.config import SalesforceConnection
from connectors.salesforce.mapping import MappingContext
from connectors.salesforce.reader import ObjectStream, SoqlCheckpoint, SoqlReader


class SalesforceConfig(SalesforceConnection):
    stage_map: dict[str, str] = Field(default_factory=dict)  # the org's StageName -> our stage
    default_currency: str = Field("USD", pattern=r"^[A-Za-z]{3}$")  # when the org is not multi-currency
    units_field: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")  # e.g. Units_Managed__c

    @field_validator("stage_map")
    @classmethod
    def _check_stages(cls, v: dict[str, str]) -> dict[str, str]:
        check_stage_map(v)
        return {k.strip().lower(): s for k, s in v.items()}


@dataclass(frozen=True)
class Stream:
    obj: ObjectStream
    mapper: Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]
    history: bool = False


_COMMON = ("OwnerId", "CreatedDate", "LastModifiedDate")
STREAMS: tuple[Stream, ...] = (
    Stream(
        ObjectStream(
            StreamSpec("accounts", "accounts", "Salesforce Account"),
            "Account",
            ("Name", *_COMMON),
            optional=("Type", "Website", "BillingCity", "BillingState", "BillingStateCode"),
        ),
        mapping.map_account,
    ),
    Stream(
        ObjectStream(
            StreamSpec("contacts", "contacts", "Salesforce Contact, with its account"),
            "Contact",
            ("AccountId", "FirstName", "LastName", "Email", *_COMMON),
            optional=("Title", "Phone", "MobilePhone"),
        ),
        mapping.map_contact,
    ),
    Stream(
        ObjectStream(
            StreamSpec("deals", "deals", "Salesforce Opportunity, with its stage history"),
            "Opportunity",
            ("AccountId", "Name", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", *_COMMON),
            optional=("Type", "CurrencyIsoCode"),
        ),
        mapping.map_opportunity,
        history=True,
    ),
    Stream(
        ObjectStream(
            StreamSpec("tasks", "activities", "Salesforce Task (calls, emails, to-dos)"),
            "Task",
            ("WhoId", "WhatId", "Subject", "Status", "ActivityDate", *_COMMON),
            optional=("AccountId", "Description", "Type", "TaskSubtype", "CompletedDateTime"),
        ),
        mapping.map_task,
    ),
    Stream(
        ObjectStream(
            StreamSpec("events", "activities", "Salesforce Event (meetings)"),
            "Event",
            ("WhoId", "WhatId", "Subject", "ActivityDate", *_COMMON),
            optional=("AccountId", "Description", "StartDateTime", "ActivityDateTime"),
        ),
        mapping.map_event,
    ),
)
BY_STREAM: dict[str, Stream] = {s.obj.spec.name: s for s in STREAMS}

HISTORY_SOQL = (
    "SELECT Id, OpportunityId, StageName, CreatedDate FROM OpportunityHistory "
    "WHERE OpportunityId IN {ids} ORDER BY OpportunityId ASC, CreatedDate ASC"
)
USERS_SOQL = "SELECT Id, Email FROM User WHERE Id IN {ids}"
STAGES_SOQL = "SELECT MasterLabel, IsClosed, IsWon FROM OpportunityStage"


def _for_config(stream: Stream, config: SalesforceConfig) -> Stream:
    if stream.obj.sobject == "Account" and config.units_field:
        return replace(stream, obj=replace(stream.obj, fields=(*stream.obj.fields, config.units_field)))
    return stream


class SalesforceConnector(Connector):
    kind = "salesforce"
    label = "Salesforce"
    source = mapping.SOURCE
    config_model = SalesforceConfig

    def __init__(self, config: SalesforceConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: SalesforceConfig = config
        self.client = config.client()
        self.reader = SoqlReader(self.client, lag_s=config.modstamp_lag_s, on_page=self._enrich)
        self._streams = {name: _for_config(s, config) for name, s in BY_STREAM.items()}
        self._owners: dict[str, str] = {}
        self._stages: dict[str, mapping.OpportunityStage] | None = None

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.obj.spec for s in STREAMS]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        return self.reader.fetch_page(self._streams[stream.name].obj, cursor)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return BY_STREAM[stream.name].mapper(record, self._context())

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        oid = record.get("Id")
        return str(oid) if oid else None

    def check(self) -> str:
        for s in self._streams.values():
            self.reader.soql(s.obj, SoqlCheckpoint(until="2000-01-01T00:00:00Z"))  # describes, checks fields
        usage = f"; API usage {self.client.api_usage[0]}/{self.client.api_usage[1]}" if self.client.api_usage else ""
        objects = ", ".join(s.obj.sobject for s in STREAMS)
        return f"Salesforce at {self.config.base_url} accepted the token; it can read {objects}{usage}"

    def close(self) -> None:
        self.client.close()

    # ---- enrichment ---------------------------------------------------------------------------

    def _enrich(self, obj: ObjectStream, records: list[dict[str, Any]]) -> None:
        unknown = {
            str(r["OwnerId"])
            for r in records
            if str(r.get("OwnerId") or "").startswith(mapping.USER_PREFIX) and str(r["OwnerId"]) not in self._owners
        }
        if unknown:
            for user in self.client.query_in(lambda ids: USERS_SOQL.format(ids=ids), sorted(unknown)):
                if user.get("Email"):
                    self._owners[str(user["Id"])] = str(user["Email"]).lower()
        if BY_STREAM[obj.spec.name].history:
            self._attach_history(records)

    def _attach_history(self, records: list[dict[str, Any]]) -> None:
        if self._stages is None:
            self._stages = mapping.opportunity_stages(self.client.query_all(STAGES_SOQL))
        ids = [str(r["Id"]) for r in records if r.get("Id")]
        rows: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for row in self.client.query_in(lambda chunk: HISTORY_SOQL.format(ids=chunk), ids):
            rows.setdefault(str(row.get("OpportunityId")), []).append(row)
        for r in records:
            found = rows.get(str(r.get("Id")), [])
            r[mapping.HISTORY_KEY] = {"totalSize": len(found), "done": True, "records": found}

    def _context(self) -> MappingContext:
        return MappingContext(
            owners=self._owners,
            stage_map=self.config.stage_map,
            stages=self._stages or {},
            default_currency=self.config.default_currency.upper(),
            units_field=self.config.units_field,
        )
