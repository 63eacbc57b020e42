"""The Record page's ``?doc=`` parameter at the edge: what cannot name a document is "not found"."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest_env import ENTRY
from tests.conftest import ADMIN_PASSWORD


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
