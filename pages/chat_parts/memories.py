"""Your memories: what Sophia remembers for the signed-in user (``core.memory``), each with a delete button, and
"forget everything". Only the user's own memories are listed and deleted (core scopes every call by user).
``core.memory`` is imported when the panel is drawn: its import (mem0's assembly) is not paid by other pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from app import ui
from core.auth import Identity
from core.errors import SophiaError

if TYPE_CHECKING:
    from core.memory import MemoryItem

FLASH = "memories"


def _forget(memory_id: str, me: Identity) -> None:
    from core.memory import forget_memory

    try:
        forget_memory(runtime=ui.runtime(), memory_id=memory_id, user=me.username, actor=me.actor)
        ui.flash(FLASH, "info", "Forgotten.")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


def _forget_all(me: Identity) -> None:
    from core.memory import forget_all

    try:
        n = forget_all(runtime=ui.runtime(), user=me.username, actor=me.actor)
        ui.flash(FLASH, "info", f"Forgot {ui.plural(n, 'memory', 'memories')}.")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


def _when(item: MemoryItem) -> str:
    parts = [f"noted {ui.day_label(item.created_at.date())}"]
    if item.category:
        parts.insert(0, item.category)
    if item.expires_on:
        parts.append(f"until {ui.day_label(item.expires_on)}")
    return " · ".join(parts)


def memories_panel(me: Identity) -> None:
    from core.memory import list_memories

    with st.expander("Your memories", icon=":material/neurology:"):
        ui.show_flash(FLASH)
        try:
            items = list_memories(runtime=ui.runtime(), user=me.username)
        except SophiaError as exc:
            st.error(exc.message)
            return
        if not items:
            st.caption('Nothing yet. Say "remember that …" in a question and Sophia keeps it for your next ones.')
            return
        st.caption(f"{ui.plural(len(items), 'memory', 'memories')}, only yours; Sophia recalls them when relevant.")
        for item in items:
            text, forget = st.columns([6, 1], vertical_alignment="center")
            text.markdown(ui.md(item.text))
            text.caption(_when(item))
            forget.button(
                "Forget",
                key=f"forget_{item.id}",
                icon=":material/delete:",
                help="Sophia forgets this for good",
                on_click=_forget,
                args=(item.id, me),
            )
        with st.popover("Forget everything", icon=":material/delete_sweep:"):
            st.markdown(f"Forget all {ui.plural(len(items), 'memory', 'memories')}? This cannot be undone.")
            st.button("Forget everything", key="forget_all", type="primary", on_click=_forget_all, args=(me,))
