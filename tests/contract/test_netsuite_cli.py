"""The command-line contract with the real NetSuite connector, as real processes against the fake NetSuite."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.contract.fake_netsuite import TEST_SETTINGS, FakeNetSuite, credentials, populate
from tests.contract.helpers import set_args, sophia


@pytest.fixture
def fake() -> Iterator[FakeNetSuite]:
    ns = FakeNetSuite().start()
    populate(ns)
    yield ns
    ns.stop()


def test_add_test_sync_through_the_cli(env: dict[str, str], fake: FakeNetSuite) -> None:
    creds = credentials(fake)
    secret = creds.pop("token_secret")
    args = set_args({**creds, **TEST_SETTINGS})
    added = sophia(
        "connectors", "add", "netsuite", "--name", "erp", *args, env={**env, "SOPHIA_NETSUITE_TOKEN_SECRET": secret}
    )  # a secret from the environment
    assert added.returncode == 0, added.stderr
    assert fake.consumer_secret not in added.stdout + added.stderr
    env = {**env, "SOPHIA_NETSUITE_TOKEN_SECRET": secret}

    ok = sophia("connectors", "test", "erp", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: erp: NetSuite account 1234567_SB1 at ") and len(ok.stdout.splitlines()) == 1

    synced = sophia("sync", "erp", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 3 + 20 + 12  # 3 customers have a CRM link
    assert [r["stream"] for r in record["runs"]] == ["customers", "invoices", "payments"]
    assert all(r["cursor_after"]["since"] for r in record["runs"])

    wrong = sophia("sync", "erp", "--json", env={**env, "SOPHIA_NETSUITE_TOKEN_SECRET": "not-the-secret"})
    assert wrong.returncode == 1
    assert "NetSuite refused the credentials (401)" in wrong.stderr.splitlines()[-1]
    assert "not-the-secret" not in wrong.stdout + wrong.stderr
