"""Every registry entry imports and keeps the contract."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.base import Connector, ConnectorConfig
from connectors.registry import KINDS
from core.ingest import ENTITIES

ISSUE_KINDS = ["hubspot", "salesforce", "gong", "slack", "netsuite", "lattice", "apollo", "usergems"]


def test_the_kinds_are_the_eight_sources() -> None:
    assert list(KINDS) == ISSUE_KINDS


def _minimal_config(model: type[ConnectorConfig]) -> ConnectorConfig:
    """A config with every required field and one way of giving credentials: a token, or else every
    credential field (kinds that accept one of several ways). Enough to build the connector; no call."""

    def dummy(info) -> object:  # noqa: ANN001
        return 1 if info.annotation in (int, float) else "probe-0123456789"

    required = {n: dummy(i) for n, i in model.model_fields.items() if i.is_required()}
    secrets = {n: dummy(i) for n, i in model.model_fields.items() if "SecretStr" in str(i.annotation)}
    tries = [
        {**required, "token": "probe-0123456789"} if "token" in model.model_fields else required,
        {**required, **{k: v for k, v in secrets.items() if k != "token"}},
    ]
    for values in tries:
        try:
            return model.model_validate(values)
        except ValidationError:
            continue
    return model.model_validate({**required, **secrets})  # raises, naming what is missing


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if v.available])
def test_every_available_entry_imports_and_keeps_the_contract(kind: str) -> None:
    entry = KINDS[kind]
    cls = entry.connector_class
    assert issubclass(cls, Connector) and cls.kind == kind
    assert issubclass(entry.config_model, ConnectorConfig) and "base_url" in entry.config_model.model_fields
    connector = entry.build(_minimal_config(entry.config_model), name="probe")
    try:
        streams = connector.streams()
        assert streams and len({s.name for s in streams}) == len(streams)
        assert all(s.entity in ENTITIES for s in streams)
    finally:
        connector.close()
