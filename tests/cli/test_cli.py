"""The `sophia` command as other tools drive it: a fresh data folder, real processes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TEST_SECRET


def sophia(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        env=env,
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {**base, "SOPHIA_DATA_DIR": str(tmp_path / "data"), "SOPHIA_SECRET_KEY": TEST_SECRET}


def test_first_command_creates_database_and_prints_generated_admin_password_once(env) -> None:
    first = sophia("users", "list", env=env)
    assert first.returncode == 0, first.stderr
    password = next(line.split("password:", 1)[1].strip() for line in first.stdout.splitlines() if "password:" in line)
    assert len(password) >= 16
    again = sophia("users", "list", "--json", env=env)
    assert "password" not in again.stdout + again.stderr
    assert [u["username"] for u in json.loads(again.stdout)] == ["admin"]
    db = open(os.path.join(env["SOPHIA_DATA_DIR"], "sophia.db"), "rb").read()
    assert password.encode() not in db  # only the hash is stored


def test_users_and_roles(env) -> None:
    env["SOPHIA_ADMIN_PASSWORD"] = "admin-password-1"
    assert sophia("users", "add", "vera", "--role", "viewer", "--password", "viewer-pass-1", env=env).returncode == 0
    assert sophia("users", "set-role", "vera", "analyst", env=env).returncode == 0
    users = {u["username"]: u["role"] for u in json.loads(sophia("users", "list", "--json", env=env).stdout)}
    assert users == {"admin": "admin", "vera": "analyst"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("users", "add", "vera", "--role", "boss", "--password", "long-enough-1"), "unknown role"),
        (("users", "add", "vera", "--role", "viewer"), "--password"),  # no terminal to prompt on
        (("users", "set-role", "ghost", "viewer"), "no user named"),
        (("api-keys", "revoke", "ak_missing"), "no API key"),
        (("api-keys", "create", "--user", "ghost"), "no user named"),
        (("demo", "load", "--size", "huge"), "unknown size"),
        (("demo", "truth"), "no demo is loaded"),
        (("users", "frobnicate"), "No such command"),
        (("sync", "nosuch"), "no connector named 'nosuch'"),  # no progress bar drawn before it
    ],
)
def test_failures_exit_non_zero_with_one_clear_line(env, args, needle) -> None:
    res = sophia(*args, env=env)
    assert res.returncode != 0
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stderr.startswith("error: ") and needle in res.stderr


def test_a_bad_setting_stops_with_the_setting_named(env) -> None:
    res = sophia("users", "list", env={**env, "SOPHIA_DATABASE_URL": "mysql://nope"})
    assert res.returncode == 1 and res.stderr.strip().startswith("error: SOPHIA_DATABASE_URL")


def test_api_key_is_printed_alone_on_the_last_line_and_revocable(env) -> None:
    res = sophia("api-keys", "create", "--user", "admin", "--name", "ci", env=env)
    assert res.returncode == 0, res.stderr
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_sophia_") and " " not in key
    listed = json.loads(sophia("api-keys", "list", "--json", env=env).stdout)
    assert listed[0]["name"] == "ci" and not listed[0]["revoked"]
    assert key not in json.dumps(listed)
    assert sophia("api-keys", "revoke", listed[0]["id"], env=env).returncode == 0
    assert json.loads(sophia("api-keys", "list", "--json", env=env).stdout)[0]["revoked"] is True


def test_estuary_feed_secret_is_printed_last_and_bad_bindings_are_refused(env) -> None:
    bad = sophia("estuary", "add-feed", "crm", "--bind", "warehouse/accounts=entity:widgets@platform", env=env)
    assert bad.returncode == 1 and "unknown entity" in bad.stderr
    ok = sophia("estuary", "add-feed", "crm", "--bind", "warehouse/accounts=entity:accounts@platform", env=env)
    assert ok.returncode == 0, ok.stderr
    secret = ok.stdout.strip().splitlines()[-1]
    assert len(secret) >= 40 and " " not in secret
    feeds = json.loads(sophia("estuary", "list", "--json", env=env).stdout)
    assert feeds[0]["bindings"] == {"warehouse/accounts": {"target": "entity:accounts@platform", "key": "/id"}}
    assert secret not in json.dumps(feeds)
