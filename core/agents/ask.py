"""``ask``: the one entry for a question, whatever the face (CLI, API, Chat page, WebSocket, MCP).

    for event in ask_stream(runtime=rt, identity=who, question="which accounts are at risk?"):
        ...   # start, agent, tool, delta, citation, action, end (its "result" is the whole answer)

It opens (or continues) the caller's conversation, recalls the caller's memories for the question, checks the
month's budget when a model is configured, runs the engine (the CrewAI crew when ``SOPHIA_LLM_MODEL`` is set,
else the offline engine), streams what happens, and stores the answer with its citations, tool calls,
proposed writes (run now only with ``approve``) and usage. ``ask`` collects the stream into an ``AskResult``
whose ``as_json()`` is the ``sophia ask --json`` contract."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.agents.actions import ActionItem, action_item, approve_action, store_proposals
from core.agents.conversations import add_message, month_cost, open_conversation, recent_turns
from core.agents.registry import AgentSpec, list_agents
from core.auth import Identity
from core.db.models import LlmUsage
from core.errors import InvalidInput, NotFound
from core.observability.logging import get_logger
from core.tools.base import ToolCall, ToolContext, ToolResult

if TYPE_CHECKING:
    from core.runtime import Runtime

log = get_logger(__name__)

__all__ = ["AskEvent", "AskResult", "Turn", "ask", "ask_stream", "llm_configured"]

DELTA_CHARS = 48  # streamed text comes in pieces of about this size


@dataclass(frozen=True)
class AskEvent:
    """One thing that happened while answering. ``type``: start | agent | tool | delta | citation | action | end.

    An engine may also yield ``tick`` (nothing to show; a tool ran in its worker thread): ``ask_stream`` passes the
    tool events on then and swallows the tick, so no face ever sees one."""

    type: str
    data: dict[str, Any]


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    by_agent: dict[str, tuple[int, int]] = field(default_factory=dict)  # agent -> (prompt, completion)

    def as_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class Turn:
    """What an engine answers from: the question, the caller's tool context, the agents, the conversation."""

    question: str
    ctx: ToolContext
    agents: list[AgentSpec]
    agent: str | None  # --agent: ask this specialist alone
    memories: list[Any]  # core.memory.MemoryItem recalled for the question
    state: dict[str, Any]  # what the conversation was about (a follow-up's subjects)
    history: list[tuple[str, str]]  # earlier (role, text) of the conversation
    # set by the engine as it answers
    answer: str = ""
    used_agents: list[str] = field(default_factory=list)
    consensus: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"

    def specialist(self, name: str) -> AgentSpec | None:
        return next((a for a in self.agents if a.name == name), None)

    def as_agent(self, name: str) -> ToolContext:
        """The tool context as ``name`` (its own tool list) — the log and citations are shared."""
        spec = self.specialist(name)
        if name not in self.used_agents:
            self.used_agents.append(name)
        return self.ctx.for_agent(name, frozenset(spec.tools) if spec else frozenset())


class Engine(Protocol):
    offline: bool

    def run(self, turn: Turn) -> Iterator[AskEvent]:
        """Yield ``agent`` and ``delta`` events while answering; fill ``turn``'s answer fields."""
        ...


@dataclass
class AskResult:
    answer: str
    offline: bool
    conversation_id: str
    citations: list[dict[str, Any]]
    agents: list[str]
    tool_calls: list[dict[str, Any]]
    consensus: dict[str, Any] | None
    proposed_actions: list[ActionItem]
    usage: dict[str, Any]
    message_id: int | None = None  # the stored answer (feedback is given on it); not part of the JSON
    finish_reason: str = "stop"

    def as_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "offline": self.offline,
            "conversation_id": self.conversation_id,
            "citations": self.citations,
            "agents": self.agents,
            "tool_calls": self.tool_calls,
            "consensus": self.consensus,
            "proposed_actions": [a.as_json() for a in self.proposed_actions],
            "usage": self.usage,
        }


def llm_configured(runtime: Runtime) -> bool:
    return bool(runtime.settings.llm_model)


def make_engine(runtime: Runtime) -> Engine:
    if llm_configured(runtime):
        from core.agents.crew import CrewEngine

        return CrewEngine(runtime.settings)
    from core.agents.offline.engine import OfflineEngine

    return OfflineEngine()


def _check_question(runtime: Runtime, question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidInput("the question is empty")
    limit = runtime.settings.ask_max_question_chars
    if len(question) > limit:
        raise InvalidInput(f"the question is longer than {limit} characters")
    return question


def _recall(runtime: Runtime, identity: Identity, question: str) -> list[Any]:
    try:
        from core.memory import search_memories

        return search_memories(runtime=runtime, user=identity.username, query=question, limit=3, agent=None)
    except Exception as exc:  # noqa: BLE001 - an answer without memories beats no answer
        log.warning("memory recall failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return []


def chunks(text: str, size: int = DELTA_CHARS) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, cut after a space, so a stream reads naturally."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + 1, end + 1)
            end = space + 1 if space > start else end
        yield text[start:end]
        start = end


def ask_stream(
    *,
    runtime: Runtime,
    identity: Identity,
    question: str,
    agent: str | None = None,
    conversation_id: str | None = None,
    approve: bool = False,
    now: datetime | None = None,
    engine: Engine | None = None,
) -> Iterator[AskEvent]:
    """``engine``: what answers (default: ``make_engine``, by the settings); tests hand in a crew whose language
    model is a scripted one."""
    question = _check_question(runtime, question)
    now = now or runtime.clock.now()
    engine = engine or make_engine(runtime)
    opened = _open(runtime, identity, question, agent, conversation_id, now, offline=engine.offline)
    yield AskEvent("start", {"conversation_id": opened.cid, "offline": engine.offline})

    events: queue.SimpleQueue[AskEvent] = queue.SimpleQueue()

    def on_call(call: ToolCall, result: ToolResult | None) -> None:
        events.put(AskEvent("tool", call.as_json()))

    ctx = ToolContext(runtime=runtime, identity=identity, conversation_id=opened.cid, now=now, on_call=on_call)
    turn = Turn(
        question=question,
        ctx=ctx,
        agents=opened.agents,
        agent=agent.strip().lower() if agent else None,
        memories=_recall(runtime, identity, question),
        state=opened.state,
        history=opened.history,
    )
    try:
        refusal = _budget_refusal(runtime, spent=opened.spent) if not engine.offline else None
        if refusal:
            turn.finish_reason, turn.answer = "budget", refusal
            yield from (AskEvent("delta", {"text": piece}) for piece in chunks(refusal))
        else:
            for event in engine.run(turn):
                yield from _drain(events)
                if event.type != "tick":
                    yield event
    finally:
        ctx.close()
    yield from _drain(events)
    result = _finish(runtime, identity, turn, opened.cid, engine.offline, approve)
    for c in result.citations:
        yield AskEvent("citation", c)
    for a in result.proposed_actions:
        yield AskEvent("action", a.as_json() | {"summary": a.summary})
    yield AskEvent("end", {"finish_reason": turn.finish_reason, "usage": result.usage, "result": result})


@dataclass(frozen=True)
class _Opened:
    agents: list[AgentSpec]
    cid: str
    state: dict[str, Any]
    history: list[tuple[str, str]]
    spent: float  # the user's cost this month (0 offline: not read)


def _open(
    runtime: Runtime,
    identity: Identity,
    question: str,
    agent: str | None,
    conversation_id: str | None,
    now: datetime,
    *,
    offline: bool,
) -> _Opened:
    """The enabled agents (``agent`` checked among them), the caller's conversation with the question added."""
    with runtime.session() as session:
        agents = list_agents(session=session, enabled_only=True)
        if agent is not None and not any(a.name == agent.strip().lower() and not a.manager for a in agents):
            names = ", ".join(a.name for a in agents if not a.manager)
            raise NotFound(f"no enabled specialist named {agent!r}; the specialists are: {names}")
        convo = open_conversation(
            session=session, identity=identity, conversation_id=conversation_id, question=question, now=now
        )
        opened = _Opened(
            agents=agents,
            cid=convo.id,
            state=dict(convo.state or {}),
            history=recent_turns(session, convo.id),
            spent=0.0 if offline else month_cost(session, identity.username, now),
        )
        add_message(session=session, conversation=convo, role="user", text=question, payload={}, now=now)
        session.commit()
    return opened


def _budget_refusal(runtime: Runtime, *, spent: float) -> str | None:
    """The polite refusal once the user's month of model answers has cost the budget; None while it has not."""
    budget = runtime.settings.llm_monthly_budget_usd
    if not budget or spent < budget:
        return None
    return (
        f"You have used this month's budget for answers by the language model (${spent:,.2f} of "
        f"${budget:,.2f}), so I won't run it again until next month. An admin can raise "
        "SOPHIA_LLM_MONTHLY_BUDGET_USD."
    )


def _drain(events: queue.SimpleQueue[AskEvent]) -> Iterator[AskEvent]:
    while not events.empty():
        yield events.get()


def _finish(runtime: Runtime, identity: Identity, turn: Turn, cid: str, offline: bool, approve: bool) -> AskResult:
    ctx, now = turn.ctx, runtime.clock.now()
    public = runtime.settings.public_url
    citations = [c.as_json(public) for c in ctx.citations]  # every record the tools read, already role-checked
    costs = {name: _cost(runtime, p, c) for name, (p, c) in turn.usage.by_agent.items()}
    turn.usage.cost_usd = sum(costs.values())
    with runtime.session() as session:
        from core.db.models import Conversation

        convo = session.get(Conversation, cid)
        assert convo is not None
        rows = store_proposals(
            session=session, identity=identity, conversation_id=cid, proposals=ctx.proposals, now=now
        )
        actions = [action_item(r) for r in rows]
        result = AskResult(
            answer=turn.answer,
            offline=offline,
            conversation_id=cid,
            citations=citations,
            agents=list(turn.used_agents),
            tool_calls=[c.as_json() for c in ctx.calls],
            consensus=turn.consensus,
            proposed_actions=actions,
            usage=turn.usage.as_json(),
            finish_reason=turn.finish_reason,
        )
        for agent_name, (p, c) in turn.usage.by_agent.items():
            session.add(
                LlmUsage(
                    username=identity.username,
                    agent=agent_name,
                    conversation_id=cid,
                    model=runtime.settings.llm_model or "offline",
                    prompt_tokens=p,
                    completion_tokens=c,
                    cost_usd=costs[agent_name],
                    created_at=now,
                )
            )
        msg = add_message(
            session=session, conversation=convo, role="assistant", text=turn.answer, payload=result.as_json(), now=now
        )
        result.message_id = msg.id
        convo.state = turn.state
        session.commit()
    if approve:
        result.proposed_actions = [approve_action(runtime=runtime, identity=identity, action_id=a.id) for a in actions]
        with runtime.session() as session:
            from core.db.models import ChatMessage

            stored = session.get(ChatMessage, result.message_id)
            if stored is not None:
                stored.payload = result.as_json()
                session.commit()
    return result


def _cost(runtime: Runtime, prompt: int, completion: int) -> float:
    s = runtime.settings
    return (prompt * s.llm_price_prompt_per_m + completion * s.llm_price_completion_per_m) / 1_000_000


def ask(
    *,
    runtime: Runtime,
    identity: Identity,
    question: str,
    agent: str | None = None,
    conversation_id: str | None = None,
    approve: bool = False,
    engine: Engine | None = None,
) -> AskResult:
    result: AskResult | None = None
    for event in ask_stream(
        runtime=runtime,
        identity=identity,
        question=question,
        agent=agent,
        conversation_id=conversation_id,
        approve=approve,
        engine=engine,
    ):
        if event.type == "end":
            result = event.data["result"]
    assert result is not None
    return result
