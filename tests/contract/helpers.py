"""What the connector contract tests share on the command line: running the real CLI as a process, in a
clean environment, and killing one mid-request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_PASSWORD, TEST_SECRET


def sophia(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m app.cli.main *args`` as a real process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any SOPHIA_ setting, plus a fresh data dir, secret and admin password."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOPHIA_")}
    return {
        **base,
        "SOPHIA_DATA_DIR": str(tmp_path / "data"),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def set_args(values: dict[str, Any]) -> list[str]:
    """``--set key=value`` for each of ``values``, in order, as ``sophia connectors add`` takes them."""
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def kill_when_hanging(fake: Any, *args: str, env: dict[str, str]) -> None:
    """Run ``sophia *args`` until ``fake`` holds a request (a ``hang`` fault), SIGKILL it there (no cleanup of
    any kind), then let the fake recover."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert fake.hanging.wait(60), "the process never reached the request that hangs"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    fake.recover()
