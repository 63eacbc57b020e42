"""The command-line contract for Slack, run as real processes against the fake Slack:
connectors add/test, sync --json, runs; a refused token gives one clear line and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.contract.fake_slack import FakeSlack, Planted, populate
from tests.contract.helpers import set_args, sophia
from tests.contract.test_slack_sync import TEST_SETTINGS


@pytest.fixture
def workspace() -> Iterator[tuple[FakeSlack, Planted]]:
    fake = FakeSlack().start()
    planted = populate(fake, per_channel=5)
    yield fake, planted
    fake.stop()


def settings_args(fake: FakeSlack) -> list[str]:
    return set_args({"base_url": fake.url, **TEST_SETTINGS})


def test_slack_add_test_sync_runs(env: dict[str, str], workspace) -> None:
    fake, planted = workspace
    added = sophia(
        "connectors",
        "add",
        "slack",
        "--name",
        "chat",
        "--set",
        f"token={fake.token}",
        "--set",
        'channels=["sales", "#cs-escalations"]',
        *settings_args(fake),
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert fake.token not in added.stdout + added.stderr and "••••" + fake.token[-4:] in added.stdout

    ok = sophia("connectors", "test", "chat", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == (
        f"ok: chat: Slack at {fake.url} accepted the token of sophia in PayReady; it can list channels and users\n"
    )

    synced = sophia("sync", "chat", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_written"] == planted.stored
    assert [r["stream"] for r in record["runs"]] == ["messages"]
    assert set(record["runs"][0]["cursor_after"]["marks"]) == {
        planted.channels["sales"],
        planted.channels["cs-escalations"],
    }
    assert "Syncing chat" in synced.stderr

    runs = json.loads(sophia("runs", "--connector", "chat", "--json", env=env).stdout)
    assert [(r["stream"], r["status"], r["records_written"]) for r in runs] == [
        ("messages", "succeeded", planted.stored)
    ]


def test_a_refused_token_fails_the_check_and_the_sync_with_one_clear_line(env: dict[str, str], workspace) -> None:
    fake, _ = workspace
    assert (
        sophia(
            "connectors",
            "add",
            "slack",
            "--name",
            "chat",
            *settings_args(fake),
            env={**env, "SOPHIA_SLACK_TOKEN": "xoxb-wrong-token-99999"},
        ).returncode
        == 0
    )
    run_env = {**env, "SOPHIA_SLACK_TOKEN": "xoxb-wrong-token-99999"}

    tested = sophia("connectors", "test", "chat", env=run_env)
    assert tested.returncode == 1 and tested.stderr == "error: Slack refused the token (invalid_auth)\n"

    failed = sophia("sync", "chat", "--json", env=run_env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        "error: sync of chat failed at stream messages: Slack refused the token (invalid_auth)"
    )
    assert "wrong-token" not in failed.stdout + failed.stderr
