"""Memory never leaves the machine: a fresh process imports mem0, adds, recalls, lists, forgets and applies the
policy with every socket connection and name lookup watched (``sys.addaudithook``): only loopback is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys

attempts = []
LOCAL = {"127.0.0.1", "::1", "localhost"}

def watch(event, args):
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address[0] not in LOCAL:
            attempts.append(f"connect {address[0]}:{address[1]}")
            raise ConnectionRefusedError("no network in this test")
    elif event == "socket.getaddrinfo" and args[0] not in LOCAL and args[0] is not None:
        attempts.append(f"lookup {args[0]}")
        raise OSError("no name lookups in this test")

sys.addaudithook(watch)

from core.auth import STAND_IN_HASH
from core.db.models import User
from core.memory import add_memory, apply_memory_policy, forget_all, forget_memory, list_memories, search_memories
from core.runtime import open_runtime, prepare
from core.config import load_settings

rt = open_runtime(load_settings(_env_file=None))
prepare(rt)
with rt.session() as s:
    s.add(User(username="vera", password_hash=STAND_IN_HASH, role="viewer"))
first = add_memory(runtime=rt, user="vera", text="Vera prefers weekly summaries", category="preference", actor="t")
add_memory(runtime=rt, user="vera", text="Vera's analyst tracks Oakwood", agent="analyst", actor="t")
found = search_memories(runtime=rt, user="vera", query="summaries", agent="analyst")
listed = list_memories(runtime=rt, user="vera")
forget_memory(runtime=rt, memory_id=first.id, user="vera", actor="t")
policy = apply_memory_policy(runtime=rt)
left = forget_all(runtime=rt, user="vera", actor="t")
print(json.dumps({"attempts": attempts, "found": [m.text for m in found], "listed": len(listed), "left": left}))
"""


def test_memory_makes_no_connection_but_loopback(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPHIA_", "MEM0_"))}
    env.update(PYTHONPATH=str(ROOT), SOPHIA_DATA_DIR=str(tmp_path / "data"), SOPHIA_SECRET_KEY=TEST_SECRET)
    env.update(SOPHIA_ADMIN_PASSWORD="admin-password-1", HOME=str(tmp_path))  # ~/.mem0 would be under HOME
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["found"][0] == "Vera prefers weekly summaries" and result["listed"] == 2 and result["left"] == 1
    assert (tmp_path / "data" / "mem0" / "history.db").exists() and not (tmp_path / ".mem0").exists()
    assert "Traceback" not in done.stderr and "spaCy" not in done.stderr  # quiet: no warning per process
