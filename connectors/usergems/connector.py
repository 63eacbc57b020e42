"""The UserGems connector: job changes read from the customer's Salesforce, where UserGems writes them.

The connection settings, client, SOQL reader (SystemModstamp windows, queryMore, queryAll + getDeleted)
and error table are the Salesforce connector's (``connectors.salesforce``); what is UserGems' own is
which object and fields hold its data (``client.py``) and how they map (``mapping.py``). Records carry
the source "usergems"; their contact/account references point at Salesforce records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from connectors.base import Action, Connector, ConnectorError, Kind, Page, StreamSpec
from connectors.salesforce import ObjectStream, SalesforceConnection, SoqlCheckpoint, SoqlReader
from connectors.usergems import mapping
from connectors.usergems.client import CANDIDATES, DEFAULT_OBJECT, resolve_fields

API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
JOB_CHANGES = StreamSpec("job_changes", "job_changes", "UserGems job changes, from its records in Salesforce")


class UserGemsConfig(SalesforceConnection):
    """The Salesforce org UserGems delivers into (base_url = its instance URL, token = an access token)."""

    object: str = Field(DEFAULT_OBJECT, pattern=API_NAME)  # or Contact / Lead with a `where`
    fields: dict[str, str] = Field(default_factory=dict)  # our field -> API name (or relationship path)
    where: str | None = None  # an extra SOQL condition, e.g. UG_Past_Contact__c != null

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(CANDIDATES))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; ours are {', '.join(CANDIDATES)}")
        bad = [
            api for api in v.values() if not all(part and part.replace("_", "a").isalnum() for part in api.split("."))
        ]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Salesforce field name")
        return v


class UserGemsConnector(Connector):
    kind = "usergems"
    label = "UserGems"
    source = mapping.SOURCE
    config_model = UserGemsConfig

    def __init__(self, config: UserGemsConfig, *, name: str) -> None:
        super().__init__(config, name=name)
        self.config: UserGemsConfig = config
        self.client = config.client()
        self.reader = SoqlReader(self.client, lag_s=config.modstamp_lag_s)
        self._fields: dict[str, str] | None = None
        self._object: ObjectStream | None = None

    # ---- contract -----------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [JOB_CHANGES]

    def fetch_page(self, stream: StreamSpec, cursor: Mapping[str, Any] | None) -> Page:
        return self.reader.fetch_page(self._stream(), cursor)

    def map_record(self, stream: StreamSpec, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return mapping.map_salesforce(record, self._fields or {})

    def external_id(self, stream: StreamSpec, record: Mapping[str, Any]) -> str | None:
        oid = record.get("Id")
        return str(oid) if oid else None

    def check(self) -> str:
        obj = self._stream()
        self.reader.soql(obj, SoqlCheckpoint(until="2000-01-01T00:00:00Z"))
        read = ", ".join(f"{ours}={api}" for ours, api in (self._fields or {}).items())
        return f"Salesforce at {self.config.base_url} holds UserGems data in {obj.sobject}; reading {read}"

    def close(self) -> None:
        self.client.close()

    # ---- the object ---------------------------------------------------------------------------

    def _stream(self) -> ObjectStream:
        if self._object is None:
            sobject = self.config.object
            try:
                describe = self.reader.describe(sobject)
            except ConnectorError as exc:
                if exc.http_status != 404:
                    raise
                raise ConnectorError(
                    f"Salesforce has no object {sobject} the integration user can read: is the UserGems package "
                    "installed, and does the user's profile grant read access to its object? (or set object=)",
                    action=Action.FAIL,
                    kind=Kind.CREDENTIALS,
                    http_status=404,
                ) from None
            self._fields = resolve_fields(describe, self.config.fields, sobject=sobject)
            selected = tuple(dict.fromkeys(self._fields.values()))
            self._object = ObjectStream(
                JOB_CHANGES, sobject, selected, optional=("CreatedDate", "LastModifiedDate"), where=self.config.where
            )
        return self._object
