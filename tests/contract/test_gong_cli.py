"""The command-line contract for Gong, run as real processes against the fake Gong:
connectors add/test, sync --json, runs; a wrong secret gives one clear line and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.contract.fake_gong import FakeGong, populate
from tests.contract.helpers import set_args, sophia
from tests.contract.test_gong_sync import PAGE, TEST_SETTINGS, start_date

CALLS = 6


@pytest.fixture
def fake() -> Iterator[FakeGong]:
    gong = FakeGong(page_size=PAGE).start()
    populate(gong, calls=CALLS)
    yield gong
    gong.stop()


def settings_args(fake: FakeGong) -> list[str]:
    return set_args({"base_url": fake.url, "start_date": start_date(), **TEST_SETTINGS})


def test_gong_add_test_sync_runs(env: dict[str, str], fake: FakeGong) -> None:
    added = sophia(
        "connectors",
        "add",
        "gong",
        "--name",
        "calls",
        "--set",
        f"access_key={fake.access_key}",
        "--set",
        "access_key_secret=env:SOPHIA_GONG_ACCESS_KEY_SECRET",
        *settings_args(fake),
        env={**env, "SOPHIA_GONG_ACCESS_KEY_SECRET": fake.access_key_secret},
    )
    assert added.returncode == 0, added.stderr
    assert fake.access_key_secret not in added.stdout + added.stderr
    run_env = {**env, "SOPHIA_GONG_ACCESS_KEY_SECRET": fake.access_key_secret}

    ok = sophia("connectors", "test", "calls", env=run_env)
    assert ok.returncode == 0, ok.stderr
    assert (
        ok.stdout.startswith(f"ok: calls: Gong at {fake.url} accepted the access key")
        and len(ok.stdout.splitlines()) == 1
    )

    synced = sophia("sync", "calls", "--json", env=run_env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == CALLS and record["records_written"] == CALLS
    assert [r["stream"] for r in record["runs"]] == ["calls"] and record["runs"][0]["cursor_after"]["since"]

    runs = json.loads(sophia("runs", "--connector", "calls", "--json", env=run_env).stdout)
    assert [(r["stream"], r["status"], r["records_written"]) for r in runs] == [("calls", "succeeded", CALLS)]


def test_a_wrong_secret_fails_the_check_and_the_sync_with_one_clear_line(env: dict[str, str], fake: FakeGong) -> None:
    assert (
        sophia(
            "connectors",
            "add",
            "gong",
            "--name",
            "calls",
            "--set",
            f"access_key={fake.access_key}",
            "--set",
            "access_key_secret=wrong-secret-000000",
            *settings_args(fake),
            env=env,
        ).returncode
        == 0
    )

    tested = sophia("connectors", "test", "calls", env=env)
    assert tested.returncode == 1
    assert tested.stderr.startswith("error: Gong refused the access key (401)") and tested.stderr.count("\n") == 1

    failed = sophia("sync", "calls", "--json", env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith("error: sync of calls failed at stream calls: Gong refused")
    assert "wrong-secret" not in failed.stdout + failed.stderr
