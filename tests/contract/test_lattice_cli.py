"""The command-line contract with the real Lattice connector, as real processes against the fake Lattice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.contract.fake_lattice import TEST_SETTINGS, FakeLattice, populate
from tests.contract.helpers import set_args, sophia


@pytest.fixture
def fake() -> Iterator[FakeLattice]:
    lattice = FakeLattice().start()
    populate(lattice)
    yield lattice
    lattice.stop()


def test_add_test_sync_through_the_cli(env: dict[str, str], fake: FakeLattice) -> None:
    args = set_args({"base_url": fake.base_url, "api_key": fake.api_key, **TEST_SETTINGS})
    added = sophia("connectors", "add", "lattice", "--name", "hr", *args, env=env)
    assert added.returncode == 0, added.stderr
    assert fake.api_key not in added.stdout + added.stderr and "••••" + fake.api_key[-4:] in added.stdout

    ok = sophia("connectors", "test", "hr", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: hr: Lattice at ") and len(ok.stdout.splitlines()) == 1

    synced = sophia("sync", "hr", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 8 + 6 + 6
    assert [r["stream"] for r in record["runs"]] == ["users", "goals", "reviews"]
    assert all(r["cursor_after"]["last_complete"] for r in record["runs"])

    fake.api_key = "revoked-key-000000000000"
    failed = sophia("sync", "hr", "--json", env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith("error: sync of hr failed at stream users: Lattice refused")
