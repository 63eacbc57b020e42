"""The tool catalogue's door: each tool typed and described, roles checked at the door whoever calls, writes
only proposed, citations a role may not open dropped; and the same through ``ask``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.agents.ask import ask
from core.auth import Identity
from core.db.models import AuditLog, Document, Employee, Insight, Review
from core.errors import Forbidden, InvalidInput, NotFound
from core.tools import ToolContext
from core.tools.catalogue import CATALOGUE, tools_for
from tests.agents.conftest import ADMIN, ANALYST, VIEWER

REQUIRED = {
    "search",
    "get_record",
    "account_overview",
    "deal_pipeline",
    "payment_metrics",
    "call_analysis",
    "insights_list",
    "insight_explain",
    "people_overview",
    "recall_memory",
    "store_memory",
}


def test_every_tool_is_typed_described_and_has_a_role() -> None:
    assert REQUIRED <= set(CATALOGUE)
    for tool in CATALOGUE.values():
        schema = tool.schema()
        assert schema["type"] == "object" and schema.get("additionalProperties") is False, tool.name
        assert len(tool.description) > 30, tool.name
        assert tool.role in ("viewer", "analyst", "admin")
    writes = {t.name for t in CATALOGUE.values() if t.write}
    assert writes == {"insight_acknowledge", "slack_post", "crm_task"}


def test_a_caller_sees_only_the_tools_its_role_allows() -> None:
    viewer = {t.name for t in tools_for(VIEWER)}
    analyst = {t.name for t in tools_for(ANALYST)}
    admin = {t.name for t in tools_for(ADMIN)}
    assert "people_overview" not in viewer | analyst and "people_overview" in admin
    assert "call_analysis" not in viewer and "call_analysis" in analyst
    assert not {t for t in viewer if CATALOGUE[t].write}
    assert viewer < analyst < admin


def test_the_door_rechecks_the_role_and_the_agents_own_tools(demo_rt) -> None:
    ctx = ToolContext(runtime=demo_rt, identity=VIEWER)
    with pytest.raises(Forbidden):
        ctx.call("people_overview", {"person": "anyone"})
    with pytest.raises(Forbidden):
        ctx.call("call_analysis", {"view": "coaching"})
    narrow = ctx.for_agent("finance", frozenset({"payment_metrics"}))
    with pytest.raises(Forbidden):
        narrow.call("deal_pipeline", {})
    with pytest.raises(NotFound):
        ctx.call("drop_tables", {})
    with pytest.raises(InvalidInput, match="view"):
        ctx.call("payment_metrics", {"view": "everything"})
    with pytest.raises(InvalidInput, match="Extra inputs"):
        ctx.call("deal_pipeline", {"sql": "select 1"})
    assert [c.ok for c in ctx.calls] == []  # refused before running: nothing ran


def test_a_write_is_proposed_not_done(demo_rt) -> None:
    with demo_rt.session() as s:
        before = s.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    ctx = ToolContext(runtime=demo_rt, identity=ANALYST)
    result = ctx.call("crm_task", {"account": "x", "subject": "send the renewal quote"})
    assert "Proposed, not done" in result.text
    assert [(p.tool, p.args["subject"]) for p in ctx.proposals] == [("crm_task", "send the renewal quote")]
    with demo_rt.session() as s:
        assert s.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) == before


def test_a_viewers_answers_never_cite_above_the_viewer(demo_rt) -> None:
    with demo_rt.session() as s:
        person = s.scalars(select(Employee).join(Review, Review.employee_id == Employee.id).limit(1)).first()
        admin_docs = {str(d) for d in s.scalars(select(Document.id).where(Document.min_role != "viewer"))}
    assert admin_docs, "the demo has documents only admins may see"
    questions = [
        f"how is {person.name} doing on her goals?",
        "performance review ratings and feedback",
        f"coach me on {person.name.split()[0]}'s last calls",
    ]
    for q in questions:
        result = ask(runtime=demo_rt, identity=VIEWER, question=q)
        tools = {c["tool"] for c in result.tool_calls}
        assert not tools & {"people_overview", "call_analysis"}, (q, tools)
        assert not {c["doc_id"] for c in result.citations} & admin_docs, q
        assert not {c["table"] for c in result.citations} & {"reviews", "goals"}, q
    admin = ask(runtime=demo_rt, identity=ADMIN, question=f"how is {person.name} doing on her goals?")
    assert "people_overview" in {c["tool"] for c in admin.tool_calls}


def test_a_viewer_told_why_part_of_an_answer_is_missing(demo_rt) -> None:
    with demo_rt.session() as s:
        rep = s.scalars(select(Employee.name).where(Employee.department == "Sales").limit(1)).first()
    result = ask(runtime=demo_rt, identity=VIEWER, question=f"coach me on {rep}'s last calls")
    assert "Not shown with your role (viewer)" in result.answer


def test_coaching_insights_stay_hidden_from_viewers_in_listings(demo_rt) -> None:
    from core.insights import run_detection

    run_detection(runtime=demo_rt)
    with demo_rt.session() as s:
        coaching = s.scalars(select(Insight.id).where(Insight.type == "coaching_talk_ratio")).all()
    assert coaching
    ctx = ToolContext(runtime=demo_rt, identity=VIEWER)
    listed = ctx.call("insights_list", {"type": "coaching_talk_ratio"})
    assert listed.data["total"] == 0
    with pytest.raises(NotFound):
        ctx.call("insight_explain", {"insight_id": coaching[0]})


def test_identity_is_per_user_not_per_role(demo_rt) -> None:
    other = Identity(username="otto", role="viewer", via="cli")
    first = ask(runtime=demo_rt, identity=VIEWER, question="which deals are stalled?")
    with pytest.raises(NotFound):
        ask(runtime=demo_rt, identity=other, question="and why?", conversation_id=first.conversation_id)
