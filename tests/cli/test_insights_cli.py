"""`sophia insights` as the acceptance checks drive it, on the small demo in a real process: run (JSON counts,
then the same run again finds nothing new), list (the exact item shape, filters), ack / resolve / snooze, the
new insights announced on the bus, and clear one-line errors for bad input."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.bus import make_bus
from core.config import Settings
from tests.cli.test_cli import sophia
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
ITEM_KEYS = {
    "id",
    "type",
    "severity",
    "status",
    "title",
    "score",
    "reasons",
    "subject",
    "evidence",
    "fingerprint",
    "first_seen",
    "last_seen",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("insights-cli") / "data"
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    env = {
        **base,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(data),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": "admin-password-1",
    }
    loaded = sophia("demo", "load", "--size", "small", env=env)
    assert loaded.returncode == 0, loaded.stderr
    return env


def _json(env: dict[str, str], *args: str) -> dict:
    done = sophia(*args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_run_then_list_in_the_contract_shape(env) -> None:
    first = _json(env, "insights", "run", "--json")
    assert set(first) == {"created", "updated", "resolved"} and first["created"] > 0 and first["resolved"] == 0
    assert _json(env, "insights", "run", "--json") == {"created": 0, "updated": first["created"], "resolved": 0}

    listed = _json(env, "insights", "list", "--json")
    assert listed["total"] == first["created"] == len(listed["items"])
    for item in listed["items"]:
        assert set(item) >= ITEM_KEYS
        assert set(item["subject"]) == {"table", "external_id", "name"}
        assert all({"table", "external_id", "doc_id"} <= set(e) for e in item["evidence"])
        assert item["reasons"] and item["status"] == "new"
    ranks = [("critical", "high", "medium", "low").index(i["severity"]) for i in listed["items"]]
    assert ranks == sorted(ranks)  # most severe first

    truth = _json(env, "demo", "truth", "--json")
    stalled = _json(env, "insights", "list", "--type", "deal_stalled", "--json")
    assert {i["subject"]["external_id"] for i in stalled["items"]} == {d["external_id"] for d in truth["stalled_deals"]}
    account = truth["stuck_accounts"][0]["external_id"]
    for_account = _json(env, "insights", "list", "--account", account, "--json")
    assert for_account["total"] >= 1
    assert all(
        i["subject"]["external_id"] == account for i in for_account["items"] if i["subject"]["table"] == "accounts"
    )

    settings = Settings(data_dir=Path(env["SOPHIA_DATA_DIR"]), secret_key=TEST_SECRET)
    bus = make_bus(settings)
    try:
        events = bus.read("insights", count=10)
    finally:
        bus.close()
    assert len(events) == 1 and len(events[0].data["ids"]) == first["created"]  # the second run opened none


def test_ack_resolve_snooze_move_the_lifecycle(env) -> None:
    items = _json(env, "insights", "list", "--type", "onboarding_stuck", "--json")["items"]
    a, b, c = (str(i["id"]) for i in items[:3])
    assert sophia("insights", "ack", a, env=env).returncode == 0
    assert sophia("insights", "resolve", b, "--note", "kicked off with their PM", env=env).returncode == 0
    until = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    assert sophia("insights", "snooze", c, "--until", until, env=env).returncode == 0

    def status(s: str) -> set[str]:
        return {str(i["id"]) for i in _json(env, "insights", "list", "--status", s, "--json")["items"]}

    assert a in status("acknowledged") and b in status("resolved") and c in status("snoozed")
    assert c not in status("new") and a not in status("new")
    again = _json(env, "insights", "run", "--json")  # still true: the person's resolution stays
    assert again["created"] == 0 and b in status("resolved")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("insights", "list", "--status", "open-ish"), "status 'open-ish'"),
        (("insights", "snooze", "1", "--until", "tomorrow"), "--until: 'tomorrow' is not a date"),
        (("insights", "ack", "999999"), "no insight 999999"),
        (("insights", "run", "--type", "nonsense"), "unknown insight type 'nonsense'"),
    ],
)
def test_bad_input_is_one_clear_line(env, args, needle) -> None:
    done = sophia(*args, env=env)
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and needle in done.stderr, done.stderr
