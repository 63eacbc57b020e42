"""The command-line contract for Salesforce, run as real processes against the fake org: connectors
add/test, sync --json, runs; a failing sync; and a sync killed mid-request that resumes without loss."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from core.runtime import Runtime
from tests.contract.fake_salesforce import TEST_SETTINGS, FakeSalesforce, add_connector, populate, snapshot, sync
from tests.contract.helpers import kill_when_hanging, set_args, sophia


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    fake = FakeSalesforce(batch=5).start()
    populate(fake, accounts=12)
    yield fake
    fake.stop()


def settings_args(org: FakeSalesforce) -> list[str]:
    return set_args({"base_url": org.url, **TEST_SETTINGS})


def test_connectors_add_test_sync_runs(env: dict[str, str], org: FakeSalesforce) -> None:
    listed = json.loads(sophia("connectors", "list", "--json", env=env).stdout)
    assert {k["kind"]: k["status"] for k in listed["kinds"]}["salesforce"] == "available"

    added = sophia(
        "connectors", "add", "salesforce", "--name", "crm", "--set", f"token={org.token}", *settings_args(org), env=env
    )
    assert added.returncode == 0, added.stderr
    assert org.token not in added.stdout + added.stderr and "••••" + org.token[-4:] in added.stdout
    db = open(os.path.join(env["SOPHIA_DATA_DIR"], "sophia.db"), "rb").read()
    assert org.token.encode() not in db  # encrypted at rest

    ok = sophia("connectors", "test", "crm", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"ok: crm: Salesforce at {org.url} accepted the token; it can read Account, ")
    assert len(ok.stdout.splitlines()) == 1

    synced = sophia("sync", "crm", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 12 + 24 + 12 + 12 + 12
    assert [r["stream"] for r in record["runs"]] == ["accounts", "contacts", "deals", "tasks", "events"]
    assert all(r["cursor_after"]["after_stamp"] for r in record["runs"])
    assert "Syncing crm" in synced.stderr  # the progress bar

    org.update(
        "Opportunity", org.live("Opportunity")[0]["Id"], {"StageName": "Closed Won", "IsClosed": True, "IsWon": True}
    )
    one = sophia("sync", "crm", "--stream", "deals", env=env)
    assert one.returncode == 0 and one.stdout.startswith("deals ") and "read 1," in one.stdout

    runs = json.loads(sophia("runs", "--connector", "crm", "--json", env=env).stdout)
    assert [r["stream"] for r in runs][:2] == ["deals", "events"] and runs[0]["records_read"] == 1


def test_a_failed_sync_exits_non_zero_and_says_why(env: dict[str, str], org: FakeSalesforce) -> None:
    assert (
        sophia(
            "connectors",
            "add",
            "salesforce",
            "--name",
            "crm",
            "--set",
            "token=00D-wrong-token-000",
            *settings_args(org),
            env=env,
        ).returncode
        == 0
    )

    tested = sophia("connectors", "test", "crm", env=env)
    assert tested.returncode == 1
    assert tested.stderr.startswith("error: Salesforce refused the access token (401): INVALID_SESSION_ID")
    assert tested.stderr.count("\n") == 1

    failed = sophia("sync", "crm", "--json", env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith(
        "error: sync of crm failed at stream accounts: Salesforce refused the access token (401)"
    )
    assert "wrong-token" not in failed.stdout + failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"

    no_instance = sophia("connectors", "add", "salesforce", "--name", "login", "--set", "token=00D-some-token", env=env)
    assert no_instance.returncode == 0
    refused = sophia("connectors", "test", "login", env=env)
    assert refused.returncode == 1 and "set it to the org's instance URL" in refused.stderr


def test_a_sync_killed_mid_request_resumes_to_what_a_clean_sync_gives(
    env: dict[str, str], org: FakeSalesforce, runtime: Runtime, clean: Runtime
) -> None:
    add_connector(runtime, org)  # runtime: the database the CLI uses
    # accounts take 2 locators (pages 2, 3); contacts' second locator (their page 3) hangs
    org.fail(path="/queryAll/01g", after=3, hang=True)
    kill_when_hanging(org, "sync", "sf", env=env)

    resumed = sophia("sync", "sf", "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    by_stream = {r["stream"]: r["records_read"] for r in json.loads(resumed.stdout)["runs"]}
    assert by_stream["accounts"] == 0 and by_stream["contacts"] == 24 - 10  # two pages of 5 were committed
    history = json.loads(sophia("runs", "--json", env=env).stdout)
    killed = [r for r in history if r["status"] == "failed"]
    assert len(killed) == 1 and killed[0]["stream"] == "contacts" and killed[0]["error"].startswith("interrupted")

    add_connector(clean, org)
    assert sync(clean).status == "succeeded"
    assert snapshot(runtime) == snapshot(clean)
