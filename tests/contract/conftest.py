"""Fixtures for driving the real HubSpot connector against the fake HubSpot on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.fake_hubspot import FakeHubSpot, populate


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    """A fake portal: 12 companies, each with 2 contacts, a deal and 4 engagements."""
    hub = FakeHubSpot().start()
    populate(hub, companies=12)
    yield hub
    hub.stop()
