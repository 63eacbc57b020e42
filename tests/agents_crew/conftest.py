"""The crew's fixtures: a runtime with the small demo loaded, the people who ask, the scripted language model
(in process and over HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import core.agents  # noqa: F401 - CrewAI's telemetry and version-check variables, before anything imports crewai
from connectors.demo import load_demo
from core.auth import Identity
from core.runtime import Runtime, open_runtime, prepare
from tests.agents_crew.scripted import Script, ScriptedChatServer
from tests.conftest import make_settings

# CrewAI makes its storage folders when imported; the engine points them into the data folder, and this keeps
# an import by a test (before any engine) out of the home folder
os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="sophia-crewai-"))

ADMIN = Identity(username="admin", role="admin", via="cli")
ANALYST = Identity(username="ana", role="analyst", via="cli")
VIEWER = Identity(username="vic", role="viewer", via="cli")


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A data folder with the small demo as of today, made once; each test gets a copy."""
    root = tmp_path_factory.mktemp("crew-demo")
    rt = open_runtime(make_settings(root))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=3, as_of=rt.clock.now().date())
    with rt.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    rt.engine.dispose()
    return root / "data"


@pytest.fixture
def demo_runtime(tmp_path, demo_template) -> Callable[..., Runtime]:
    """``demo_runtime(**settings)``: a runtime over a copy of the demo, with these settings."""
    opened: list[Runtime] = []

    def make(**settings: object) -> Runtime:
        data = tmp_path / f"data{len(opened)}"
        shutil.copytree(demo_template, data)
        rt = open_runtime(make_settings(tmp_path, data_dir=data, **settings))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.engine.dispose()


@pytest.fixture
def runtime_demo(demo_runtime) -> Runtime:
    """The small demo as of today, no language model configured (tests hand the engine in)."""
    return demo_runtime()


@pytest.fixture
def chat_server() -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer(Script({})).start()
    yield server
    server.stop()


def llm_settings(server: ScriptedChatServer, **more) -> dict:
    return {
        "llm_model": "local/scripted-model",
        "llm_base_url": server.base_url,
        "llm_api_key": server.api_key,
        "llm_timeout_s": 30,
    } | more
