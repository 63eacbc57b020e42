"""The agent registry (seeded, edited as versions, reverted, audited) and proposed writes (run only on approval,
as the approver, audited; rejected ones never run)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.agents.actions import approve_action, reject_action
from core.agents.ask import ask
from core.agents.registry import agent_versions, edit_agent, get_agent, list_agents, revert_agent
from core.db.models import Activity, AuditLog, Insight, ProposedAction
from core.errors import Conflict, InvalidInput, NotFound
from core.runtime import Runtime
from tests.agents.conftest import ANALYST, VIEWER

SPECIALISTS = {"sales_coach", "client_health", "finance", "people", "research"}


def test_the_specialists_and_the_manager_are_seeded(runtime: Runtime) -> None:
    with runtime.session() as s:
        agents = {a.name: a for a in list_agents(session=s)}
    assert set(agents) == SPECIALISTS | {"strategy"}
    assert agents["strategy"].manager and not any(agents[n].manager for n in SPECIALISTS)
    assert "call_analysis" in agents["sales_coach"].tools and "people_overview" in agents["people"].tools
    assert all(a.version == 1 and a.enabled for a in agents.values())


def test_an_edit_is_a_new_version_that_can_be_reverted(runtime: Runtime) -> None:
    with runtime.session() as s:
        original = get_agent(session=s, name="finance")
        edited = edit_agent(
            session=s,
            name="finance",
            changes={"goal": "Only invoices.", "tools": "payment_metrics, get_record", "llm.temperature": "0.2"},
            actor="alice",
        )
        assert (
            edited.version == 2
            and edited.goal == "Only invoices."
            and edited.tools == ("payment_metrics", "get_record")
        )
        assert edited.llm == {"temperature": 0.2} and edited.updated_by == "alice"
        reverted = revert_agent(session=s, name="finance", version=1, actor="bob")
        assert reverted.version == 3
        assert (reverted.goal, reverted.tools, reverted.llm) == (original.goal, original.tools, original.llm)
        history = agent_versions(session=s, name="finance")
        assert [(v.version, v.changed_by) for v in history] == [(3, "bob"), (2, "alice"), (1, "system")]
        assert set(history[1].changed) == {"goal", "tools", "llm.temperature"}
        assert history[0].note == "reverted to version 1"
        s.commit()
    with runtime.session() as s:
        actions = s.scalars(select(AuditLog.actor).where(AuditLog.action == "agent.edit", AuditLog.target == "finance"))
        assert list(actions) == ["alice", "bob"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tools": "search, drop_tables"}, "unknown tool"),
        ({"enabled": "maybe"}, "true or false"),
        ({"llm.temperature": "7"}, "between 0 and 2"),
        ({"colour": "red"}, "cannot edit"),
        ({"goal": "  "}, "cannot be empty"),
    ],
)
def test_a_bad_edit_changes_nothing(runtime: Runtime, changes, message) -> None:
    with runtime.session() as s:
        with pytest.raises(InvalidInput, match=message):
            edit_agent(session=s, name="research", changes={"title": "New title", **changes}, actor="alice")
        s.rollback()
        assert get_agent(session=s, name="research").version == 1
        assert get_agent(session=s, name="research").title == "Research Analyst"


def test_the_manager_cannot_be_disabled_and_unknown_agents_are_named(runtime: Runtime) -> None:
    with runtime.session() as s:
        with pytest.raises(InvalidInput, match="manager"):
            edit_agent(session=s, name="strategy", changes={"enabled": "false"}, actor="alice")
        with pytest.raises(NotFound, match="sales_coach"):
            get_agent(session=s, name="closer")


def test_a_disabled_specialist_cannot_be_asked(demo_rt) -> None:
    with demo_rt.session() as s:
        edit_agent(session=s, name="people", changes={"enabled": "false"}, actor="test")
        s.commit()
    try:
        with pytest.raises(NotFound, match="no enabled specialist"):
            ask(runtime=demo_rt, identity=ANALYST, question="how are the goals going?", agent="people")
    finally:
        with demo_rt.session() as s:
            edit_agent(session=s, name="people", changes={"enabled": "true"}, actor="test")
            s.commit()


def _account(demo_rt) -> str:
    from core.db.models import Account

    with demo_rt.session() as s:
        return s.scalars(select(Account.name).order_by(Account.name).limit(1)).one()


def test_a_proposed_task_runs_only_when_approved_and_as_the_approver(demo_rt) -> None:
    name = _account(demo_rt)
    result = ask(runtime=demo_rt, identity=ANALYST, question=f"create a task for {name} to send the renewal quote")
    assert [(a.tool, a.status) for a in result.proposed_actions] == [("crm_task", "proposed")]
    action = result.proposed_actions[0]
    assert action.args["subject"].lower().startswith("send the renewal quote")
    with demo_rt.session() as s:
        assert s.scalar(select(Activity).where(Activity.source == "sophia")) is None
    with pytest.raises(NotFound):  # another user cannot approve it
        approve_action(runtime=demo_rt, identity=VIEWER, action_id=action.id)
    done = approve_action(runtime=demo_rt, identity=ANALYST, action_id=action.id)
    assert done.status == "executed"
    with demo_rt.session() as s:
        task = s.scalars(select(Activity).where(Activity.source == "sophia")).one()
        assert task.type == "task" and task.subject == action.args["subject"]
        audits = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.target == action.id))]
        assert audits == ["agent.action.approve", "agent.action.executed"]
    with pytest.raises(Conflict):
        approve_action(runtime=demo_rt, identity=ANALYST, action_id=action.id)


def test_a_rejected_action_never_runs_and_approve_runs_at_once(demo_rt) -> None:
    from core.insights import run_detection

    run_detection(runtime=demo_rt)
    with demo_rt.session() as s:
        insight = s.scalars(select(Insight).where(Insight.status == "new", Insight.min_role == "viewer").limit(2)).all()
    first = ask(runtime=demo_rt, identity=ANALYST, question=f"acknowledge insight {insight[0].id}")
    rejected = reject_action(runtime=demo_rt, identity=ANALYST, action_id=first.proposed_actions[0].id)
    assert rejected.status == "rejected"
    second = ask(runtime=demo_rt, identity=ANALYST, question=f"acknowledge insight {insight[1].id}", approve=True)
    assert [a.status for a in second.proposed_actions] == ["executed"]
    assert second.as_json()["proposed_actions"][0]["status"] == "executed"
    with demo_rt.session() as s:
        assert s.get(Insight, insight[0].id).status == "new"
        assert s.get(Insight, insight[1].id).status == "acknowledged"
        assert s.get(ProposedAction, rejected.id).status == "rejected"


def test_a_viewer_cannot_even_propose_a_write(demo_rt) -> None:
    result = ask(runtime=demo_rt, identity=VIEWER, question=f"create a task for {_account(demo_rt)} to call them")
    assert result.proposed_actions == []
    assert "Not shown with your role (viewer)" in result.answer
