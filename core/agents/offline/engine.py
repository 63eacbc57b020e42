"""The offline engine: a deterministic answer without a language model.

The question's kind is recognised by meaning (``intents``) and its names through the record index
(``entities``); a follow-up without names takes its subjects from the conversation. The kind decides which
specialist answers and with which tools — the same catalogue, through the same door, as the crew — and the
answer is composed from the tools' results, with their citations, saying that no language model was used.
A decision ("is Harbor Point at risk?") goes to several specialists who each judge by their own rules over
their own tools (``consensus``). A question it cannot answer gets an honest "I can't answer that yet" and the
best search results, never an invented answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from core.agents.ask import AskEvent, Turn, chunks
from core.agents.offline.consensus import decide
from core.agents.offline.entities import Entity, entity_index
from core.agents.offline.intents import IntentMatch, intent_model
from core.errors import Forbidden, SophiaError
from core.tools.base import ToolResult

NOTE = "_(Answered by Sophia's offline engine from your data; no language model was used.)_"
SEARCH_FALLBACK = 5

Handler = Callable[["Answering"], Iterator[str]]


class Answering:
    """One answer in the making: the turn, the question's kind and names, and helpers to call tools as an agent."""

    def __init__(self, turn: Turn, intent: IntentMatch, entities: list[Entity]) -> None:
        self.turn = turn
        self.intent = intent
        self.entities = entities
        self.denied: list[str] = []  # tools the role may not call, as the answer says it
        self.errors: list[str] = []  # tools that failed, and why

    def first(self, kind: str) -> Entity | None:
        return next((e for e in self.entities if e.kind == kind), None)

    def person(self) -> Entity | None:
        """A person at PayReady the question names (an employee beats a contact of the same name)."""
        return self.first("employee")

    def call(self, agent: str, tool: str, args: dict[str, Any]) -> ToolResult | None:
        """The tool's result as ``agent``, or None (with the reason said in the answer) when it may not run."""
        ctx = self.turn.as_agent(agent)
        try:
            return ctx.call(tool, args)
        except Forbidden:
            from core.tools.catalogue import CATALOGUE

            needed = CATALOGUE[tool].role if tool in CATALOGUE else "a higher"
            self.denied.append(f"{tool.replace('_', ' ')} needs the {needed} role")
            return None
        except SophiaError as exc:
            self.errors.append(f"{tool}: {exc.message}")
            return None


def _remember_subjects(turn: Turn, entities: list[Entity]) -> None:
    subjects = dict(turn.state.get("subjects") or {})
    for e in entities:
        if e.kind != "month":
            subjects[e.kind] = e.as_json()
    turn.state["subjects"] = subjects


def _from_state(turn: Turn) -> list[Entity]:
    return [
        Entity(v["kind"], v["key"], v["name"], span="(earlier in this conversation)")
        for v in (turn.state.get("subjects") or {}).values()
        if isinstance(v, dict) and {"kind", "key", "name"} <= v.keys()
    ]


# ---- the handlers: one per kind of question ----------------------------------------------------------------------


def _findings_answer(a: Answering, agent: str, tool: str, args: dict[str, Any], lead: str) -> Iterator[str]:
    """The heading streams at once; the tool's findings follow when it has run."""
    yield f"{lead}\n\n"
    result = a.call(agent, tool, args)
    if result is not None:
        text = result.text
        total = result.data.get("total")
        if total and "\n" in text:  # the tool's own heading repeats the lead: keep only its count
            shown = len(result.data.get("items") or [])
            count = f"{total} found" + (f", the first {shown} listed" if 0 < shown < total else "")
            text = f"{count}:\n" + text.split("\n", 1)[1]
        yield text


def risk_list(a: Answering) -> Iterator[str]:
    acct = a.first("account")
    args = {"signal": "churn_risk"} | ({"account": acct.key} if acct else {})
    yield from _findings_answer(
        a, "client_health", "account_risk", args, "**Accounts at risk** (churn signals, weighted):"
    )


def account_brief(a: Answering) -> Iterator[str]:
    acct = a.first("account")
    if acct is None:
        yield 'Which account? Name it, e.g. "tell me about Harbor Point".'
        return
    overview = a.call("client_health", "account_overview", {"account": acct.key})
    if overview is not None:
        yield f"**{acct.name}**\n\n{overview.text}"
    risk = a.call("client_health", "account_risk", {"signal": "churn_risk", "account": acct.key})
    if risk is not None and risk.data.get("total"):
        yield f"\n\n**Risk:**\n{risk.text}"


def decision(a: Answering) -> Iterator[str]:
    yield from decide(a)


def coaching_rep(a: Answering) -> Iterator[str]:
    rep = a.person()
    if rep is None:
        yield from coaching_team(a)
        return
    calls = a.call("sales_coach", "call_analysis", {"view": "rep_calls", "rep": rep.key})
    if calls is None:
        return
    yield f"**Coaching for {rep.name}**\n\n{calls.text}"
    share, questions = calls.data.get("talk_share"), calls.data.get("questions_per_call")
    tips = []
    if isinstance(share, float) and share > 0.7:
        tips.append(
            f"Talk less: {100 * share:.0f}% talk share; aim for under 70% and let the customer explain their process."
        )
    if isinstance(questions, float) and questions < 5:
        tips.append(f"Ask more: {questions:.1f} questions per call; aim for 5 or more discovery questions.")
    if not tips and calls.data.get("calls"):
        tips.append("Talk share and questions are within the targets: keep the same discovery habits.")
    if tips:
        yield "\n\n**What to work on:**\n" + "\n".join(f"- {t}" for t in tips)


def coaching_team(a: Answering) -> Iterator[str]:
    yield from _findings_answer(
        a,
        "sales_coach",
        "call_analysis",
        {"view": "coaching"},
        "**Reps to coach** (talk share over 70 % or too few questions):",
    )


def competitors(a: Answering) -> Iterator[str]:
    comp = a.first("competitor")
    args = {"view": "competitors"} | ({"competitor": comp.key} if comp else {})
    lead = f"**Calls where {comp.name} came up:**" if comp else "**Calls that mention competitors:**"
    yield from _findings_answer(a, "sales_coach", "call_analysis", args, lead)


def _deals(view: str, lead: str) -> Handler:
    def handler(a: Answering) -> Iterator[str]:
        rep = a.person()
        args = {"view": view} | ({"owner": rep.key} if rep else {})
        yield from _findings_answer(a, "sales_coach", "deal_pipeline", args, lead + (f" ({rep.name})" if rep else ""))

    return handler


def _payments(view: str, lead: str) -> Handler:
    def handler(a: Answering) -> Iterator[str]:
        acct = a.first("account")
        args = {"view": view} | ({"account": acct.key} if acct else {})
        yield from _findings_answer(a, "finance", "payment_metrics", args, lead)

    return handler


def _risk(signal: str, agent: str, lead: str) -> Handler:
    def handler(a: Answering) -> Iterator[str]:
        acct = a.first("account")
        args = {"signal": signal} | ({"account": acct.key} if acct else {})
        yield from _findings_answer(a, agent, "account_risk", args, lead)

    return handler


def people(a: Answering) -> Iterator[str]:
    person = a.person()
    if person is None:
        yield "Whose reviews or goals? Name the person."
        return
    result = a.call("people", "people_overview", {"person": person.key})
    if result is not None:
        yield f"**{person.name}**\n\n{result.text}"


def insights(a: Answering) -> Iterator[str]:
    acct = a.first("account")
    args: dict[str, Any] = {"limit": 10} | ({"account": acct.key} if acct else {})
    yield from _findings_answer(a, "client_health", "insights_list", args, "**What needs attention:**")


def recall(a: Answering) -> Iterator[str]:
    """What was said or decided: the caller's memories first, then the records that discuss it."""
    acct = a.first("account")
    remembered = [m for m in a.turn.memories if (m.score or 0) >= MEMORY_RELEVANT]
    if remembered:
        lines = "\n".join(f"- {m.text} _(noted {m.created_at:%Y-%m-%d})_" for m in remembered)
        yield f"**From your notes:**\n{lines}"
    args: dict[str, Any] = {"query": a.turn.question, "limit": 5} | ({"account": acct.key} if acct else {})
    found = a.call("research", "search", args)
    if found is not None and found.data.get("hits"):
        yield ("\n\n" if remembered else "") + f"**What the records say:**\n{found.text}"
    elif not remembered:
        yield "I found nothing about that in your notes or the records."


MEMORY_RELEVANT = 0.45


def remember(a: Answering) -> Iterator[str]:
    fact = _fact(a.turn.question)
    if not fact:
        yield 'What should I remember? Say "remember that …".'
        return
    result = a.call("research", "store_memory", {"text": fact})
    if result is not None:
        yield f"Noted. I'll remember: {fact}"


def _fact(question: str) -> str:
    text = question.strip()
    lowered = text.lower()
    for lead in (
        "please remember that",
        "remember that",
        "please remember",
        "remember",
        "note that",
        "keep in mind that",
        "keep in mind",
    ):
        if lowered.startswith(lead):
            return text[len(lead) :].strip(" :,.") or ""
    return text


def job_changes(a: Answering) -> Iterator[str]:
    yield from _findings_answer(a, "research", "research", {"view": "job_changes"}, "**Recent job changes:**")


def prospects(a: Answering) -> Iterator[str]:
    comp = a.first("competitor")
    args: dict[str, Any] = {"view": "prospects"} | ({"query": comp.key} if comp else {})
    yield from _findings_answer(a, "research", "research", args, "**Prospects:**")


def create_task(a: Answering) -> Iterator[str]:
    acct = a.first("account")
    if acct is None:
        yield 'On which account? Name it, e.g. "create a task for Harbor Point to send the renewal quote".'
        return
    subject = _task_subject(a.turn.question, acct)
    result = a.call("client_health", "crm_task", {"account": acct.key, "subject": subject, "due_in_days": 7})
    if result is not None:
        yield f"I propose a task on **{acct.name}**: {subject!r}, due in 7 days. It is created when you approve it."


def _task_subject(question: str, acct: Entity) -> str:
    text = re.sub(
        r"(?i)^(please\s+)?(create|add|open|make)\s+(a\s+)?(follow[- ]up\s+|crm\s+)?task\s*(for|on|to)?\s*",
        "",
        question,
    )
    for name in (acct.name, acct.span):  # "for <account> to": the account is the task's subject already
        if name:
            pattern = r"^\s*(?:(?:for|on|with|about)\s+)?" + re.escape(name) + r"(?:'s)?\s*(?:to\b|that\b|:)?\s*"
            text = re.sub(pattern, "", text, flags=re.IGNORECASE)
    text = re.sub(r"(?i)^remind me to\s+", "", text).strip(" .?!:;,")
    return (text or f"Follow up with {acct.name}")[:300]


def post_slack(a: Answering) -> Iterator[str]:
    channel = re.search(r"#[a-z0-9][a-z0-9_-]{0,79}", a.turn.question.lower())
    if channel is None:
        yield 'Which channel? Say it with its #, e.g. "post that to #revenue-ops".'
        return
    previous = next((text for role, text in reversed(a.turn.history) if role == "assistant"), "")
    text = previous.replace(NOTE, "").strip()
    if not text or text.startswith(("I can't answer", "Which ", "What should")):
        yield 'Post what? Ask a question first; then "post that to #channel" proposes posting my answer.'
        return
    result = a.call("research", "slack_post", {"channel": channel.group(0), "text": text[:3000]})
    if result is not None:
        yield f"I propose posting my last answer to {channel.group(0)}. It is posted when you approve it."


def acknowledge(a: Answering) -> Iterator[str]:
    number = re.search(r"\b(\d{1,12})\b", a.turn.question)
    if number is None:
        yield 'Which insight? Give its number, e.g. "acknowledge insight 42".'
        return
    result = a.call("client_health", "insight_acknowledge", {"insight_id": int(number.group(1))})
    if result is not None:
        yield f"I propose acknowledging insight #{number.group(1)}. It is done when you approve it."


HELP = """I answer questions about PayReady's business from your data, for example:
- **Risk:** "which accounts are at risk this month and why?", "is Harbor Point at risk?" (several specialists vote)
- **Accounts:** "tell me about Harbor Point", "which accounts are disengaging?", "which champions left?"
- **Payments:** "whose rent volume dropped?", "who pays late?", "which accounts are stuck in onboarding?"
- **Deals:** "which deals are stalled?", "which deals are slipping?", "what's our pipeline?"
- **Calls:** "coach me on Amy's last calls", "who mentioned Zego?" (analysts and admins)
- **What was said:** "what did we decide about the Lakeside renewal?" (your notes and the records)
- **Memory and actions:** "remember that …", "create a task for Harbor Point to send the quote", "post that to #revenue"
"""


def help_answer(a: Answering) -> Iterator[str]:
    a.turn.as_agent("strategy")
    yield HELP


HANDLERS: dict[str, tuple[str, Handler]] = {
    "risk_list": ("client_health", risk_list),
    "account_brief": ("client_health", account_brief),
    "decision_risk": ("strategy", decision),
    "decision_escalate": ("strategy", decision),
    "coaching_rep": ("sales_coach", coaching_rep),
    "coaching_team": ("sales_coach", coaching_team),
    "competitors": ("sales_coach", competitors),
    "stalled": ("sales_coach", _deals("stalled", "**Stalled deals**")),
    "slipping": ("sales_coach", _deals("slipping", "**Slipping deals**")),
    "pipeline": ("sales_coach", _deals("summary", "**Pipeline**")),
    "volume_drop": ("finance", _payments("volume_drops", "**Rent volume drops:**")),
    "failure_rate": ("finance", _payments("failure_rate", "**High payment failure rates:**")),
    "late_payers": ("finance", _payments("late_payers", "**Late payers:**")),
    "stuck_onboarding": ("finance", _payments("stuck_onboarding", "**Stuck in onboarding:**")),
    "engagement": ("client_health", _risk("engagement_decline", "client_health", "**Declining engagement:**")),
    "champions": ("research", _risk("champion_left", "research", "**Champions who left:**")),
    "people": ("people", people),
    "insights": ("client_health", insights),
    "recall": ("research", recall),
    "remember": ("research", remember),
    "job_changes": ("research", job_changes),
    "prospects": ("research", prospects),
    "create_task": ("client_health", create_task),
    "post_slack": ("research", post_slack),
    "acknowledge": ("client_health", acknowledge),
    "help": ("strategy", help_answer),
}
#: a specialist asked with --agent answers these kinds; others it refers
AGENT_KINDS = {
    "sales_coach": {"coaching_rep", "coaching_team", "competitors", "stalled", "slipping", "pipeline", "recall"},
    "client_health": {"risk_list", "account_brief", "engagement", "insights", "decision_risk", "recall"}
    | {"create_task", "acknowledge"},
    "finance": {"volume_drop", "failure_rate", "late_payers", "stuck_onboarding", "account_brief", "recall"},
    "people": {"people", "recall"},
    "research": {"recall", "remember", "champions", "job_changes", "prospects", "competitors", "post_slack"},
}


def refine(intent: IntentMatch, entities: list[Entity]) -> IntentMatch:
    """Names adjust the kind: a named account with a generic account question is a brief; a named person with a
    call question is that rep's coaching; a named competitor is a competitor question."""
    kinds = {e.kind for e in entities}
    kind = intent.kind
    needs = {"account_brief": "account", "decision_risk": "account", "people": "employee"}
    if kind in needs and needs[kind] not in kinds and intent.runner_up and intent.runner_up not in needs:
        kind = intent.runner_up  # a brief or a verdict needs its subject: without one, the next-nearest kind
    if kind == "coaching_team" and "employee" in kinds:
        kind = "coaching_rep"
    if kind == "risk_list" and "account" in kinds:
        kind = "decision_risk" if intent.runner_up == "decision_risk" else "account_brief"
    if kind in ("prospects", "recall", "out_of_scope") and "competitor" in kinds and intent.runner_up == "competitors":
        kind = "competitors"
    return IntentMatch(kind, intent.score, intent.runner_up)


class OfflineEngine:
    offline = True

    def run(self, turn: Turn) -> Iterator[AskEvent]:
        intent, entities = _read(turn)
        ambiguous = _ambiguous(entities)
        if ambiguous:
            agent, pieces = "research", iter([ambiguous])
            turn.as_agent(agent)
        else:
            _remember_subjects(turn, entities)
            turn.state["last_kind"] = intent.kind
            agent, pieces = _route(Answering(turn, intent, entities))
        yield AskEvent("agent", {"agent": agent})
        parts: list[str] = []
        for piece in _with_note(pieces):
            parts.append(piece)
            yield from _deltas(piece)
        turn.answer = "".join(parts).strip()


def _read(turn: Turn) -> tuple[IntentMatch, list[Entity]]:
    """The question's names (or, for a follow-up without any, the conversation's subjects) and its kind."""
    runtime = turn.ctx.runtime
    entities, masked = entity_index(runtime).read(turn.question, today=turn.ctx.day.date())
    raw = intent_model(runtime.settings.data_dir / "cache").classify(masked)
    if not entities and raw.answerable and _is_follow_up(raw.kind):
        entities = _from_state(turn)  # "and is it at risk?": the subjects of the conversation so far
    return refine(raw, entities), entities


def _route(a: Answering) -> tuple[str, Iterator[str]]:
    """Who answers and the answer's pieces: the kind's specialist (or the one asked with --agent) and its
    handler, with the notes, what the role did not show and what failed; else the honest refusal."""
    kind, asked = a.intent.kind, a.turn.agent
    if not a.intent.answerable or (asked and kind not in AGENT_KINDS.get(asked, set())):
        return "research", _cannot(a, refer=asked is not None and a.intent.answerable)
    agent, handler = HANDLERS[kind]
    agent = asked or agent
    if agent != "strategy":
        a.turn.as_agent(agent)
    return agent, _answered(a, handler)


def _answered(a: Answering, handler: Handler) -> Iterator[str]:
    said = False
    for part in _parts(a, handler):
        said = said or bool(part.strip())
        yield part
    if not said:
        yield from _cannot(a, refer=False)


def _parts(a: Answering, handler: Handler) -> Iterator[str]:
    """The handler's answer, then the user's notes that bear on it, what the role did not show, what failed."""
    yield from handler(a)
    notes = _notes(a) if a.intent.kind not in ("recall", "remember", "help") else ""
    if notes:
        yield notes
    if a.denied:
        yield f"\n\nNot shown with your role ({a.turn.ctx.identity.role}): " + "; ".join(a.denied) + "."
    if a.errors:
        yield "\n\nI couldn't get: " + "; ".join(a.errors) + "."


def _with_note(pieces: Iterator[str]) -> Iterator[str]:
    yield from pieces
    yield "\n\n" + NOTE


def _notes(a: Answering) -> str:
    """The caller's memories that bear on this question: about a name it asks about, or very close in meaning."""
    names = [e.name.lower() for e in a.entities if e.kind != "month"] + [e.span for e in a.entities if e.span]
    picked = [
        m
        for m in a.turn.memories
        if (m.score or 0) >= MEMORY_RELEVANT
        and (any(n and n in m.text.lower() for n in names) or (m.score or 0) >= 0.6)
    ]
    if not picked:
        return ""
    return "\n\n**From your notes:**\n" + "\n".join(f"- {m.text} _(noted {m.created_at:%Y-%m-%d})_" for m in picked)


def _ambiguous(entities: list[Entity]) -> str:
    """A question whose one name fits several accounts (or people) is asked back, not guessed."""
    by_span: dict[tuple[str, str], list[Entity]] = {}
    for e in entities:
        if e.kind in ("account", "employee"):
            by_span.setdefault((e.kind, e.span), []).append(e)
    for (kind, span), found in by_span.items():
        if len(found) > 1:
            what = "accounts" if kind == "account" else "people"
            names = "; ".join(e.name for e in found[:8])
            return (
                f'Which one do you mean? "{span}" matches {len(found)} {what}: {names}. Ask again with the full name.'
            )
    return ""


def _is_follow_up(kind: str) -> bool:
    return kind in (
        "create_task",
        "account_brief",
        "decision_risk",
        "decision_escalate",
        "coaching_rep",
        "people",
        "recall",
    )


def _deltas(text: str) -> Iterator[AskEvent]:
    for piece in chunks(text):
        yield AskEvent("delta", {"text": piece})


def _cannot(a: Answering, *, refer: bool) -> Iterator[str]:
    if refer:
        yield (
            f"That is not a question for the {a.turn.agent.replace('_', ' ') if a.turn.agent else ''} agent; "
            "ask without --agent and Sophia picks the right specialist."
        )
        return
    yield "I can't answer that yet: it is not a question my offline engine knows how to answer from your data."
    found = a.call("research", "search", {"query": a.turn.question, "limit": SEARCH_FALLBACK})
    if found is not None and found.data.get("hits"):
        yield "\n\nThe closest records I found:\n" + "\n".join(found.text.splitlines()[1:])
