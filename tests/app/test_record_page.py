"""The Record page's ``?doc=`` parameter at the edge: what cannot name a document is "not found"."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import ui
from core.config import get_settings
from core.runtime import Runtime, get_runtime
from tests.conftest import ADMIN_PASSWORD, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "app" / "streamlit_app.py"


def _reset() -> None:
    if get_runtime.cache_info().currsize:
        get_runtime().engine.dispose()
    get_settings.cache_clear()
    get_runtime.cache_clear()
    ui.runtime.clear()


@pytest.fixture
def app_db(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOPHIA_SECRET_KEY", TEST_SECRET)
    _reset()
    yield runtime
    _reset()


@pytest.mark.parametrize("doc", [str(2**63), str(2**64 + 5), "-1", "0", "12abc"])
def test_a_doc_id_beyond_the_database_is_not_found(app_db, doc: str) -> None:
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.text_input[0].input("admin")
    at.text_input[1].input(ADMIN_PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    at.query_params["doc"] = doc
    at.switch_page("../pages/record.py").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [f"no document {doc}: it does not exist, or your role cannot see it."]
