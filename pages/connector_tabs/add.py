"""The Connectors page's "Add a connector" tab: a kind, a name, an interval and the kind's settings form."""

from __future__ import annotations

import streamlit as st

from app import forms, ui
from connectors.registry import KINDS
from core import pipelines
from core.auth import Identity
from core.crypto import SecretBox
from core.errors import SophiaError
from core.pipelines.configured import DEFAULT_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES
from core.runtime import Runtime
from pages.connector_tabs.common import MANAGE_KEY, TAB_KEY, kind_label, secret_env, settings_specs


def add_section(rt: Runtime, me: Identity, box: SecretBox, taken: set[str]) -> None:
    available = [k for k, info in KINDS.items() if info.available]
    later = [info.label for info in KINDS.values() if not info.available]
    with st.container(border=True):
        st.markdown("**Add a connector**")
        kind = st.pills(
            "Kind",
            available,
            format_func=kind_label,
            key="add_kind",
            default=available[0] if available else None,
            required=True,
        )
        if later:
            st.caption("Not yet available: " + " ".join(f":gray-badge[{label}]" for label in later))
        if not kind:
            return
        _add_form(rt, me, box, kind, taken)
        ui.show_flash("add")


def _add_form(rt: Runtime, me: Identity, box: SecretBox, kind: str, taken: set[str]) -> None:
    prefix = f"add_{kind}_"
    with st.form(f"add_{kind}", border=False):
        c1, c2 = st.columns([2, 1])
        c1.text_input(
            "Name",
            key=f"{prefix}name",
            value=kind if kind not in taken else "",
            placeholder=f"e.g. {kind}-prod",
            required=True,
            help="How Sophia refers to it: 1-64 lowercase letters, digits, '-' or '_'.",
        )
        c2.number_input(
            "Sync every (minutes)",
            min_value=1,
            max_value=MAX_INTERVAL_MINUTES,
            step=1,
            value=DEFAULT_INTERVAL_MINUTES,
            key=f"{prefix}interval",
            help=f"The scheduler runs it this often; between 1 and {MAX_INTERVAL_MINUTES:,} (a week).",
        )
        forms.draw_fields(settings_specs(kind), prefix=f"{prefix}f_", env=secret_env(kind))
        st.form_submit_button(
            "Add connector", type="primary", icon=":material/add_link:", on_click=_add, args=(rt, me, box, kind)
        )


def _add(rt: Runtime, me: Identity, box: SecretBox, kind: str) -> None:
    specs, prefix = settings_specs(kind), f"add_{kind}_"
    name = (st.session_state.get(f"{prefix}name") or "").strip()
    try:
        values, missing = forms.new_values(specs, f"{prefix}f_", secret_env(kind))
    except forms.FormError as exc:
        ui.flash("add", "error", str(exc))
        return
    if not name or missing:
        ui.flash("add", "error", " ".join(f"**{label}** is required." for label in _missing(name, missing)))
        return
    interval = int(st.session_state.get(f"{prefix}interval") or DEFAULT_INTERVAL_MINUTES)
    try:
        with rt.session() as s:
            row = pipelines.add_connector(
                session=s, box=box, kinds=KINDS, kind=kind, name=name, values=values,
                interval_minutes=interval, actor=me.username,
            )  # fmt: skip
            shown = pipelines.describe(row=row, box=box, kinds=KINDS)
    except SophiaError as exc:
        ui.flash("add", "error", forms.field_error(exc.message, specs))
        return
    forms.forget(specs, f"{prefix}f_")  # start the next add from a blank form
    st.session_state.pop(f"{prefix}name", None)
    st.session_state[MANAGE_KEY] = name
    st.session_state[TAB_KEY] = "Manage"
    secrets = pipelines.secret_fields(KINDS[kind].config_model)
    settings = ", ".join(f"{k} {v}" for k, v in shown["config"].items() if k in secrets or k == "base_url")
    ui.flash(
        "manage",
        "success",
        f"Added {kind_label(kind)} connector **{name}** ({settings}). "
        "Test the connection, then run it now or let the schedule pick it up.",
    )


def _missing(name: str, missing: list[forms.FieldSpec]) -> list[str]:
    return (["Name"] if not name else []) or [s.label for s in missing]
