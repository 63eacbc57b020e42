"""An ask with a language model configured connects to nothing but the model's server on loopback: proved in
a child process whose audit hook refuses any other connection or name lookup, from before CrewAI is imported
until the process exits (telemetry would phone home at import, at kickoff and at exit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.agents_crew.conftest import llm_settings
from tests.agents_crew.test_crew_http import QUESTION, delegating_script
from tests.conftest import ADMIN_PASSWORD, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_an_ask_connects_to_nothing_but_the_model_on_loopback(demo_runtime, chat_server) -> None:
    chat_server.script = delegating_script()
    rt = demo_runtime()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPHIA_", "CREWAI_", "OPENAI_", "OTEL_"))}
    env |= {f"SOPHIA_{k.upper()}": str(v) for k, v in llm_settings(chat_server).items()}
    env |= {
        "SOPHIA_DATA_DIR": str(rt.settings.data_dir),
        "SOPHIA_SECRET_KEY": TEST_SECRET,
        "SOPHIA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PYTHONPATH": str(ROOT),
        "HOME": str(rt.settings.data_dir / "home"),  # nothing written to the real home either
    }
    rt.engine.dispose()

    child = subprocess.run(
        [sys.executable, str(ROOT / "tests/agents_crew/offline_child.py"), QUESTION],
        env=env,
        cwd=rt.settings.data_dir,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["refused"] == []
    port = chat_server.base_url.rsplit(":", 1)[1].split("/")[0]
    assert report["connected"] and set(report["connected"]) == {f"127.0.0.1:{port}"}
    assert (report["finish_reason"], report["offline"], report["tools"]) == ("stop", False, ["account_risk"])
    assert report["citations"] > 0
    assert len(chat_server.chats()) == 4
    # CrewAI's kickoff log is in the data folder, not under ~/.local/share/<working directory's name>
    assert (rt.settings.data_dir / "crewai" / "latest_kickoff_task_outputs.db").exists()
    assert not (rt.settings.data_dir / "home" / ".local" / "share" / rt.settings.data_dir.name).exists()
