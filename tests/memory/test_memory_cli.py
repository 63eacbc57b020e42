"""`sophia memory` as the acceptance checks drive it, in real processes: add, search and list in the contract's
JSON shape, forget by id and for a whole user (really deleted), and one clear line for a bad user or date."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.auth import STAND_IN_HASH
from core.config import load_settings
from core.db.models import User
from core.memory import list_memories
from core.runtime import Runtime, open_runtime, prepare
from tests.cli.test_cli import sophia
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
ITEM_KEYS = {
    "id",
    "text",
    "user",
    "agent",
    "conversation",
    "category",
    "metadata",
    "created_at",
    "updated_at",
    "expires_on",
    "last_recalled_at",
    "recall_count",
    "score",
}


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "SOPHIA_DATA_DIR": str(tmp_path / "data"),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": "admin-password-1",
    }


@pytest.fixture
def rt(env) -> Runtime:
    """The product the commands open, with the user vera."""
    rt = open_runtime(load_settings(_env_file=None, data_dir=env["SOPHIA_DATA_DIR"], secret_key=TEST_SECRET))
    prepare(rt)
    with rt.session() as s:
        s.add(User(username="vera", password_hash=STAND_IN_HASH, role="viewer"))
    yield rt
    rt.engine.dispose()


def _json(env: dict[str, str], *args: str) -> object:
    done = sophia(*args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_add_search_list_forget(env, rt) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    added = _json(
        env, "memory", "add", "Vera prefers the weekly summary on Mondays", "--user", "vera",
        "--category", "preference", "--expires", expires, "--json",
    )  # fmt: skip
    assert set(added) == ITEM_KEYS
    assert (added["user"], added["category"], added["expires_on"], added["agent"]) == (
        "vera",
        "preference",
        expires,
        None,
    )

    found = _json(env, "memory", "search", "when does Vera want the summary?", "--user", "vera", "--json")
    assert [m["id"] for m in found] == [added["id"]] and found[0]["recall_count"] == 1 and found[0]["score"] > 0

    listed = sophia("memory", "list", "--user", "vera", env=env)
    assert listed.returncode == 0 and "weekly summary" in listed.stdout and "preference" in listed.stdout

    assert _json(env, "memory", "forget", added["id"], "--json") == {"deleted": 1}
    assert list_memories(runtime=rt, user="vera") == []

    from core.memory import add_memory

    for text in ("one", "two"):
        add_memory(runtime=rt, user="vera", text=f"fact {text}", actor="test")
    assert _json(env, "memory", "forget", "--user", "vera", "--all", "--json") == {"deleted": 2}
    assert list_memories(runtime=rt, user="vera") == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("memory", "list", "--user", "ghost"), "no user named 'ghost'"),
        (("memory", "add", "x", "--user", "vera", "--expires", "soon"), "--expires: 'soon' is not a date"),
        (("memory", "forget"), "name a memory id, or --user U --all"),
    ],
)
def test_bad_input_is_one_clear_line(env, rt, args, needle) -> None:
    done = sophia(*args, env=env)
    assert done.returncode != 0
    assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
