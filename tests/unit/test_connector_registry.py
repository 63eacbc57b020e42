"""Every registry entry imports and keeps the contract; kinds not built yet say so."""

from __future__ import annotations

import pytest

from connectors.base import Connector, ConnectorConfig
from connectors.registry import KINDS, NOT_YET_AVAILABLE
from core.ingest import ENTITIES

ISSUE_KINDS = ["hubspot", "salesforce", "gong", "slack", "netsuite", "lattice", "apollo", "usergems"]


def test_the_kinds_are_the_eight_sources() -> None:
    assert list(KINDS) == ISSUE_KINDS


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if v.available])
def test_every_available_entry_imports_and_keeps_the_contract(kind: str) -> None:
    entry = KINDS[kind]
    cls = entry.connector_class
    assert issubclass(cls, Connector) and cls.kind == kind
    assert issubclass(entry.config_model, ConnectorConfig) and "base_url" in entry.config_model.model_fields
    connector = entry.build(entry.config_model.model_validate({"token": "t-0123456789"}), name="probe")
    try:
        streams = connector.streams()
        assert streams and len({s.name for s in streams}) == len(streams)
        assert all(s.entity in ENTITIES for s in streams)
    finally:
        connector.close()


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if not v.available])
def test_kinds_not_built_yet_say_so(kind: str) -> None:
    assert KINDS[kind].status == NOT_YET_AVAILABLE
    with pytest.raises(LookupError, match=NOT_YET_AVAILABLE):
        KINDS[kind].connector_class
