"""The Agents page through AppTest: the list, an edit saved as a new version (audited as the admin), the history
with what changed, a revert, a bad value refused whole, and the page closed to a viewer (by menu and by URL)."""

from __future__ import annotations

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.agents.registry import agent_versions, get_agent
from core.db.models import AuditLog
from core.runtime import Runtime
from tests.app.test_insights_page import open_page, signed_in, user
from tests.conftest import ADMIN_PASSWORD

AGENTS = "../pages/agents.py"


def save(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception, at.exception
    return at


def spec(rt: Runtime, name: str):  # noqa: ANN201
    with rt.session() as s:
        return get_agent(session=s, name=name)


def test_an_admin_edits_an_agent_and_reverts_it(app_db: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD), AGENTS, agent="finance")
    table = at.dataframe[0].value
    assert list(table["name"]) == ["strategy", "client_health", "finance", "people", "research", "sales_coach"]
    assert at.selectbox(key="ag_pick").value == "finance"  # ?agent= opened it

    at.text_input(key="ag_finance_v1_title").input("Billing Analyst")
    at.multiselect(key="ag_finance_v1_tools").unselect("search")
    at.number_input(key="ag_finance_v1_llm.temperature").set_value(0.3)
    at.text_input(key="ag_finance_v1_note").input("billing only")
    save(at)
    assert [s.value for s in at.success] == ["Billing Analyst is now version 2: changed title, tools, llm.temperature."]
    now = spec(app_db, "finance")
    assert (now.title, now.version, now.llm) == ("Billing Analyst", 2, {"temperature": 0.3})
    assert "search" not in now.tools and "payment_metrics" in now.tools
    with app_db.session() as s:
        (entry,) = s.scalars(select(AuditLog).where(AuditLog.action == "agent.edit"))
        assert (entry.actor, entry.target) == ("admin", "finance")
    # the history says who changed what, and offers the way back
    body = "\n".join(c.value for c in at.caption)
    assert "title, tools, llm.temperature · “billing only”" in body
    assert any(e.label == "What changed in v2" for e in at.expander)
    at.button(key="revert_finance_1").click().run()
    assert [s.value for s in at.success] == ["Finance & Payments Analyst is now version 3, as it was at version 1."]
    back = spec(app_db, "finance")
    assert back.title == "Finance & Payments Analyst" and "search" in back.tools and back.version == 3
    with app_db.session() as s:
        assert [v.version for v in agent_versions(session=s, name="finance")] == [3, 2, 1]
    assert at.text_input(key="ag_finance_v3_title").value == "Finance & Payments Analyst"  # the form follows


def test_nothing_changed_and_a_bad_value_save_nothing(app_db: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD), AGENTS, agent="people")
    save(at)
    assert [i.value for i in at.info] == ["Nothing changed."]
    at.text_input(key="ag_people_v1_title").input("   ")
    at.toggle(key="ag_people_v1_enabled").set_value(False)
    save(at)
    assert [e.value for e in at.error] == ["title cannot be empty"]
    assert spec(app_db, "people").version == 1 and spec(app_db, "people").enabled  # refused whole


def test_the_manager_cannot_be_disabled_or_given_tools(app_db: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD), AGENTS, agent="strategy")
    assert at.toggle(key="ag_strategy_v1_enabled").disabled
    assert at.multiselect(key="ag_strategy_v1_tools").disabled


def test_a_viewer_cannot_open_the_agents_page(app_db: Runtime) -> None:
    at = signed_in("vera", user(app_db, "vera", "viewer"))
    at.switch_page(AGENTS).run()
    assert [e.value for e in at.error] == ["The agents page is for admins only. You are signed in as vera (viewer)."]
    assert not at.dataframe and not [b for b in at.button if b.label == "Save as a new version"]
