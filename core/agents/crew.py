"""The CrewAI engine: how Sophia answers when a language model is configured (``SOPHIA_LLM_MODEL``).

A question goes to a hierarchical crew: the manager (the registry's ``strategy`` agent) delegates parts of it to
the specialists, who call Sophia's tools, and composes the answer. Every tool call goes through the one door
(``ToolContext.call``): the caller's role and the agent's tool list are checked there, a write is only proposed,
and the records read become the answer's citations. A specialist is only *given* the tools its spec lists and
the caller's role allows, so a viewer's crew never sees an admin's tool.

A decision ("is Harbor Point at risk?", "should this deal be escalated?"), recognised by the offline engine's
intent model, goes instead to up to four specialists who each judge it independently (``VERDICT: yes|no`` and a
reason); the answer states the verdict, the agreement ("3 of 4") and each dissent with its reason.

``--agent NAME`` asks that specialist alone (a one-agent sequential crew). CrewAI runs in a worker thread; the
stream announces each agent as it starts (CrewAI's event bus) and lets tool events through as they happen, then
streams the answer. Token use is counted per agent (each agent has its own LLM object, so its own count); the
cost and the monthly budget are ``core.agents.ask``'s. CrewAI's memory stays off: mem0 is the one memory, reached
through the memory tools and the memories recalled into the task.

CrewAI is imported lazily (2.5 s); ``core.agents`` sets its telemetry and version-check variables first, and
``CREWAI_STORAGE_DIR`` is pointed into the data folder here (CrewAI writes its kickoff log and creates its
storage folders there, not under ``~/.local/share/<working directory name>``)."""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from core.agents.ask import AskEvent, Turn, chunks
from core.agents.consensus import Vote, tally
from core.agents.registry import AgentSpec
from core.errors import ConfigError, SophiaError
from core.observability.logging import get_logger
from core.tools.base import Citation, Tool, ToolResult
from core.tools.catalogue import tools_for

if TYPE_CHECKING:
    from crewai import Agent

    from core.config import Settings

log = get_logger(__name__)

__all__ = ["CONSENSUS_AGENTS", "CrewEngine", "parse_vote"]

#: who judges a decision, in this order (those enabled and with a tool the caller's role allows)
CONSENSUS_AGENTS = ("client_health", "finance", "sales_coach", "research")
DECISION_KINDS = ("decision_risk", "decision_escalate")
SPECIALIST_MAX_ITER = 5  # reasoning steps (LLM calls) a specialist gets for its part
MANAGER_MAX_ITER = 8  # the manager delegates several parts, then composes
POLL_S = 0.1  # how often the stream looks at the worker thread
HISTORY_CHARS = 600  # of each earlier message put into the task
SOURCES_SHOWN = 10  # citation titles appended to a tool's result for the model to cite


# ---- the language model ----------------------------------------------------------------------------------------


def _crewai_env(settings: Settings) -> None:
    """Before CrewAI is imported or runs: its storage (kickoff log, empty RAG folders) inside our data folder.
    ``appdirs`` joins the name to ``~/.local/share``, and an absolute name replaces that prefix."""
    os.environ["CREWAI_STORAGE_DIR"] = str((settings.data_dir / "crewai").resolve())
    _quiet_crewai_logs()


class _DropApproxTokenWarning(logging.Filter):
    """CrewAI warns on every tool result that it estimates token counts for a model it does not know (any
    OpenAI-compatible server's model): noise in a terminal, with nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "approximate input token count" not in record.getMessage()


@cache
def _quiet_crewai_logs() -> None:
    logging.getLogger("crewai.llms.base_llm").addFilter(_DropApproxTokenWarning())


def model_name(model: str, base_url: str | None) -> str:
    """The model as CrewAI should route it. CrewAI sends ``openai/<name>`` with a ``base_url`` to its native
    OpenAI provider (the ``openai`` SDK, Chat Completions with native tool calls: any OpenAI-compatible server).
    Any other prefix it does not know falls back to litellm, which is not installed. So with a base URL, a name
    without a known provider prefix ("llama3.1", "meta-llama/Llama-3.1-8B") is an OpenAI-compatible server's
    model name and gets ``openai/``; without one, CrewAI infers the provider from the bare name."""
    from crewai.llm import PROVIDER_ALIASES

    prefix, sep, _ = model.partition("/")
    if not base_url or (sep and prefix.lower() in PROVIDER_ALIASES):
        return model
    return f"openai/{model}"


def make_llm(settings: Settings, overrides: dict[str, Any] | None = None, *, setting: str = "SOPHIA_LLM_MODEL") -> Any:
    """A fresh CrewAI LLM (each agent gets its own: its own token count). ``overrides``: an agent's ``llm``
    settings (model, temperature, max_tokens). A model CrewAI cannot route is a ``ConfigError`` naming
    ``setting``."""
    from crewai import LLM

    overrides = overrides or {}
    model = str(overrides.get("model") or settings.llm_model or "")
    kwargs: dict[str, Any] = {
        "api_key": settings.llm_api_key or "unused",
        "timeout": settings.llm_timeout_s,
    }
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if overrides.get("temperature") is not None:
        kwargs["temperature"] = float(overrides["temperature"])
    if overrides.get("max_tokens") is not None:
        kwargs["max_tokens"] = int(overrides["max_tokens"])
    try:
        return LLM(model=model_name(model, settings.llm_base_url), **kwargs)
    except (ImportError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{setting}={model!r} is not a model CrewAI can use here ({first[:300]}). Give a native provider "
            "prefix (openai/, anthropic/, azure/, bedrock/, gemini/, ollama/, ...) or set SOPHIA_LLM_BASE_URL "
            "to an OpenAI-compatible server."
        ) from None


# ---- the tools ---------------------------------------------------------------------------------------------------


@cache
def _tool_class() -> type:
    from crewai.tools import BaseTool
    from pydantic import PrivateAttr

    class SophiaTool(BaseTool):
        """One catalogue tool as one agent of one ask sees it; ``_run`` goes through ``ToolContext.call``."""

        _invoke: Callable[[dict[str, Any]], str] = PrivateAttr()

        def _validate_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
            # Our door validates (and its errors go back to the model as text). Schemas go out with
            # ``strict: true``, so every field is listed as required and a model may send null for one it means
            # to leave out: a null is dropped and the field's default applies.
            return {k: v for k, v in kwargs.items() if v is not None}

        def _run(self, **kwargs: Any) -> str:
            return self._invoke(kwargs)

    return SophiaTool


def _result_text(result: ToolResult) -> str:
    if not result.citations:
        return result.text
    unique: dict[tuple[str, str], Citation] = {}
    for c in result.citations:
        unique.setdefault((c.table, c.external_id), c)
    shown = list(unique.values())[:SOURCES_SHOWN]
    more = len(unique) - len(shown)
    sources = "; ".join(f"{c.title} ({c.table} {c.external_id})" for c in shown)
    return f"{result.text}\n\nSources: {sources}" + (f"; and {more} more" if more > 0 else "")


def crew_tools(turn: Turn, spec: AgentSpec, lock: threading.Lock) -> list[Any]:
    """The CrewAI tools of ``spec`` for this caller: those the spec lists and the caller's role allows."""
    cls = _tool_class()
    out = []
    for tool in tools_for(turn.ctx.identity, list(spec.tools)):
        crew_tool = cls(name=tool.name, description=tool.description, args_schema=tool.args)
        crew_tool._invoke = _invoker(turn, spec.name, tool, lock)
        out.append(crew_tool)
    return out


def _invoker(turn: Turn, agent: str, tool: Tool, lock: threading.Lock) -> Callable[[dict[str, Any]], str]:
    def invoke(args: dict[str, Any]) -> str:
        # one call at a time per ask: the call log and citations are shared lists (specialists judging a
        # decision run in parallel), and tools are quick next to the model's turns
        with lock:
            ctx = turn.as_agent(agent)
            try:
                return _result_text(ctx.call(tool.name, args))
            except SophiaError as exc:
                return f"Error: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - the model gets a sentence, the log the traceback
                log.exception("tool failed in the crew", tool=tool.name, agent=agent)
                return f"Error: {tool.name} failed ({type(exc).__name__}). Try other arguments or another tool."

    return invoke


# ---- the task --------------------------------------------------------------------------------------------------


def context_text(turn: Turn) -> str:
    """Who asks, today's date, the conversation so far and the caller's recalled memories."""
    assert turn.ctx.now is not None
    who = turn.ctx.identity
    parts = [f"Asked by {who.username} (role {who.role}) on {turn.ctx.day:%A %d %B %Y}."]
    if turn.history:
        lines = []
        for role, text in turn.history:
            text = " ".join(text.split())
            if len(text) > HISTORY_CHARS:
                text = text[:HISTORY_CHARS] + " …"
            lines.append(f"{role}: {text}")
        parts.append("Earlier in this conversation:\n" + "\n".join(lines))
    memories = [m for m in turn.memories if getattr(m, "text", "")]
    if memories:
        lines = []
        for m in memories:
            when = getattr(m, "created_at", None)
            lines.append(f"- {m.text}" + (f" (noted {when:%Y-%m-%d})" if when else ""))
        parts.append("The user's own notes that may matter (from Sophia's memory):\n" + "\n".join(lines))
    return "\n\n".join(parts)


RULES = (
    "Rules: every figure, name and date comes from the tools' results; never invent one. Name the records the "
    "answer rests on. A write (a Slack post, a CRM task, acknowledging an insight) is only proposed: it runs "
    "when the user approves it, so say it was proposed, not done. If the tools cannot answer, say so plainly."
)


def task_description(turn: Turn) -> str:
    return f"{context_text(turn)}\n\nThe question:\n{turn.question}\n\n{RULES}"


EXPECTED = (
    "A direct answer to the question: a short paragraph or a list, with the figures the tools returned and the "
    "records they came from."
)


def vote_description(turn: Turn, escalate: bool) -> str:
    meaning = "yes = escalate it, no = no need" if escalate else "yes = at risk, no = not at risk"
    return (
        f"{context_text(turn)}\n\nJudge this on your own, from your own tools' results: {turn.question}\n\n"
        f'Reply with a first line that is exactly "VERDICT: yes" or "VERDICT: no" ({meaning}), then one or two '
        f"sentences with your reason and the figures it rests on.\n\n{RULES}"
    )


VOTE_EXPECTED = "First line VERDICT: yes or VERDICT: no; then the reason in one or two sentences."

_VERDICT = re.compile(r"verdict\W{0,5}(yes|no)\b", re.IGNORECASE)


def parse_vote(agent: str, text: str) -> Vote:
    """A specialist's ``VERDICT: yes|no`` and its reason (the rest of the reply, tidied)."""
    found = _VERDICT.search(text or "")
    if found is None:
        return Vote(agent, None, "gave no clear verdict")
    before, after = text[: found.start()], text[found.end() :].lstrip(" -—:.,*_\n")
    reason = " ".join(f"{before} {after}".replace("**", " ").split()).strip(" *_") or "no reason given"
    if len(reason) > 400:
        reason = reason[:400].rsplit(" ", 1)[0] + " …"
    return Vote(agent, found.group(1).lower() == "yes", reason)


# ---- failures ----------------------------------------------------------------------------------------------------


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def failure_text(exc: BaseException, settings: Settings) -> str:
    """What the user reads when the model could not answer: what failed and what to check, no traceback."""
    import openai

    where = f"at {settings.llm_base_url}" if settings.llm_base_url else f"({settings.llm_model})"
    chain = _chain(exc)
    if any(isinstance(e, openai.APITimeoutError | TimeoutError) for e in chain):
        return (
            f"The language model {where} did not answer within {settings.llm_timeout_s:g} s, so I could not "
            "answer. Try again, or raise SOPHIA_LLM_TIMEOUT_S."
        )
    if any(isinstance(e, openai.APIConnectionError | ConnectionError) for e in chain):
        return (
            f"The language model {where} could not be reached, so I could not answer. Check that the server is "
            "running and SOPHIA_LLM_BASE_URL; without SOPHIA_LLM_MODEL, Sophia answers with its offline engine."
        )
    if any(isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError) for e in chain):
        return f"The language model {where} refused the API key, so I could not answer. Check SOPHIA_LLM_API_KEY."
    if any(isinstance(e, openai.NotFoundError) for e in chain):
        return (
            f"The language model server {where} does not know the model {settings.llm_model!r}, so I could not "
            "answer. Check SOPHIA_LLM_MODEL."
        )
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"The language model {where} failed, so I could not answer ({type(exc).__name__}: {detail})."


# ---- running CrewAI in a worker thread ---------------------------------------------------------------------------


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


@dataclass
class _Watch:
    """Which of this ask's agents started (CrewAI's event bus is process-wide: only our agents count)."""

    names: dict[int, str] = field(default_factory=dict)  # id(crewai Agent) -> our agent name
    started: queue.SimpleQueue[str] = field(default_factory=queue.SimpleQueue)

    def on_start(self, source: Any, event: Any) -> None:
        name = self.names.get(id(getattr(event, "agent", None)))
        if name is not None:
            self.started.put(name)


def _pump(turn: Turn, work: Callable[[], Any], watch: _Watch) -> Generator[AskEvent, None, _Outcome]:
    """Run ``work`` in a thread; meanwhile announce each agent as it starts, and tick when a tool has run so
    ``ask_stream`` passes its tool events on."""
    from crewai.events.event_bus import crewai_event_bus
    from crewai.events.types.agent_events import AgentExecutionStartedEvent
    from crewai.events.utils.console_formatter import set_suppress_console_output

    outcome = _Outcome()

    def target() -> None:
        set_suppress_console_output(True)  # CrewAI's console (warnings on failures) would mix into stdout
        try:
            outcome.value = work()
        except Exception as exc:  # noqa: BLE001 - handed to the stream, which answers with what failed
            outcome.error = exc

    crewai_event_bus.on(AgentExecutionStartedEvent)(watch.on_start)
    worker = threading.Thread(target=target, name="sophia-crew", daemon=True)
    announced: set[str] = set()
    calls = len(turn.ctx.calls)
    try:
        worker.start()
        while True:
            worker.join(POLL_S)
            said = False
            while not watch.started.empty():
                name = watch.started.get()
                if name not in announced:
                    announced.add(name)
                    said = True
                    yield AskEvent("agent", {"agent": name})
            if len(turn.ctx.calls) != calls:
                calls = len(turn.ctx.calls)
                if not said:
                    yield AskEvent("tick", {})
            if not worker.is_alive():
                return outcome
    finally:
        crewai_event_bus.off(AgentExecutionStartedEvent, watch.on_start)


# ---- the engine --------------------------------------------------------------------------------------------------


class CrewEngine:
    offline = False

    def __init__(self, settings: Settings, *, llm_factory: Callable[[AgentSpec], Any] | None = None) -> None:
        """``llm_factory``: each agent's CrewAI LLM (default: ``make_llm`` from the settings and the agent's own
        ``llm`` settings); tests give a scripted in-process one."""
        self.settings = settings
        self.llm_factory = llm_factory
        self.lock = threading.Lock()  # one tool call at a time per ask (see _invoker)
        self.llms: dict[str, Any] = {}  # agent name -> its LLM, for the token count
        _crewai_env(settings)
        if llm_factory is None:
            make_llm(settings)  # a model CrewAI cannot route fails here, before the question is stored

    def run(self, turn: Turn) -> Iterator[AskEvent]:
        self.llms = {}
        try:
            decision = None if turn.agent else self._decision(turn)
            if decision is not None:
                yield from self._consensus(turn, *decision)
            else:
                yield from self._crew(turn)
        finally:
            self._count_usage(turn)
        turn.used_agents[:] = list(dict.fromkeys(turn.used_agents))
        for piece in chunks(turn.answer):
            yield AskEvent("delta", {"text": piece})

    # -- LLMs and agents

    def _llm(self, spec: AgentSpec) -> Any:
        if self.llm_factory is not None:
            llm = self.llm_factory(spec)
        else:
            llm = make_llm(self.settings, spec.llm, setting=f"agent {spec.name}'s llm.model")
        self.llms[spec.name] = llm
        return llm

    def _agent(self, turn: Turn, spec: AgentSpec) -> Agent:
        from crewai import Agent

        return Agent(
            role=spec.title,
            goal=spec.goal,
            backstory=spec.backstory,
            tools=crew_tools(turn, spec, self.lock),
            llm=self._llm(spec),
            allow_delegation=False,
            verbose=False,
            max_iter=SPECIALIST_MAX_ITER,
            max_retry_limit=0,  # the openai client retries a failed request; a whole agent run again costs tokens
        )

    def _count_usage(self, turn: Turn) -> None:
        """Tokens per agent, from each agent's own LLM (counted even when the answer failed: they were spent)."""
        for name, llm in self.llms.items():
            summary = llm.get_token_usage_summary()
            prompt, completion = int(summary.prompt_tokens or 0), int(summary.completion_tokens or 0)
            if summary.successful_requests or prompt or completion:
                turn.usage.by_agent[name] = (prompt, completion)
                turn.usage.prompt_tokens += prompt
                turn.usage.completion_tokens += completion
                if name not in turn.used_agents:
                    turn.used_agents.append(name)

    # -- one answer by a crew

    def _crew(self, turn: Turn) -> Iterator[AskEvent]:
        from crewai import Crew, Process, Task

        manager_spec = next((a for a in turn.agents if a.manager), None)
        if turn.agent:
            specs = [s for s in turn.agents if s.name == turn.agent]
        else:
            specs = [s for s in turn.agents if not s.manager]
        try:
            agents = {s.name: self._agent(turn, s) for s in specs}
            manager = None
            if not turn.agent and manager_spec is not None:
                from crewai import Agent

                manager = Agent(
                    role=manager_spec.title,
                    goal=manager_spec.goal,
                    backstory=manager_spec.backstory,
                    llm=self._llm(manager_spec),
                    allow_delegation=True,
                    verbose=False,
                    max_iter=MANAGER_MAX_ITER,
                    max_retry_limit=0,
                )
        except ConfigError as exc:
            turn.finish_reason, turn.answer = "error", exc.message
            return
        description = task_description(turn)
        if turn.agent:
            only = agents[turn.agent]
            crew = Crew(
                agents=[only],
                tasks=[Task(description=description, expected_output=EXPECTED, agent=only)],
                process=Process.sequential,
                memory=False,
                verbose=False,
            )
        else:
            crew = Crew(
                agents=list(agents.values()),
                tasks=[Task(description=description, expected_output=EXPECTED)],
                process=Process.hierarchical,
                manager_agent=manager,
                manager_llm=None if manager is not None else make_llm(self.settings),
                memory=False,
                verbose=False,
            )
            turn.used_agents.insert(0, manager_spec.name if manager_spec else "strategy")
            yield AskEvent("agent", {"agent": manager_spec.name if manager_spec else "strategy"})
        watch = _Watch({id(a): name for name, a in agents.items()})
        outcome = yield from _pump(turn, crew.kickoff, watch)
        if outcome.error is not None:
            log.warning("crew failed", error=f"{type(outcome.error).__name__}: {outcome.error}"[:300])
            turn.finish_reason, turn.answer = "error", failure_text(outcome.error, self.settings)
            return
        turn.answer = str(getattr(outcome.value, "raw", "") or "").strip()
        if not turn.answer:
            turn.finish_reason, turn.answer = "error", "The language model gave an empty answer."

    # -- a decision by consensus

    def _decision(self, turn: Turn) -> tuple[bool, str | None] | None:
        """(escalate?, subject) when the question asks for a decision, else None."""
        from core.agents.offline.engine import refine
        from core.agents.offline.entities import entity_index
        from core.agents.offline.intents import intent_model

        runtime = turn.ctx.runtime
        try:
            entities, masked = entity_index(runtime).read(turn.question, today=turn.ctx.day.date())
            intent = refine(intent_model(runtime.settings.data_dir / "cache").classify(masked), entities)
        except Exception as exc:  # noqa: BLE001 - without the intent model the crew still answers
            log.warning("decision check failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return None
        if not intent.answerable or intent.kind not in DECISION_KINDS:
            return None
        escalate = intent.kind == "decision_escalate"
        named = {e.kind: e for e in reversed(entities)}
        subject = named.get("deal") if escalate and "deal" in named else named.get("account")
        return escalate, subject.name if subject else None

    def _consensus(self, turn: Turn, escalate: bool, subject: str | None) -> Iterator[AskEvent]:
        from crewai import Crew, Process, Task

        by_name = {s.name: s for s in turn.agents if not s.manager}
        specs = [by_name[n] for n in CONSENSUS_AGENTS if n in by_name]
        titles = {s.name: s.title for s in specs}
        votes: dict[str, Vote] = {}
        crews: dict[str, Any] = {}
        names: dict[int, str] = {}
        description = vote_description(turn, escalate)
        try:
            for spec in specs:
                agent = self._agent(turn, spec)
                if not agent.tools:
                    votes[spec.name] = Vote(spec.name, None, "none of its tools is open to your role")
                    continue
                names[id(agent)] = spec.name
                crews[spec.name] = Crew(
                    agents=[agent],
                    tasks=[Task(description=description, expected_output=VOTE_EXPECTED, agent=agent)],
                    process=Process.sequential,
                    memory=False,
                    verbose=False,
                )
        except ConfigError as exc:
            turn.finish_reason, turn.answer = "error", exc.message
            return

        def judge_all() -> dict[str, Any]:
            from crewai.events.utils.console_formatter import set_suppress_console_output

            def judge(name: str) -> Any:
                set_suppress_console_output(True)
                try:
                    return crews[name].kickoff()
                except Exception as exc:  # noqa: BLE001 - one specialist failing is an abstention
                    return exc

            with ThreadPoolExecutor(max_workers=max(1, len(crews)), thread_name_prefix="sophia-vote") as pool:
                return dict(zip(crews, pool.map(judge, crews), strict=True))

        outcome = yield from _pump(turn, judge_all, _Watch(names))
        results: dict[str, Any] = outcome.value or {}
        failures = [r for r in results.values() if isinstance(r, BaseException)]
        for name, result in results.items():
            if isinstance(result, BaseException):
                votes[name] = Vote(name, None, "could not judge: the language model failed")
            else:
                votes[name] = parse_vote(name, str(getattr(result, "raw", "") or ""))
        for name in results:
            if name not in turn.used_agents:
                turn.used_agents.append(name)
        if (results and len(failures) == len(results)) or outcome.error is not None:
            error = outcome.error or failures[0]
            turn.finish_reason, turn.answer = "error", failure_text(error, self.settings)
            return
        ordered = [votes[s.name] for s in specs if s.name in votes]
        turn.answer, turn.consensus = tally(ordered, escalate=escalate, subject=subject, titles=titles)
