"""An agent's edit form: the fields ``core.agents.registry.EDITABLE`` names (title, goal, backstory, tools from the
one catalogue, enabled, the model settings). Saving sends only what changed to ``edit_agent``: one new version,
audited with the signed-in admin as the actor; a bad value is refused whole, nothing half-saved.

Not ``app/forms.py``: the registry's fields are not a pydantic model, and they need a multiselect (tools) and
long text boxes (goal, backstory), which that generator does not draw."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from app import ui
from core.agents.registry import EDITABLE, MAX_TEXT, AgentSpec, edit_agent
from core.auth import Identity
from core.errors import SophiaError
from core.tools.catalogue import CATALOGUE

FLASH = "agents"
LONG = {"goal": 110, "backstory": 150}  # text areas, with their heights


def _tool_label(name: str) -> str:
    tool = CATALOGUE[name]
    marks = [tool.role] + (["write: asks first"] if tool.write else [])
    return f"{name} ({', '.join(marks)})"


def prefix(spec: AgentSpec) -> str:
    """The widgets' keys carry the version: after a save or a revert the form starts from the new values."""
    return f"ag_{spec.name}_v{spec.version}_"


def changes(spec: AgentSpec, values: dict[str, Any]) -> dict[str, str]:
    """``field -> text value`` for what differs from ``spec`` (the registry parses and checks each)."""
    out: dict[str, str] = {}
    for field in ("title", "goal", "backstory"):
        if values[field] != getattr(spec, field):
            out[field] = values[field]
    if list(values["tools"]) != list(spec.tools):
        out["tools"] = ",".join(values["tools"])
    if values["enabled"] != spec.enabled:
        out["enabled"] = "true" if values["enabled"] else "false"
    if (values["llm.model"] or "").strip() != str(spec.llm.get("model") or ""):
        out["llm.model"] = values["llm.model"] or ""
    for field in ("llm.temperature", "llm.max_tokens"):
        new, old = values[field], spec.llm.get(field.removeprefix("llm."))
        if new is not None and (old is None or not math.isclose(float(new), float(old))):
            out[field] = str(int(new) if field == "llm.max_tokens" else new)
    assert set(out) <= set(EDITABLE)
    return out


def _save(spec: AgentSpec, me: Identity) -> None:
    key = prefix(spec)
    values = {f: st.session_state.get(key + f) for f in EDITABLE}
    wanted = changes(spec, values)
    if not wanted:
        ui.flash(FLASH, "info", "Nothing changed.")
        return
    note = (st.session_state.get(key + "note") or "").strip() or None
    try:
        with ui.runtime().session() as s:
            saved = edit_agent(session=s, name=spec.name, changes=wanted, actor=me.actor, note=note)
        ui.flash(FLASH, "success", f"{saved.title} is now version {saved.version}: changed {', '.join(wanted)}.")
    except SophiaError as exc:
        ui.flash(FLASH, "error", exc.message)


def edit_form(spec: AgentSpec, me: Identity) -> None:
    key = prefix(spec)
    with st.form(f"agent_form_{spec.name}", border=False):
        st.text_input("Title", value=spec.title, key=key + "title", max_chars=MAX_TEXT)
        for field, height in LONG.items():
            st.text_area(field.capitalize(), value=getattr(spec, field), key=key + field, height=height)
        st.multiselect(
            "Tools",
            list(CATALOGUE),
            default=[t for t in spec.tools if t in CATALOGUE],
            format_func=_tool_label,
            key=key + "tools",
            disabled=spec.manager,
            help="The manager delegates to the specialists and calls no tool itself."
            if spec.manager
            else "What this agent may call. A caller's role still limits every call; a write only proposes, the "
            "person who asked approves it.",
        )
        st.toggle(
            "Enabled",
            value=spec.enabled,
            key=key + "enabled",
            disabled=spec.manager,
            help="The manager composes every answer and cannot be disabled." if spec.manager else None,
        )
        st.markdown("**Model** · blank fields use the defaults (`SOPHIA_LLM_MODEL`)")
        model, temperature, tokens = st.columns([2, 1, 1])
        model.text_input("Model", value=str(spec.llm.get("model") or ""), key=key + "llm.model", placeholder="default")
        temperature.number_input(
            "Temperature",
            min_value=0.0,
            max_value=2.0,
            step=0.1,
            value=spec.llm.get("temperature"),
            key=key + "llm.temperature",
            placeholder="default",
        )
        tokens.number_input(
            "Max tokens",
            min_value=1,
            max_value=200_000,
            step=256,
            value=spec.llm.get("max_tokens"),
            key=key + "llm.max_tokens",
            placeholder="default",
        )
        st.text_input("Why (kept with the version)", key=key + "note", placeholder="optional")
        st.form_submit_button(
            "Save as a new version", type="primary", icon=":material/save:", on_click=_save, args=(spec, me)
        )
