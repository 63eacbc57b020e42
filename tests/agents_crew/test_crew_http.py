"""A real hierarchical crew, end to end, against a scripted OpenAI-compatible server on 127.0.0.1: the manager
delegates, the specialist calls our tool through the one door, the answer carries the tool's citations, and
the tokens are counted and stored per agent."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.agents.ask import ask, ask_stream
from core.agents.registry import SEED_BY_NAME, edit_agent
from core.db.models import LlmUsage
from core.tools.base import ToolContext
from core.tools.catalogue import tools_for
from tests.agents_crew.conftest import ADMIN, llm_settings
from tests.agents_crew.scripted import COMPLETION_TOKENS, PROMPT_TOKENS, Call, Script, quote_last

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")  # our own log (stdout until configured)
QUESTION = "Which accounts are at risk of churn, and why?"


def delegating_script() -> Script:
    return Script(
        {
            "Strategy Lead": [
                Call(
                    "delegate_work_to_coworker",
                    {
                        "task": "List the accounts at risk of churn, with each signal.",
                        "context": "The user asks which accounts are at risk of churn and why.",
                        "coworker": "Client Health Analyst",
                    },
                ),
                quote_last("Here is what the Client Health Analyst found:"),
            ],
            "Client Health Analyst": [
                Call("account_risk", {"account": None, "signal": "churn_risk"}),
                quote_last("Accounts at risk of churn:"),
            ],
        }
    )


def test_a_hierarchical_crew_delegates_runs_our_tool_and_cites_it(demo_runtime, chat_server, capfd) -> None:
    chat_server.script = script = delegating_script()
    rt = demo_runtime(**llm_settings(chat_server))
    door = ToolContext(runtime=rt, identity=ADMIN)
    expected = door.call("account_risk", {"signal": "churn_risk"})
    assert expected.citations, "the demo has accounts at risk"

    events = list(ask_stream(runtime=rt, identity=ADMIN, question=QUESTION))
    result = events[-1].data["result"]

    assert (result.offline, result.finish_reason) == (False, "stop")
    # the manager delegated to the specialist, who called the tool, then the manager composed
    assert script.roles_seen() == ["Strategy Lead", "Client Health Analyst", "Client Health Analyst", "Strategy Lead"]
    assert {"delegate_work_to_coworker", "ask_question_to_coworker"} <= script.offered("Strategy Lead")
    specialist_tools = {t.name for t in tools_for(ADMIN, list(SEED_BY_NAME["client_health"]["tools"]))}
    assert script.offered("Client Health Analyst") == specialist_tools
    assert all(chat["model"] == "local/scripted-model" for chat in chat_server.chats())
    # our tool ran through the door, as the specialist
    assert [(c["agent"], c["tool"], c["args"]) for c in result.tool_calls] == [
        ("client_health", "account_risk", {"signal": "churn_risk"})
    ]
    assert result.agents == ["strategy", "client_health"]
    # what the tool found reached the answer, and its records are the answer's citations
    assert expected.text.splitlines()[0] in result.answer
    cited = [c.as_json(rt.settings.public_url) for c in door.citations]  # as the door keeps them: once each
    assert result.citations == cited
    # tokens counted per agent and stored
    requests = len(chat_server.chats())
    assert result.usage["prompt_tokens"] == PROMPT_TOKENS * requests
    assert result.usage["completion_tokens"] == COMPLETION_TOKENS * requests
    with rt.session() as s:
        rows = {(u.agent, u.prompt_tokens, u.completion_tokens) for u in s.scalars(select(LlmUsage))}
    assert rows == {
        ("strategy", 2 * PROMPT_TOKENS, 2 * COMPLETION_TOKENS),
        ("client_health", 2 * PROMPT_TOKENS, 2 * COMPLETION_TOKENS),
    }
    # the stream: agents announced, the tool event before the answer's text, no internal tick
    kinds = [e.type for e in events]
    assert "tick" not in kinds
    assert {e.data["agent"] for e in events if e.type == "agent"} == {"strategy", "client_health"}
    assert kinds.index("tool") < kinds.index("delta")
    assert "".join(e.data["text"] for e in events if e.type == "delta") == result.answer
    # nothing on stdout: `sophia ask --json` prints only its JSON
    printed = [line for line in capfd.readouterr().out.splitlines() if not LOG_LINE.match(line)]
    assert printed == []


def test_the_month_budget_stops_the_next_answer(demo_runtime, chat_server) -> None:
    chat_server.script = delegating_script()
    # $1 per thousand prompt tokens: the first answer (4 requests of 100 tokens) costs $0.40 of a $0.30 budget
    rt = demo_runtime(**llm_settings(chat_server, llm_price_prompt_per_m=1000.0, llm_monthly_budget_usd=0.30))
    first = ask(runtime=rt, identity=ADMIN, question=QUESTION)
    assert first.finish_reason == "stop"
    assert first.usage["cost_usd"] == 0.4
    requests = len(chat_server.chats())

    second = ask(runtime=rt, identity=ADMIN, question=QUESTION)
    assert second.finish_reason == "budget"
    assert "budget" in second.answer and "SOPHIA_LLM_MONTHLY_BUDGET_USD" in second.answer
    assert len(chat_server.chats()) == requests, "no request to the model once the budget is spent"


def test_a_model_server_that_is_down_gives_an_answer_saying_so(demo_runtime, chat_server) -> None:
    chat_server.script = delegating_script()
    rt = demo_runtime(**llm_settings(chat_server))
    chat_server.stop()

    result = ask(runtime=rt, identity=ADMIN, question=QUESTION)

    assert result.finish_reason == "error"
    assert f"The language model at {chat_server.base_url} could not be reached" in result.answer
    assert "Traceback" not in result.answer


def test_a_refused_api_key_names_the_setting(demo_runtime, chat_server) -> None:
    chat_server.script = delegating_script()
    rt = demo_runtime(**llm_settings(chat_server, llm_api_key="sk-wrong"))

    result = ask(runtime=rt, identity=ADMIN, question=QUESTION)

    assert result.finish_reason == "error"
    assert "refused the API key" in result.answer and "SOPHIA_LLM_API_KEY" in result.answer


def test_an_agents_own_model_that_cannot_be_routed_is_an_answer_naming_the_agent(demo_runtime, chat_server) -> None:
    chat_server.script = delegating_script()
    rt = demo_runtime(**llm_settings(chat_server))
    with rt.session() as s:
        edit_agent(session=s, name="client_health", changes={"llm.model": "anthropic/gpt-unknown"}, actor="admin")
        s.commit()

    result = ask(runtime=rt, identity=ADMIN, question=QUESTION)

    assert result.finish_reason == "error"
    assert "agent client_health's llm.model='anthropic/gpt-unknown' is not a model CrewAI can use" in result.answer
    assert chat_server.chats() == []
