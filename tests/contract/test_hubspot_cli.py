"""The command-line contract, run as real processes against the fake HubSpot:
connectors list/add/test, sync, runs; and a sync killed mid-request that resumes without loss."""

from __future__ import annotations

import json
import os

from connectors.registry import KINDS
from core.runtime import Runtime
from tests.contract.fake_hubspot import FakeHubSpot
from tests.contract.helpers import kill_when_hanging, set_args, sophia
from tests.contract.hubspot_utils import TEST_SETTINGS, add_hubspot, snapshot, sync
from tests.contract.sync_helpers import unused_port


def settings_args(fake: FakeHubSpot) -> list[str]:
    return set_args({"base_url": fake.url, **TEST_SETTINGS})


def test_connectors_add_list_test_sync_runs(env: dict[str, str], fake: FakeHubSpot) -> None:
    listed = json.loads(sophia("connectors", "list", "--json", env=env).stdout)
    kinds = {k["kind"]: k["status"] for k in listed["kinds"]}
    assert kinds == {k: v.status for k, v in KINDS.items()} and kinds["hubspot"] == "available"
    refused = sophia("connectors", "add", "zendesk", "--name", "z", "--set", "base_url=http://x", env=env)
    assert refused.returncode != 0 and refused.stderr.startswith("error: ") and "zendesk" in refused.stderr

    added = sophia(
        "connectors", "add", "hubspot", "--name", "crm", "--set", f"token={fake.token}", *settings_args(fake), env=env
    )
    assert added.returncode == 0, added.stderr
    assert fake.token not in added.stdout + added.stderr and "••••" + fake.token[-4:] in added.stdout
    with_env = sophia(
        "connectors",
        "add",
        "hubspot",
        "--name",
        "crm-env",
        *settings_args(fake),
        env={**env, "SOPHIA_HUBSPOT_TOKEN": fake.token},
    )
    assert with_env.returncode == 0, with_env.stderr

    listed = json.loads(sophia("connectors", "list", "--json", env=env).stdout)
    shown = {c["name"]: c["config"]["token"] for c in listed["connectors"]}
    assert shown == {"crm": "••••" + fake.token[-4:], "crm-env": "env:SOPHIA_HUBSPOT_TOKEN"}
    db = open(os.path.join(env["SOPHIA_DATA_DIR"], "sophia.db"), "rb").read()
    assert fake.token.encode() not in db  # encrypted at rest

    ok = sophia("connectors", "test", "crm", env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: crm: HubSpot at ") and len(ok.stdout.splitlines()) == 1
    no_env = sophia("connectors", "test", "crm-env", env=env)
    assert no_env.returncode == 1 and "SOPHIA_HUBSPOT_TOKEN, which is not set" in no_env.stderr
    assert sophia("connectors", "test", "crm-env", env={**env, "SOPHIA_HUBSPOT_TOKEN": fake.token}).returncode == 0

    synced = sophia("sync", "crm", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 12 + 24 + 12 + 48
    assert [r["stream"] for r in record["runs"]] == [
        "companies",
        "contacts",
        "deals",
        "notes",
        "emails",
        "meetings",
        "calls",
    ]
    assert all(r["cursor_after"]["since_ms"] for r in record["runs"])
    assert "Syncing crm" in synced.stderr  # the progress bar

    one = sophia("sync", "crm", "--stream", "deals", env=env)
    assert one.returncode == 0 and one.stdout.startswith("deals ")

    shown = json.loads(sophia("connectors", "show", "crm", "--json", env=env).stdout)
    assert shown["config"]["token"] == "••••" + fake.token[-4:]
    mapped = {r["stage_id"]: (r["pipeline"], r["stage"], r["source"]) for r in shown["stage_mappings"]}
    assert mapped["closedwon"] == ("Sales Pipeline", "closed_won", "default")
    assert mapped["1131911"] == ("Renewals & Expansion", "qualified", "inferred")
    plain = sophia("connectors", "show", "crm", env=env).stdout
    assert "Verbal commit" in plain and "-> negotiation (inferred)" in plain

    runs = json.loads(sophia("runs", "--connector", "crm", "--json", env=env).stdout)
    assert [r["stream"] for r in runs][:2] == ["deals", "calls"] and runs[0]["status"] == "succeeded"
    assert sophia("runs", "--connector", "nope", env=env).returncode == 1


def test_a_failed_sync_exits_non_zero_and_says_why(env: dict[str, str], fake: FakeHubSpot) -> None:
    assert (
        sophia(
            "connectors",
            "add",
            "hubspot",
            "--name",
            "crm",
            "--set",
            "token=pat-na1-wrong-token-000",
            *settings_args(fake),
            env=env,
        ).returncode
        == 0
    )

    tested = sophia("connectors", "test", "crm", env=env)
    assert tested.returncode == 1
    assert tested.stderr.startswith("error: HubSpot refused the credentials (401)") and tested.stderr.count("\n") == 1

    port = unused_port()
    down = ["--set", "token=pat-na1-down-token-000", "--set", f"base_url=http://127.0.0.1:{port}"]
    assert sophia("connectors", "add", "hubspot", "--name", "down", *down, env=env).returncode == 0
    unreachable = sophia("connectors", "test", "down", env=env)
    assert unreachable.returncode == 1 and unreachable.stderr == (
        f"error: could not reach HubSpot: 127.0.0.1:{port} refused the connection; check base_url and the network\n"
    )
    shown = json.loads(sophia("connectors", "show", "down", "--json", env=env).stdout)
    assert shown["config"]["base_url"] == f"http://127.0.0.1:{port}" and shown["stage_mappings"] == []
    assert shown["stage_mappings_error"].endswith("refused the connection; check base_url and the network")

    failed = sophia("sync", "crm", "--json", env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith("error: sync of crm failed at stream companies: HubSpot refused")
    assert "wrong-token" not in failed.stdout + failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"


def test_a_sync_killed_mid_request_resumes_to_what_a_clean_sync_gives(
    env: dict[str, str], fake: FakeHubSpot, runtime: Runtime, clean: Runtime
) -> None:
    add_hubspot(runtime, fake)  # runtime: the database the CLI uses
    fake.fail(path="/crm/v3/objects/contacts/search", after=2, hang=True)
    kill_when_hanging(fake, "sync", "hs", env=env)  # on the third page of contacts

    resumed = sophia("sync", "hs", "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    by_stream = {r["stream"]: r["records_read"] for r in record["runs"]}
    assert by_stream["companies"] == 0 and by_stream["contacts"] == 24 - 10  # two pages of 5 were committed
    history = json.loads(sophia("runs", "--json", env=env).stdout)
    killed = [r for r in history if r["status"] == "failed"]
    assert len(killed) == 1 and killed[0]["stream"] == "contacts" and killed[0]["error"].startswith("interrupted")

    add_hubspot(clean, fake)
    assert sync(clean).status == "succeeded"
    assert snapshot(runtime) == snapshot(clean)
