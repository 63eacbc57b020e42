"""Fixtures for driving the real connectors against the fake vendors on 127.0.0.1: the fake HubSpot, a second
installation to compare with, and the environment the CLI runs in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings
from tests.contract.fake_hubspot import FakeHubSpot, populate
from tests.contract.helpers import cli_env


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    """A fake portal: 12 companies, each with 2 contacts, a deal and 4 engagements."""
    hub = FakeHubSpot().start()
    populate(hub, companies=12)
    yield hub
    hub.stop()


@pytest.fixture
def clean(tmp_path) -> Iterator[Runtime]:
    """A second, empty installation: what a clean full sync of the fake gives, to compare with."""
    rt = open_runtime(make_settings(tmp_path / "clean"))
    prepare(rt)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The environment of a `sophia` process: this one's without SOPHIA_ settings, plus a fresh data dir (the
    one the ``runtime`` fixture opens), secret and admin password."""
    return cli_env(tmp_path)
