"""What the connector contract tests share: running the real CLI as a process, in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET


def sophia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m app.cli.main *args`` as a real process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], env=env, capture_output=True, text=True, timeout=120
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any SOPHIA_ setting, plus a fresh data dir, secret and admin password."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {**base, "SOPHIA_DATA_DIR": str(tmp_path / "data"), "SOPHIA_SECRET_KEY": TEST_SECRET,
            "SOPHIA_ADMIN_PASSWORD": "admin-password-1"}
