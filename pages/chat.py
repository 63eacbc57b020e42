"""Chat: Ask Sophia in your own words. The answer streams in as it is written, with the agents and tool calls that
produced it (collapsible), the records it rests on (each opens its record or account page), any writes it proposes
(Approve / Reject), token use and cost, and helpful / not helpful with a note. Conversations are per user (left
column: reopen one, start a new one); "Your memories" lists what Sophia remembers for you.

Every answer is ``core.agents.ask`` as the signed-in user: a viewer's chat uses a viewer's tools and cites only
what a viewer may open (core enforces it). The parts live in ``pages/chat_parts/``."""

from __future__ import annotations

import streamlit as st

from app import ui
from app.auth import require_role
from core.agents.ask import llm_configured
from core.agents.registry import list_agents
from core.auth import Identity
from pages.chat_parts import history
from pages.chat_parts.answer import FLASH, Context, extras, text_md, trace
from pages.chat_parts.live import ask_live
from pages.chat_parts.memories import memories_panel

PENDING = "chat_pending"  # a question chosen from the examples, asked on this run
EXAMPLES = [
    ("Which deals are stalled?", ":material/hourglass_top:"),
    ("Which accounts are at risk and why?", ":material/warning:"),
    ("Which reps talk too much on calls?", ":material/record_voice_over:"),
    ("Who pays their invoices late?", ":material/receipt_long:"),
    ("Which accounts are stuck in onboarding?", ":material/pending_actions:"),
    ("Where did rent payment volume drop?", ":material/trending_down:"),
]
USER_AVATAR, SOPHIA_AVATAR = ":material/person:", ":material/smart_toy:"


def _welcome() -> None:
    ui.empty_state(
        "Ask Sophia",
        "Ask about accounts, deals, calls, payments and people in your own words. Sophia's specialists look it up "
        "in your data and every answer cites the records it rests on. Try one of these, or ask about an account "
        'by name ("is Harbor Point at risk?").',
    )
    cols = st.columns(2)
    for i, (question, icon) in enumerate(EXAMPLES):
        cols[i % 2].button(
            question,
            key=f"chat_example_{i}",
            icon=icon,
            width="stretch",
            on_click=st.session_state.__setitem__,
            args=(PENDING, question),
        )


def _conversation(me: Identity, cid: str) -> Context | None:
    """The open conversation, every message with its answer's parts; None when it no longer exists."""
    loaded = history.messages(me, cid)
    if loaded is None:
        return None
    rows, ctx = loaded
    first = next((m.text for m in rows if m.role == "user"), "Conversation")
    head, delete = st.columns([6, 1], vertical_alignment="center")
    head.markdown(f"#### {ui.md(ui.short(first, 80))}")
    started = rows[0].created_at if rows else None
    if started is not None:
        head.caption(f"Started {ui.ago(started)} · {ui.plural(len(rows), 'message')}")
    with delete:
        history.delete_button(me, cid)
    for m in rows:
        if m.role == "user":
            with st.chat_message("user", avatar=USER_AVATAR):
                st.markdown(ui.md(m.text))
        else:
            with st.chat_message("assistant", avatar=SOPHIA_AVATAR):
                trace(m.payload, ctx)  # above the text, where the live status box was
                st.markdown(text_md(m.text))
                extras(m.payload, m.id, ctx)
    return ctx


def _agent_titles() -> dict[str, str]:
    with ui.runtime().session() as s:
        return {a.name: a.title for a in list_agents(session=s)}


def _left(me: Identity) -> None:
    with st.container(border=True):
        history.conversation_list(me)
    memories_panel(me)


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Chat",
        "Ask Sophia about your accounts, deals, calls, payments and people. Answers cite the records they rest on.",
    )
    me = require_role(rt, "viewer", "chat")
    asked = st.chat_input(
        "Ask Sophia… e.g. which deals are stalled?", max_chars=rt.settings.ask_max_question_chars, key="chat_q"
    )
    question = (asked or st.session_state.pop(PENDING, None) or "").strip()
    left, right = st.columns([1, 3.2], gap="large")
    if not question:  # nothing changes the list in this run: draw it first
        with left:
            _left(me)
    with right:
        ui.show_flash(FLASH)
        cid = st.session_state.get(history.CURRENT)
        ctx = _conversation(me, cid) if cid else None
        if ctx is None:
            cid = None
            ctx = Context(me=me, titles=_agent_titles())
        if question:
            st.session_state[history.CURRENT] = ask_live(me, question, cid, ctx)
        elif cid is None:
            _welcome()
        if not llm_configured(rt):
            st.caption(
                "No language model is configured: Sophia answers with its offline engine, from your data, "
                "with citations, at no cost. An admin sets SOPHIA_LLM_MODEL to use a model."
            )
    if question:  # a new conversation appears in the list once it is answered
        with left:
            _left(me)


main()
