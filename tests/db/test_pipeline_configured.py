"""Configured connectors: validated at the edge, secrets encrypted or read from env vars, masked when shown."""

from __future__ import annotations

import pytest

from connectors.registry import KINDS
from core import pipelines
from core.crypto import SecretBox
from core.errors import ConfigError, Conflict, InvalidInput
from core.runtime import Runtime

TOKEN = "pat-na1-11112222-3333-4444"


def add(rt: Runtime, name: str = "hs", kind: str = "hubspot", **values: str):
    with rt.session() as s:
        row = pipelines.add_connector(
            session=s,
            box=SecretBox.from_settings(rt.settings),
            kinds=KINDS,
            kind=kind,
            name=name,
            values=values,
            actor="test",
        )
        return pipelines.describe(row=row, box=SecretBox.from_settings(rt.settings), kinds=KINDS)


def load(rt: Runtime, name: str = "hs", box: SecretBox | None = None):
    with rt.session() as s:
        row = pipelines.get_connector(session=s, name=name)
        return pipelines.load_config(row=row, box=box or SecretBox.from_settings(rt.settings), kinds=KINDS)


def test_a_secret_is_stored_encrypted_shown_masked_and_loaded_whole(any_runtime: Runtime) -> None:
    shown = add(any_runtime, token=TOKEN, base_url="https://api.hubapi.com/", **{"stage_map.123": "demo"})
    assert shown["config"] == {"token": "••••4444", "base_url": "https://api.hubapi.com/", "stage_map": {"123": "demo"}}
    config = load(any_runtime)
    assert config.token.get_secret_value() == TOKEN and config.base_url == "https://api.hubapi.com"
    assert TOKEN not in repr(config)


def test_a_secret_from_the_environment(any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPHIA_HUBSPOT_TOKEN", TOKEN)
    assert add(any_runtime)["config"] == {"token": "env:SOPHIA_HUBSPOT_TOKEN"}
    assert add(any_runtime, "hs2", token="env:SOPHIA_HUBSPOT_OTHER")["config"]["token"] == "env:SOPHIA_HUBSPOT_OTHER"
    assert load(any_runtime).token.get_secret_value() == TOKEN
    with pytest.raises(ConfigError, match="SOPHIA_HUBSPOT_OTHER, which is not set"):
        load(any_runtime, "hs2")
    with pytest.raises(InvalidInput, match="must be named SOPHIA_HUBSPOT_"):
        add(any_runtime, "hs3", token="env:SOPHIA_SECRET_KEY")


@pytest.mark.parametrize(
    ("kind", "name", "values", "needle"),
    [
        ("salesforce", "sf", {"base_url": "https://x"}, "give token, or refresh_token"),
        ("zendesk", "z", {}, "unknown connector kind 'zendesk'"),
        ("hubspot", "Bad Name", {"token": TOKEN}, "use 1-64 lowercase letters"),
        ("hubspot", "hs", {}, "hubspot needs token"),
        ("hubspot", "hs", {"token": TOKEN, "page_size": "500"}, "page_size: Input should be less than or equal to 200"),
        ("hubspot", "hs", {"token": TOKEN, "base_url": "file:///etc"}, "base_url: must be an http"),
        ("hubspot", "hs", {"token": TOKEN, "colour": "red"}, "unknown setting 'colour'"),
        ("hubspot", "hs", {"token": TOKEN, "stage_map": "{not json"}, "not valid JSON"),
    ],
)
def test_bad_settings_are_refused_with_one_clear_line(runtime: Runtime, kind, name, values, needle) -> None:
    with pytest.raises(InvalidInput, match=needle):
        add(runtime, name, kind, **values)


def test_names_are_unique(runtime: Runtime) -> None:
    add(runtime, token=TOKEN)
    with pytest.raises(Conflict):
        add(runtime, token=TOKEN)


def test_another_secret_key_cannot_read_the_secret_and_says_so(runtime: Runtime) -> None:
    add(runtime, token=TOKEN)
    with pytest.raises(ConfigError, match="stored under another SOPHIA_SECRET_KEY"):
        load(runtime, box=SecretBox("another-secret-key-0123456789-abcdefghijklmnop"))
