"""The signed-in user's conversations (``core.agents.conversations``): a new one, the recent ones to reopen, and
deleting the open one. Only the user's own: core answers "no conversation" for anyone else's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st

from app import ui
from core.agents.actions import conversation_actions
from core.agents.conversations import (
    conversation_messages,
    delete_conversation,
    feedback_for,
    list_conversations,
)
from core.auth import Identity
from core.errors import SophiaError
from pages.chat_parts.answer import FLASH, Context

CURRENT = "chat_cid"  # the open conversation's id in st.session_state (None: a new one)
SHOWN = 30


@dataclass(frozen=True)
class Message:
    id: int
    role: str
    text: str
    payload: dict[str, Any]
    created_at: datetime


def open_conversation(cid: str | None) -> None:
    st.session_state[CURRENT] = cid


def _delete(cid: str, me: Identity) -> None:
    try:
        with ui.runtime().session() as s:
            delete_conversation(session=s, identity=me, conversation_id=cid)
        ui.flash(FLASH, "info", "Conversation deleted.")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)
    st.session_state[CURRENT] = None


def conversation_list(me: Identity) -> str | None:
    """The column of conversations; returns the open one's title."""
    current = st.session_state.get(CURRENT)
    st.button(
        "New conversation",
        icon=":material/add_comment:",
        type="primary" if current is None else "secondary",
        width="stretch",
        on_click=open_conversation,
        args=(None,),
        key="chat_new",
    )
    with ui.runtime().session() as s:
        items = list_conversations(session=s, identity=me, limit=SHOWN)
    if not items:
        st.caption("Your conversations will be listed here.")
        return None
    st.caption(f"Recent · {len(items)}")
    title = None
    for c in items:
        if c.id == current:
            title = c.title
        st.button(
            ui.short(c.title, 42),
            key=f"chat_open_{c.id}",
            help=f"{c.title}\n\n{ui.plural(c.messages, 'message')} · {ui.ago(c.updated_at)}",
            icon=":material/chat:" if c.id == current else ":material/chat_bubble_outline:",
            type="secondary" if c.id == current else "tertiary",
            width="stretch",
            on_click=open_conversation,
            args=(c.id,),
        )
    return title


def messages(me: Identity, cid: str) -> tuple[list[Message], Context] | None:
    """The open conversation's messages and what drawing its answers needs; None when it is gone (deleted
    in another tab): the page starts a new one."""
    from core.agents.registry import list_agents

    try:
        with ui.runtime().session() as s:
            rows = [
                Message(m.id, m.role, m.text, dict(m.payload or {}), m.created_at)
                for m in conversation_messages(session=s, identity=me, conversation_id=cid)
            ]
            titles = {a.name: a.title for a in list_agents(session=s)}
            actions = {a.id: a for a in conversation_actions(session=s, identity=me, conversation_id=cid)}
            given = feedback_for(s, [m.id for m in rows if m.role == "assistant"], me.username)
            feedback = {mid: (f.helpful, f.note) for mid, f in given.items()}
    except SophiaError:
        st.session_state[CURRENT] = None
        return None
    return rows, Context(me=me, titles=titles, actions=actions, feedback=feedback)


def delete_button(me: Identity, cid: str) -> None:
    with st.popover("Delete", icon=":material/delete:"):
        st.markdown("Delete this conversation and its answers? Feedback on them goes too.")
        st.button("Delete conversation", key="chat_delete", type="primary", on_click=_delete, args=(cid, me))
