"""`sophia demo truth` names what it lists: accounts, deals, contacts and reps beside their ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import TEST_SECRET


def sophia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_truth_lines_show_names_next_to_ids(tmp_path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    env = {**base, "SOPHIA_DATA_DIR": str(tmp_path / "data"), "SOPHIA_SECRET_KEY": TEST_SECRET}
    loaded = sophia("demo", "load", "--size", "small", "--as-of", "2026-03-15", env=env)
    assert loaded.returncode == 0, loaded.stderr
    truth = json.loads(sophia("demo", "truth", "--json", env=env).stdout)
    shown = sophia("demo", "truth", env=env).stdout.splitlines()

    stuck = truth["stuck_accounts"][0]
    assert f"  - {stuck['external_id']} {stuck['name']} (rep {stuck['rep']}): {stuck['why']}" in shown
    deal = truth["stalled_deals"][0]
    assert f"  - {deal['external_id']} {deal['name']} (account {deal['account']}, rep {deal['rep']})" in "\n".join(
        shown
    )
    lists = [items for items in truth.values() if isinstance(items, list)]
    for item in (i for items in lists for i in items[:10]):
        line = next(x for x in shown if x.startswith(f"  - {item.get('external_id')} "))
        assert any(item.get(k) and item[k] in line for k in ("name", "account")), line
    assert not any("{'" in line for line in shown)  # no raw dicts
