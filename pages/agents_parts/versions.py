"""An agent's version history, newest first: who changed what and when, the values each version set, and a
revert button on every older version (``revert_agent``: a new version equal to that one; history is never
rewritten)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import ui
from core.agents.registry import AgentSpec, VersionItem, agent_versions, revert_agent
from core.auth import Identity
from core.errors import SophiaError
from pages.agents_parts.edit import FLASH


def _revert(name: str, version: int, me: Identity) -> None:
    try:
        with ui.runtime().session() as s:
            saved = revert_agent(session=s, name=name, version=version, actor=me.actor)
        ui.flash(FLASH, "success", f"{saved.title} is now version {saved.version}, as it was at version {version}.")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


def _value(snapshot: dict[str, Any], field: str) -> str:
    head, _, sub = field.partition(".")
    value = snapshot.get(head)
    if sub:
        value = (value or {}).get(sub)
    if value is None or value == "" or value == {} or value == []:
        return "_(default)_" if head == "llm" else "_(none)_"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    return ui.md(str(value))


def _what(v: VersionItem, before: VersionItem | None) -> None:
    if not v.changed or before is None:
        return
    with st.expander(f"What changed in v{v.version}"):
        for field in v.changed:
            st.markdown(f"**{field}**")
            st.markdown(f"- before: {_value(before.snapshot, field)}\n- after: {_value(v.snapshot, field)}")


def versions_panel(spec: AgentSpec, me: Identity) -> None:
    with ui.runtime().session() as s:
        items = agent_versions(session=s, name=spec.name)
    st.markdown(f"**Versions** · {len(items)}")
    for i, v in enumerate(items):
        before = items[i + 1] if i + 1 < len(items) else None
        with st.container(border=True):
            text, action = st.columns([3, 1.3], vertical_alignment="center")
            current = " :green-badge[current]" if v.version == spec.version else ""
            text.markdown(f"**v{v.version}**{current} · {ui.md(v.changed_by)}")
            what = ", ".join(v.changed) if v.changed else "created"
            text.caption(f"{ui.stamp(v.changed_at)} · {what}" + (f" · “{ui.md(v.note)}”" if v.note else ""))
            if v.version != spec.version:
                action.button(
                    "Revert",
                    key=f"revert_{spec.name}_{v.version}",
                    icon=":material/undo:",
                    help=f"Make {spec.title} what it was at v{v.version}, as a new version",
                    on_click=_revert,
                    args=(spec.name, v.version, me),
                    width="stretch",
                )
            _what(v, before)
