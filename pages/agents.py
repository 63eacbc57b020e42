"""Agents (admins): the agents that answer questions in the Chat, ``sophia ask`` and the API. The list (title,
enabled, tools, version), one agent's edit form (``pages/agents_parts/edit.py``) and its version history with
revert (``pages/agents_parts/versions.py``). Every change is a new version in ``core.agents.registry``, audited
with the signed-in admin as the actor. ``?agent=<name>`` opens one agent.

A page of its own rather than an Admin tab: it is a workspace (a list, a long form and a history side by side)
that a tab among five would cramp, and a link can open one agent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import ui
from app.auth import require_role
from core.agents.registry import AgentSpec, list_agents
from pages.agents_parts.edit import FLASH, edit_form
from pages.agents_parts.versions import versions_panel


def _table(agents: list[AgentSpec]) -> None:
    rows = [
        {
            "title": a.title,
            "name": a.name,
            "enabled": a.enabled,
            "tools": list(a.tools) if a.tools else ["(delegates)"],
            "version": a.version,
            "changed_by": a.updated_by,
            "changed": pd.Timestamp(a.updated_at),
        }
        for a in agents
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="agents_table",
        column_config={
            "title": "Agent",
            "name": "Name",
            "enabled": st.column_config.CheckboxColumn("Enabled"),
            "tools": st.column_config.ListColumn("Tools", width="large"),
            "version": st.column_config.NumberColumn("Version", format="v%d"),
            "changed_by": "Changed by",
            "changed": st.column_config.DatetimeColumn("Changed", format="MMM D, YYYY HH:mm"),
        },
    )


def _pick(agents: list[AgentSpec]) -> AgentSpec:
    names = [a.name for a in agents]
    wanted = st.query_params.get("agent")
    if wanted in names and "ag_pick" not in st.session_state:
        st.session_state["ag_pick"] = wanted
    pick, _ = st.columns([1, 2])
    # by name: a title can change on this page, and a select box keeps the labels it was first drawn with
    name = pick.selectbox("Edit an agent", names, key="ag_pick")
    return next(a for a in agents if a.name == name)


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Agents",
        "The specialists that answer questions in Chat, `sophia ask` and the API, and the lead that delegates to "
        "them. Every change is a new version you can revert; all of it is audited.",
    )
    me = require_role(rt, "admin", "agents")
    ui.show_flash(FLASH)
    with rt.session() as s:
        agents = list_agents(session=s)
    enabled = sum(1 for a in agents if a.enabled)
    st.caption(f"{ui.plural(len(agents), 'agent')} · {enabled} enabled")
    with st.container(border=True):
        _table(agents)
    spec = _pick(agents)
    form, history = st.columns([1.5, 1], gap="large")
    with form, st.container(border=True):
        kind = "the manager: it delegates each part of a question" if spec.manager else "a specialist"
        st.markdown(f"**{ui.md(spec.title)}** · {kind} · version {spec.version}")
        edit_form(spec, me)
    with history:
        versions_panel(spec, me)


main()
