"""Asking: the question, then the answer streamed as it is written (``st.write_stream``) under a status box that
shows the agents and tool calls as they happen (collapsed when done), then the answer's parts
(``pages/chat_parts/answer.py``). The ask is ``core.agents.ask.ask_stream`` as the signed-in user: their role
decides which tools run and which records an answer may cite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import streamlit as st

from app import ui
from core.agents.ask import AskResult, ask_stream
from core.auth import Identity
from core.errors import SophiaError
from core.observability.logging import get_logger
from pages.chat_parts.answer import Context, call_line, extras, text_md, trace_label

log = get_logger("chat")


@st.cache_resource(show_spinner=False)
def _process() -> dict[str, bool]:
    """Whether this app server answered before: the first answer also loads the language models."""
    return {"warm": False}


def _thinking() -> str:
    if _process()["warm"]:
        return "Thinking…"
    return "Thinking… (the first question after a start also loads Sophia's models: a few seconds)"


def ask_live(me: Identity, question: str, cid: str | None, ctx: Context) -> str | None:
    """Ask ``question`` in conversation ``cid`` (None: a new one), drawing it all as it comes; the conversation
    the answer landed in (``cid`` when it was not answered)."""
    rt = ui.runtime()
    with st.chat_message("user", avatar=":material/person:"):
        st.markdown(ui.md(question))
    with st.chat_message("assistant", avatar=":material/smart_toy:"):
        status = st.status(_thinking(), expanded=False)
        seen: dict[str, Any] = {"result": None}

        def pieces() -> Iterator[str]:
            for event in ask_stream(runtime=rt, identity=me, question=question, conversation_id=cid):
                if event.type == "delta":
                    yield text_md(event.data["text"])
                elif event.type == "agent":
                    who = ctx.title(str(event.data.get("agent")))
                    status.update(label=f"{who} is answering…")
                    status.markdown(f"{ui.md(who)} is answering")
                elif event.type == "tool":
                    status.markdown(call_line(event.data, ctx))
                elif event.type == "end":
                    seen["result"] = event.data["result"]

        try:
            st.write_stream(pieces)
        except SophiaError as exc:
            status.update(label="Not answered", state="error")
            st.error(exc.message, icon=":material/error:")
            return cid
        except Exception as exc:  # noqa: BLE001 - a broken answer is said in the chat, not as a page crash
            log.exception("chat answer failed")
            status.update(label="Not answered", state="error")
            st.error(f"Sophia could not answer: {type(exc).__name__}. The app's log has the details.")
            return cid
        _process()["warm"] = True
        result: AskResult = seen["result"]
        status.update(label=trace_label(result.agents, len(result.tool_calls), ctx), state="complete", expanded=False)
        ctx.actions.update({a.id: a for a in result.proposed_actions})
        extras(result.as_json(), result.message_id, ctx)
    return result.conversation_id
