"""Helpers shared by the HubSpot contract and database tests: configure, sync, snapshot the database."""

from __future__ import annotations

from functools import partial

from core.runtime import Runtime
from tests.contract import sync_helpers
from tests.contract.fake_hubspot import FakeHubSpot

# small pages (many of them), no search lag (the fake indexes at once), tiny backoff: fast tests
TEST_SETTINGS = {
    "page_size": "5",
    "search_lag_s": "0",
    "search_requests_per_s": "100",
    "requests_per_10s": "1000",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}

sync = partial(sync_helpers.sync, name="hs")
cursor = partial(sync_helpers.cursor, name="hs")


def add_hubspot(runtime: Runtime, fake: FakeHubSpot, *, name: str = "hs", **overrides: str) -> None:
    values = {"base_url": fake.url, "token": fake.token, **TEST_SETTINGS, **overrides}
    sync_helpers.configure(runtime, kind="hubspot", name=name, values=values)


def snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    """Every HubSpot-sourced row, our ids replaced by the source's, sorted: two databases holding the
    same data give equal snapshots."""
    return sync_helpers.crm_snapshot(runtime, "hubspot")


def counts(runtime: Runtime) -> dict[str, int]:
    return {table: len(found) for table, found in snapshot(runtime).items()}
