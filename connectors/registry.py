"""Connector kinds: kind -> the class that implements it, or None while it is not yet available.

Classes are named by import path and imported on first use, so listing kinds loads no vendor SDK; a
test imports every entry (tests/unit/test_connector_registry.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

from connectors.base import Connector, ConnectorConfig

NOT_YET_AVAILABLE = "not yet available"


@dataclass(frozen=True)
class Kind:
    kind: str
    label: str
    target: str | None  # "module:Class", None while the kind is not implemented

    @property
    def available(self) -> bool:
        return self.target is not None

    @property
    def status(self) -> str:
        return "available" if self.available else NOT_YET_AVAILABLE

    @cached_property
    def connector_class(self) -> type[Connector]:
        if self.target is None:
            raise LookupError(f"{self.label} connectors are {NOT_YET_AVAILABLE}")
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def config_model(self) -> type[ConnectorConfig]:
        return self.connector_class.config_model

    def build(self, config: ConnectorConfig, *, name: str) -> Connector:
        return self.connector_class(config, name=name)


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("hubspot", "HubSpot", "connectors.hubspot:HubSpotConnector"),
        Kind("salesforce", "Salesforce", "connectors.salesforce:SalesforceConnector"),
        Kind("gong", "Gong", "connectors.gong:GongConnector"),
        Kind("slack", "Slack", "connectors.slack:SlackConnector"),
        Kind("netsuite", "NetSuite", "connectors.netsuite:NetSuiteConnector"),
        Kind("lattice", "Lattice", "connectors.lattice:LatticeConnector"),
        Kind("apollo", "Apollo.io", "connectors.apollo:ApolloConnector"),
        Kind("usergems", "UserGems", "connectors.usergems:UserGemsConnector"),
    )
}
