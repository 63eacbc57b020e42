"""An answer's parts, the same whether it was just streamed or reopened from the history: above its text, how it
was answered (agents and tool calls, collapsed); under it, its sources (each opens its record or account page),
the writes it proposes with Approve / Reject, token use and cost, and feedback (helpful or not, with a note).

Everything comes from the stored answer (``payload``: the ``sophia ask --json`` shape) and core's calls; the
actions' current status from ``conversation_actions`` (the payload has it as it was when answered)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import links, ui
from core.agents.actions import ActionItem, approve_action, reject_action
from core.agents.conversations import give_feedback
from core.auth import Identity
from core.errors import SophiaError

FLASH = "chat"
SOURCES_SHOWN = 8
SOURCE_CHARS = 46  # a link does not wrap: two columns of this fit the chat
STATUS_BADGE = {
    "proposed": ":orange-badge[Waiting for you]",
    "executing": ":blue-badge[Running]",
    "executed": ":green-badge[Done]",
    "failed": ":red-badge[Failed]",
    "rejected": ":gray-badge[Rejected]",
}


@dataclass
class Context:
    """What every answer of the page needs: the signed-in user, the agents' titles, the actions' current state
    and the feedback already given (by message id)."""

    me: Identity
    titles: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ActionItem] = field(default_factory=dict)
    feedback: dict[int, tuple[bool, str | None]] = field(default_factory=dict)

    def title(self, agent: str) -> str:
        return self.titles.get(agent, agent.replace("_", " ").capitalize())


def text_md(answer: str) -> str:
    """The answer as Markdown (it is Markdown), with "$" kept literal: a price is not LaTeX."""
    return answer.replace("$", "\\$")


def call_line(call: dict[str, Any], ctx: Context) -> str:
    args = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (call.get("args") or {}).items())
    return f"**{ui.md(ctx.title(str(call.get('agent'))))}** · `{call.get('tool')}({args})` · {call.get('ms', 0):.0f} ms"


def trace_label(agents: list[str], calls: int, ctx: Context) -> str:
    who = ", ".join(ctx.title(a) for a in agents) or "Sophia"
    return f"Answered by {who} · {ui.plural(calls, 'tool call')}"


def trace(payload: dict[str, Any], ctx: Context) -> None:
    calls = payload.get("tool_calls") or []
    with st.expander(trace_label(payload.get("agents") or [], len(calls), ctx), icon=":material/account_tree:"):
        for call in calls:
            st.markdown(call_line(call, ctx))
        if not calls:
            st.caption("No tools were called.")


def sources(citations: list[dict[str, Any]]) -> None:
    if not citations:
        return
    st.markdown(f"**Sources** · {len(citations)}")

    def draw(items: list[dict[str, Any]]) -> None:
        cols = st.columns(2)
        for i, c in enumerate(items):
            with cols[i % 2]:
                doc = c.get("doc_id")
                links.record_link(
                    table=str(c["table"]),
                    external_id=str(c["external_id"]),
                    doc_id=int(doc) if doc not in (None, "") else None,
                    label=ui.md(ui.short(str(c.get("title") or c["external_id"]), SOURCE_CHARS)),
                    icon=":material/domain:" if c["table"] == "accounts" else ":material/description:",
                )

    draw(citations[:SOURCES_SHOWN])
    if len(citations) > SOURCES_SHOWN:
        more = len(citations) - SOURCES_SHOWN
        with st.expander(f"{more} more {'source' if more == 1 else 'sources'}"):
            draw(citations[SOURCES_SHOWN:])


def _decide(action_id: str, approve: bool, me: Identity) -> None:
    """Approve (run it as ``me``) or reject a proposed write; the outcome is said beside it."""
    rt, where = ui.runtime(), f"action_{action_id}"
    try:
        if approve:
            item = approve_action(runtime=rt, identity=me, action_id=action_id)
            if item.status == "failed":
                ui.flash(where, "error", f"It did not run: {item.result.get('error', 'unknown error')}")
            else:
                ui.flash(where, "success", "Approved and done.")
        else:
            item = reject_action(runtime=rt, identity=me, action_id=action_id)
            ui.flash(where, "info", f"Rejected: {item.summary}")
    except SophiaError as exc:
        ui.flash(where, "error", exc.message)


def proposed(payload: dict[str, Any], ctx: Context) -> None:
    items = [ctx.actions.get(a["id"]) for a in payload.get("proposed_actions") or []]
    shown = [a for a in items if a is not None]
    if not shown:
        return
    with st.container(border=True):
        st.markdown("**Proposed actions** · nothing runs until you approve it")
        for a in shown:
            text, approve, reject = st.columns([5, 1, 1], vertical_alignment="center")
            text.markdown(f"{STATUS_BADGE.get(a.status, a.status)} {ui.md(a.summary)}")
            if a.result.get("error") or a.result.get("text"):
                text.caption(ui.md(str(a.result.get("error") or a.result.get("text"))))
            if a.status == "proposed":
                approve.button(
                    "Approve", key=f"approve_{a.id}", type="primary", on_click=_decide, args=(a.id, True, ctx.me)
                )
                reject.button("Reject", key=f"reject_{a.id}", on_click=_decide, args=(a.id, False, ctx.me))
            ui.show_flash(f"action_{a.id}")


def usage_line(payload: dict[str, Any]) -> str:
    usage = payload.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cost = float(usage.get("cost_usd") or 0.0)
    engine = "Offline engine (no language model)" if payload.get("offline") else "Language model"
    return f"{engine} · {prompt + completion:,} tokens ({prompt:,} prompt, {completion:,} completion) · ${cost:,.4f}"


def _save_feedback(message_id: int, me: Identity) -> None:
    choice = st.session_state.get(f"fb_{message_id}")
    if choice is None:
        return  # cleared: the last feedback stays
    note = st.session_state.get(f"fb_note_{message_id}") or None
    rt = ui.runtime()
    try:
        with rt.session() as s:
            give_feedback(
                session=s, identity=me, message_id=message_id, helpful=choice == 1, note=note, now=rt.clock.now()
            )
        st.session_state[f"fb_saved_{message_id}"] = True
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


def feedback(message_id: int, ctx: Context) -> None:
    given = ctx.feedback.get(message_id)
    thumbs, note = st.columns([1, 4], vertical_alignment="center")
    with thumbs:
        st.feedback(
            "thumbs",
            key=f"fb_{message_id}",
            default=None if given is None else int(given[0]),
            on_change=_save_feedback,
            args=(message_id, ctx.me),
        )
    if given is None and st.session_state.get(f"fb_{message_id}") is None:
        return
    with note:
        if f"fb_note_{message_id}" not in st.session_state and given and given[1]:
            st.session_state[f"fb_note_{message_id}"] = given[1]
        st.text_input(
            "A note on this answer",
            key=f"fb_note_{message_id}",
            placeholder="What was helpful, or what was wrong? (Enter saves it)",
            label_visibility="collapsed",
            on_change=_save_feedback,
            args=(message_id, ctx.me),
        )
    if st.session_state.pop(f"fb_saved_{message_id}", False):
        st.caption("Thanks: your feedback is saved for review.")


def extras(payload: dict[str, Any], message_id: int | None, ctx: Context) -> None:
    """Everything under an answer's text (its trace is above it: ``trace``, or the live status box)."""
    sources(payload.get("citations") or [])
    proposed(payload, ctx)
    st.caption(usage_line(payload))
    if message_id is not None:
        feedback(message_id, ctx)
