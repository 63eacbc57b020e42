"""Pointing the Streamlit app at a test's database: the app reads its settings from the environment like in
production, so each test sets SOPHIA_DATA_DIR / SOPHIA_SECRET_KEY and clears the process-wide caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import ui
from core.config import get_settings
from core.runtime import Runtime, get_runtime
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "app" / "streamlit_app.py"


def reset_app_caches() -> None:
    if get_runtime.cache_info().currsize:
        get_runtime().engine.dispose()
    get_settings.cache_clear()
    get_runtime.cache_clear()
    ui.runtime.clear()


def point_app_at(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", TEST_SECRET)
    reset_app_caches()
