"""The command-line contract with the real Apollo connector, as real processes against the fake Apollo."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.contract.fake_apollo import TEST_SETTINGS, FakeApollo, populate
from tests.contract.helpers import set_args, sophia


@pytest.fixture
def fake() -> Iterator[FakeApollo]:
    apollo = FakeApollo().start()
    populate(apollo)
    yield apollo
    apollo.stop()


def test_add_test_sync_through_the_cli(env: dict[str, str], fake: FakeApollo) -> None:
    args = set_args({"base_url": fake.base_url, **TEST_SETTINGS})
    env = {**env, "SOPHIA_APOLLO_API_KEY": fake.api_key}  # the key from the environment
    added = sophia("connectors", "add", "apollo", "--name", "prospecting", *args, env=env)
    assert added.returncode == 0, added.stderr
    assert fake.api_key not in added.stdout + added.stderr and "env:SOPHIA_APOLLO_API_KEY" in added.stdout

    ok = sophia("connectors", "test", "prospecting", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: prospecting: Apollo at ") and len(ok.stdout.splitlines()) == 1

    synced = sophia("sync", "prospecting", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 12  # no accounts of ours to enrich yet
    assert [r["stream"] for r in record["runs"]] == ["prospects", "account_enrichment"]

    refused = sophia("sync", "prospecting", "--json", env={**env, "SOPHIA_APOLLO_API_KEY": "wrong-key-123456"})
    assert refused.returncode == 1 and "Apollo refused the credentials (401)" in refused.stderr.splitlines()[-1]
    assert "wrong-key-123456" not in refused.stdout + refused.stderr
