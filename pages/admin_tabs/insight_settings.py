"""The Admin page's Insight settings tab: each insight type on or off and its thresholds (the defaults are
PayReady's operating thresholds; the reasons of every insight quote the ones in force). Changes go through
``core.insights.config.set_param`` with the signed-in admin as the actor, which audits them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import ui
from core.auth import Identity
from core.errors import SophiaError
from core.insights.config import effective_params, set_param
from core.insights.detectors import all_detectors
from core.runtime import Runtime

FLASH = "insight_settings"


def _text(value: Any) -> str:
    """A value in the text form ``set_param`` reads (the CLI's ``KEY=VALUE``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _input(type_: str, key: str, value: Any, default: Any) -> Any:
    label = key.replace("_", " ").capitalize()
    help_ = f"Default {_text(default)}."
    wkey = f"is_{type_}_{key}"
    if isinstance(default, bool):
        return st.checkbox(label, value=bool(value), key=wkey, help=help_)
    if isinstance(default, int):
        return st.number_input(label, value=int(value), step=1, key=wkey, help=help_)
    if isinstance(default, float):
        return st.number_input(label, value=float(value), key=wkey, help=help_, format="%g")
    if isinstance(default, list | tuple):
        return st.text_area(label, value=_text(value), key=wkey, help=help_ + " Separate with commas.", height=80)
    return st.text_input(label, value=_text(value), key=wkey, help=help_)


def _save(type_: str, changes: dict[str, Any], me: Identity) -> None:
    try:
        with ui.runtime().session() as s:
            for key, value in changes.items():
                set_param(session=s, type_=type_, key=key, value=_text(value), actor=me.username)
    except SophiaError as exc:
        ui.flash(FLASH, "error", f"{ui.type_label(type_)}: {exc.message}")
        return
    said = ", ".join(f"{k} = {_text(v)}" for k, v in changes.items())
    ui.flash(FLASH, "success", f"{ui.type_label(type_)}: {said}. Detection uses it from its next run.")


def insight_settings_tab(rt: Runtime, me: Identity) -> None:
    detectors = all_detectors()
    with rt.session() as s:
        params = effective_params(session=s, detectors=detectors)
    st.caption(
        "Each insight type, on or off, and its thresholds. Every change is recorded in the audit log and applies "
        "from the next detection run; an insight whose condition no longer holds then resolves itself."
    )
    ui.show_flash(FLASH)
    left, right = st.columns(2)
    for i, (type_, detector) in enumerate(sorted(detectors.items())):
        current = params[type_]
        defaults = {"enabled": True, **detector.defaults}
        with left if i % 2 == 0 else right, st.container(border=True):
            on = ":green-badge[on]" if current.get("enabled", True) else ":gray-badge[off]"
            st.markdown(f"**{ui.type_label(type_)}** {on} · `{type_}`")
            st.caption(ui.md(detector.description))
            with st.form(f"is_form_{type_}", border=False):
                values = {
                    key: _input(type_, key, current.get(key, default), default) for key, default in defaults.items()
                }
                saved = st.form_submit_button("Save", icon=":material/save:")
            if saved:
                changes = {k: v for k, v in values.items() if _text(v) != _text(current.get(k, defaults[k]))}
                if changes:
                    _save(type_, changes, me)
                else:
                    ui.flash(FLASH, "info", f"{ui.type_label(type_)}: nothing changed.")
                st.rerun()
