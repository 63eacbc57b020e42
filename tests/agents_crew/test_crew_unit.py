"""The crew with an in-process scripted language model (fast): which tools each agent is offered by the
caller's role, writes proposed and not done, errors a model can read, consensus on a decision, the task's
context."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.agents.ask import Turn, ask
from core.agents.consensus import Vote
from core.agents.consensus import tally as consensus_answer
from core.agents.crew import CrewEngine, context_text, model_name, parse_vote
from core.agents.registry import SEED_BY_NAME
from core.db.models import Account, Activity, AuditLog
from core.errors import ConfigError
from core.runtime import Runtime
from core.tools.base import ToolContext
from core.tools.catalogue import tools_for
from tests.agents_crew.conftest import ADMIN, ANALYST, VIEWER
from tests.agents_crew.scripted import Call, Script, quote_last, scripted_llm, tool_results
from tests.conftest import make_settings


def engine(rt: Runtime, script: Script) -> CrewEngine:
    return CrewEngine(rt.settings, llm_factory=lambda spec: scripted_llm(script, f"scripted-{spec.name}"))


def seeded_tools(agent: str) -> list[str]:
    return list(SEED_BY_NAME[agent]["tools"])


def an_account(rt: Runtime) -> str:
    with rt.session() as s:
        return s.scalars(select(Account.name).order_by(Account.external_id)).first()


# ---- tools by role -----------------------------------------------------------------------------------------------


def test_a_viewers_specialists_are_not_offered_tools_above_the_viewer(runtime_demo) -> None:
    script = Script({"Sales Coach": ["Nothing to coach yet."], "People Partner": ["Nothing to say."]})
    for identity, agent in ((VIEWER, "sales_coach"), (VIEWER, "people"), (ANALYST, "sales_coach")):
        ask(
            runtime=runtime_demo,
            identity=identity,
            question="How are the reps doing?",
            agent=agent,
            engine=engine(runtime_demo, script),
        )

    coach = {name for role, _, names in script.seen[:1] for name in names}
    people = {name for role, _, names in script.seen[1:2] for name in names}
    analyst_coach = {name for role, _, names in script.seen[2:3] for name in names}
    assert coach == {t.name for t in tools_for(VIEWER, seeded_tools("sales_coach"))}
    assert "call_analysis" not in coach and "call_analysis" in analyst_coach
    assert people == {t.name for t in tools_for(VIEWER, seeded_tools("people"))}
    assert "people_overview" not in people
    assert [role for role, _, _ in script.seen] == ["Sales Coach", "People Partner", "Sales Coach"]


def test_a_tool_not_offered_cannot_be_called_by_naming_it(runtime_demo) -> None:
    script = Script(
        {"Sales Coach": [Call("call_analysis", {"view": "coaching"}), lambda m: "Tool said: " + tool_results(m)[-1]]}
    )
    result = ask(
        runtime=runtime_demo,
        identity=VIEWER,
        question="Who needs coaching?",
        agent="sales_coach",
        engine=engine(runtime_demo, script),
    )
    assert result.tool_calls == []  # our door never ran it
    assert result.answer == "Tool said: Tool not found"  # CrewAI's words to the model


# ---- arguments and errors ----------------------------------------------------------------------------------------


def test_nulls_for_fields_left_out_take_the_defaults(runtime_demo) -> None:
    # strict schemas list every field as required: a model sends null for the ones it leaves out
    args = {"view": "coaching", "rep": None, "competitor": None, "account": None, "limit": None}
    script = Script({"Sales Coach": [Call("call_analysis", args), quote_last("Coaching:")]})
    result = ask(
        runtime=runtime_demo,
        identity=ADMIN,
        question="Who needs coaching?",
        agent="sales_coach",
        engine=engine(runtime_demo, script),
    )
    assert [(c["tool"], c["args"]) for c in result.tool_calls] == [("call_analysis", {"view": "coaching", "limit": 8})]
    assert not tool_results(script.seen[-1][1])[-1].startswith("Error")


def test_a_tool_error_goes_back_to_the_model_as_text(runtime_demo) -> None:
    script = Script(
        {
            "Client Health Analyst": [
                Call("account_overview", {"account": "No Such Customer Zzyzx"}),
                Call("account_overview", {"account": an_account(runtime_demo)}),
                quote_last("Found it:"),
            ]
        }
    )
    result = ask(
        runtime=runtime_demo,
        identity=ADMIN,
        question="Tell me about Zzyzx",
        agent="client_health",
        engine=engine(runtime_demo, script),
    )
    first_result = tool_results(script.seen[1][1])[0]
    assert first_result.startswith("Error: ") and "Zzyzx" in first_result
    assert result.finish_reason == "stop"
    assert [c["tool"] for c in result.tool_calls] == ["account_overview", "account_overview"]
    assert result.citations, "the second call's records are cited"


# ---- writes --------------------------------------------------------------------------------------------------


def _task_script(account: str) -> Script:
    args = {"account": account, "subject": "Call the CFO about the failed payments", "due_in_days": 3, "owner": None}
    return Script({"Client Health Analyst": [Call("crm_task", args), quote_last("Follow-up:")]})


def _sophia_tasks(rt: Runtime) -> list[str]:
    with rt.session() as s:
        return list(s.scalars(select(Activity.subject).where(Activity.source == "sophia")))


def test_a_write_is_proposed_not_done_and_runs_when_approved(runtime_demo) -> None:
    account = an_account(runtime_demo)
    question = f"Set up a follow-up with {account}"

    proposed = ask(
        runtime=runtime_demo,
        identity=ANALYST,
        question=question,
        agent="client_health",
        engine=engine(runtime_demo, _task_script(account)),
    )
    assert [(a.tool, a.status) for a in proposed.proposed_actions] == [("crm_task", "proposed")]
    assert proposed.proposed_actions[0].args["due_in_days"] == 3
    assert "Proposed, not done" in proposed.answer
    assert _sophia_tasks(runtime_demo) == []

    approved = ask(
        runtime=runtime_demo,
        identity=ANALYST,
        question=question,
        agent="client_health",
        approve=True,
        engine=engine(runtime_demo, _task_script(account)),
    )
    assert [(a.tool, a.status) for a in approved.proposed_actions] == [("crm_task", "executed")]
    assert _sophia_tasks(runtime_demo) == ["Call the CFO about the failed payments"]
    with runtime_demo.session() as s:
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.actor == ANALYST.username)))
    assert {"agent.action.approve", "agent.action.executed", "crm.task.create"} <= actions


# ---- consensus ---------------------------------------------------------------------------------------------------


def test_a_decision_is_judged_by_four_specialists_independently(runtime_demo) -> None:
    account = an_account(runtime_demo)
    script = Script(
        {
            "Client Health Analyst": [
                Call("account_risk", {"account": account, "signal": "churn_risk"}),
                "VERDICT: yes\nChurn risk 75 of 100 from payment failures and falling engagement.",
            ],
            "Finance & Payments Analyst": [
                Call("payment_metrics", {"view": "failure_rate", "account": account}),
                "**VERDICT: YES** — 12.6% of rent payments failed last month.",
            ],
            "Sales Coach": ["VERDICT: no\nIts deals are moving and no competitor came up on calls."],
            "Research Analyst": [
                Call("account_risk", {"account": account, "signal": "champion_left"}),
                "Verdict: yes. The champion left for another company.",
            ],
            "Strategy Lead": ["The manager is not asked for a decision."],
        }
    )
    result = ask(
        runtime=runtime_demo, identity=ADMIN, question=f"Is {account} at risk?", engine=engine(runtime_demo, script)
    )

    assert result.consensus == {
        "verdict": "at risk",
        "agree": 3,
        "of": 4,
        "dissents": [{"agent": "sales_coach", "reason": "Its deals are moving and no competitor came up on calls."}],
    }
    assert "Strategy Lead" not in script.roles_seen()
    assert sorted(result.agents) == ["client_health", "finance", "research", "sales_coach"]
    assert result.answer.startswith(f"**{account}: at risk** — 3 of 4 specialists agree.")
    assert "**Dissent:** Sales Coach (Its deals are moving" in result.answer
    assert sorted((c["agent"], c["tool"]) for c in result.tool_calls) == [
        ("client_health", "account_risk"),
        ("finance", "payment_metrics"),
        ("research", "account_risk"),
    ]
    # each judged alone: no specialist saw another's verdict
    for role, messages, _ in script.seen:
        assert not any("VERDICT" in str(m.get("content")) for m in messages if m.get("role") == "assistant"), role


@pytest.mark.parametrize(
    ("reply", "yes", "reason"),
    [
        ("VERDICT: yes\nPayments failed.", True, "Payments failed."),
        ("**Verdict: NO** - all fine", False, "all fine"),
        ("My view.\nVERDICT: no. Deals move.", False, "My view. Deals move."),
        ("verdict — yes: champion left", True, "champion left"),
        ("I think it is at risk.", None, "gave no clear verdict"),
        ("VERDICT: yes", True, "no reason given"),
    ],
)
def test_a_verdict_is_read_from_the_reply(reply: str, yes: bool | None, reason: str) -> None:
    assert parse_vote("finance", reply) == Vote("finance", yes, reason)


def test_an_escalation_names_abstentions_and_a_tie_is_a_split() -> None:
    votes = [
        Vote("client_health", True, "usage fell"),
        Vote("finance", False, "invoices paid"),
        Vote("research", None, "gave no clear verdict"),
    ]
    titles = {"client_health": "Client Health Analyst", "finance": "Finance", "research": "Research"}
    text, consensus = consensus_answer(votes, escalate=True, subject="Deal X", titles=titles)
    assert consensus == {
        "verdict": "split: consider escalating",
        "agree": 1,
        "of": 2,
        "dissents": [{"agent": "finance", "reason": "invoices paid"}],
    }
    assert text.startswith("**Deal X: split: consider escalating** — the specialists split 1–1.")
    assert "Not assessed: Research (gave no clear verdict)." in text
    none_text, none = consensus_answer(votes[2:], escalate=False, subject=None, titles=titles)
    assert none is None and "None of the specialists" in none_text


# ---- context and configuration -----------------------------------------------------------------------------------


def test_the_task_carries_the_conversation_and_the_users_notes(runtime_demo) -> None:
    ctx = ToolContext(runtime=runtime_demo, identity=ANALYST, now=datetime(2026, 5, 4, 15, tzinfo=UTC))
    note = SimpleNamespace(text="Harbor Point's CFO prefers email", created_at=datetime(2026, 4, 2, tzinfo=UTC))
    turn = Turn(
        question="and their invoices?",
        ctx=ctx,
        agents=[],
        agent=None,
        memories=[note],
        state={},
        history=[("user", "tell me about Harbor Point"), ("assistant", "Harbor Point is healthy. " * 100)],
    )
    text = context_text(turn)
    assert "Asked by ana (role analyst) on Monday 04 May 2026." in text
    assert "user: tell me about Harbor Point" in text
    assert "assistant: Harbor Point is healthy." in text and len(text) < 1500  # long messages are cut
    assert "- Harbor Point's CFO prefers email (noted 2026-04-02)" in text


def test_a_follow_up_gives_the_crew_the_conversation(runtime_demo) -> None:
    script = Script({"Client Health Analyst": ["Noted."]})
    first = ask(
        runtime=runtime_demo,
        identity=ADMIN,
        question="Who owns Sagebrush Living?",
        agent="client_health",
        engine=engine(runtime_demo, script),
    )
    ask(
        runtime=runtime_demo,
        identity=ADMIN,
        question="And their invoices?",
        agent="client_health",
        conversation_id=first.conversation_id,
        engine=engine(runtime_demo, script),
    )
    task = next(m["content"] for m in script.seen[-1][1] if m["role"] == "user")
    assert "Earlier in this conversation:\nuser: Who owns Sagebrush Living?\nassistant: Noted." in task
    assert "The question:\nAnd their invoices?" in task


@pytest.mark.parametrize(
    ("model", "base_url", "routed"),
    [
        ("gpt-4o-mini", "http://127.0.0.1:8000/v1", "openai/gpt-4o-mini"),
        ("meta-llama/Llama-3.1-8B", "http://127.0.0.1:8000/v1", "openai/meta-llama/Llama-3.1-8B"),
        ("ollama/llama3.1", "http://127.0.0.1:11434", "ollama/llama3.1"),
        ("openai/gpt-4o-mini", None, "openai/gpt-4o-mini"),
        ("gpt-4o-mini", None, "gpt-4o-mini"),
    ],
)
def test_a_model_without_a_known_provider_and_a_base_url_is_an_openai_compatible_one(model, base_url, routed) -> None:
    assert model_name(model, base_url) == routed


def test_a_model_crewai_cannot_route_is_a_config_error_naming_the_setting(tmp_path) -> None:
    settings = make_settings(tmp_path, llm_model="mystery/model-9")
    with pytest.raises(ConfigError, match="SOPHIA_LLM_MODEL='mystery/model-9' is not a model CrewAI can use"):
        CrewEngine(settings)
