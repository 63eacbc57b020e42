"""The Connectors page's Manage tab: one connector's state, Test connection / Run now / Delete, its schedule
and its settings form. Every change goes through ``core.pipelines.manage`` with the admin as the actor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from app import forms, ui
from connectors.registry import KINDS
from core import pipelines
from core.auth import Identity
from core.crypto import SecretBox
from core.db.types import utcnow
from core.errors import SophiaError
from core.pipelines import manage
from core.pipelines.configured import MAX_INTERVAL_MINUTES
from core.pipelines.manage import ConnectorStatus
from core.runtime import Runtime
from pages.connector_tabs.common import (
    MANAGE_KEY,
    STATE_BADGE,
    STATE_ICON,
    STATE_LABEL,
    every,
    kind_label,
    secret_env,
    settings_specs,
)
from pages.connector_tabs.stages import stage_mapping
from pages.connector_tabs.sync import running_sync, start_sync


def manage_tab(rt: Runtime, me: Identity, box: SecretBox, statuses: list[ConnectorStatus]) -> None:
    by_name = {c.name: c for c in statuses}
    if st.session_state.get(MANAGE_KEY) not in by_name:
        st.session_state.pop(MANAGE_KEY, None)
    name = st.selectbox(
        "Connector", list(by_name), key=MANAGE_KEY, format_func=lambda n: f"{n} · {kind_label(by_name[n].kind)}"
    )
    ui.show_flash("manage")
    if name is None:
        return
    c = by_name[name]
    with rt.session() as s:
        row = pipelines.get_connector(session=s, name=name)
        shown = pipelines.describe(row=row, box=box, kinds=KINDS)
        stored, added, changed = dict(row.config), row.created_at, row.updated_at
    with st.container(border=True, key=f"compact_card_{name}"):
        summary(c)
        actions(rt, me, c)
        check_result(c)
    stage_mapping(rt, c)
    schedule_col, settings_col = st.columns([1, 2])
    with schedule_col, st.container(border=True):
        schedule_form(rt, me, c, added=added, changed=changed)
    with settings_col, st.container(border=True):
        settings_form(rt, me, box, c, shown["config"], stored)


def summary(c: ConnectorStatus) -> None:
    head, badges = st.columns([3, 2], vertical_alignment="center")
    head.subheader(c.name, anchor=False)
    with badges, st.container(horizontal=True, horizontal_alignment="right"):
        st.badge(STATE_LABEL[c.state], icon=STATE_ICON[c.state], color=STATE_BADGE[c.state])
        st.badge(kind_label(c.kind), color="blue")
        st.badge(every(c.interval_minutes) if c.enabled else "not scheduled", icon=":material/schedule:", color="gray")
    ok = sum(1 for x in c.streams if x.state == "ok")
    figures = (
        ("Streams", f"{ok} of {len(c.streams)} ok", "Streams whose last run succeeded."),
        ("Last run", "now" if c.syncing else ui.ago(c.last_run_at), None),
        ("Lag", ui.span(c.lag_s), "Time since the stream furthest behind last synced successfully."),
        ("Freshness", ui.span(c.freshness_s), "Time since the newest record any of its streams brought in."),
        ("Quarantined", ui.count(c.quarantined), "Records it read but could not take in."),
    )
    for col, (label, value, help_) in zip(st.columns(5), figures, strict=True):
        col.metric(label, value, help=help_)


def actions(rt: Runtime, me: Identity, c: ConnectorStatus) -> None:
    name, busy = c.name, running_sync(rt, c.name) is not None or c.syncing
    with st.container(horizontal=True):
        test = st.button(
            "Test connection",
            key=f"test_{name}",
            icon=":material/network_check:",
            help="Check the credentials and that the source answers; one line either way.",
        )
        st.button(
            "Syncing…" if busy else "Run now",
            key=f"run_{name}",
            icon=":material/sync:",
            type="primary",
            disabled=busy,
            on_click=start_sync,
            args=(rt, name, [s.stream for s in c.streams], me.username),
            help="Sync every stream now, from where the last run stopped. Progress shows above.",
        )
        with st.popover("Delete", icon=":material/delete:"):
            delete_confirmation(rt, me, name)
    if test:
        with st.spinner(f"Checking {name}…"):
            try:
                line = pipelines.check_connector(runtime=rt, kinds=KINDS, name=name)
                st.session_state[f"checked_{name}"] = ("success", line, utcnow())
            except SophiaError as exc:
                st.session_state[f"checked_{name}"] = ("error", exc.message, utcnow())


def delete_confirmation(rt: Runtime, me: Identity, name: str) -> None:
    st.markdown(
        f"Delete **{name}** with its saved cursors, run history and quarantined records? "
        "The records it synced stay. This cannot be undone."
    )
    typed = st.text_input(f"Type {name} to confirm", key=f"delete_confirm_{name}")
    st.button(
        f"Delete {name}",
        key=f"delete_{name}",
        type="primary",
        icon=":material/delete_forever:",
        disabled=typed != name,
        on_click=_delete,
        args=(rt, me, name),
    )


def check_result(c: ConnectorStatus) -> None:
    """The last connection check of this session, or else the connector's last error."""
    checked = st.session_state.get(f"checked_{c.name}")
    if checked:
        level, line, at = checked
        icon = ":material/check_circle:" if level == "success" else ":material/error:"
        getattr(st, level)(
            f"{'Connection works' if level == 'success' else 'Connection failed'}: {line}  \n*Checked {ui.ago(at)}.*",
            icon=icon,
        )
    elif c.last_error:
        st.warning(f"Last error: {c.last_error}", icon=":material/warning:")


def schedule_form(rt: Runtime, me: Identity, c: ConnectorStatus, *, added: datetime, changed: datetime) -> None:
    name = c.name
    st.markdown("**Schedule**")
    with st.form(f"schedule_{name}", border=False):
        st.toggle(
            "Run on schedule",
            value=c.enabled,
            key=f"sched_enabled_{name}",
            help="A disabled connector is not run by the scheduler; Run now still works.",
        )
        st.number_input(
            "Every (minutes)",
            min_value=1,
            max_value=MAX_INTERVAL_MINUTES,
            step=1,
            value=c.interval_minutes,
            key=f"sched_interval_{name}",
            help=f"Between 1 and {MAX_INTERVAL_MINUTES:,} (a week).",
        )
        st.form_submit_button(
            "Save schedule", icon=":material/event_repeat:", on_click=_save_schedule, args=(rt, me, name)
        )
    st.caption(f"Added {ui.stamp(added)} · changed {ui.ago(changed)}.")


def settings_form(
    rt: Runtime, me: Identity, box: SecretBox, c: ConnectorStatus, shown: dict[str, Any], stored: dict[str, Any]
) -> None:
    st.markdown("**Settings**")
    try:
        specs = settings_specs(c.kind)
    except (KeyError, LookupError):
        st.info(
            f"{kind_label(c.kind)} connectors are not available in this version; their settings cannot be edited.",
            icon=":material/info:",
        )
        return
    with st.form(f"settings_{c.name}", border=False):
        forms.draw_fields(specs, prefix=f"edit_{c.name}_", current=shown, env=secret_env(c.kind))
        st.form_submit_button(
            "Save settings",
            icon=":material/save:",
            on_click=_save_settings,
            args=(rt, me, box, c.name, c.kind, stored),
        )
    st.caption("Secrets are stored encrypted and shown masked; leave a secret blank to keep it.")


# ---- callbacks ---------------------------------------------------------------------------------------


def _save_schedule(rt: Runtime, me: Identity, name: str) -> None:
    enabled = bool(st.session_state[f"sched_enabled_{name}"])
    interval = int(st.session_state[f"sched_interval_{name}"])
    try:
        with rt.session() as s:
            manage.set_interval(session=s, name=name, interval_minutes=interval, actor=me.username)
            manage.set_enabled(session=s, name=name, enabled=enabled, actor=me.username)
    except SophiaError as exc:
        ui.flash("manage", "error", exc.message)
        return
    done = f"{name} runs {every(interval)}." if enabled else f"{name} is disabled: it runs only when you press Run now."
    ui.flash("manage", "success", done)


def _save_settings(rt: Runtime, me: Identity, box: SecretBox, name: str, kind: str, stored: dict[str, Any]) -> None:
    specs, prefix = settings_specs(kind), f"edit_{name}_"
    try:
        values, reset = forms.changed_values(specs, prefix, stored)
    except forms.FormError as exc:
        ui.flash("manage", "error", str(exc))
        return
    if not values and not reset:
        ui.flash("manage", "info", "Nothing changed.")
        return
    try:
        with rt.session() as s:
            manage.update_settings(
                session=s, box=box, kinds=KINDS, name=name, values=values, reset=reset, actor=me.username
            )
    except SophiaError as exc:
        ui.flash("manage", "error", forms.field_error(exc.message, specs))
        return
    forms.forget(specs, prefix, secrets_only=True)  # the new secret is not kept in the form
    st.session_state.pop(f"checked_{name}", None)  # a connection check of the old settings says nothing now
    names = ", ".join(s.label for s in specs if s.name in values or s.name in reset)
    ui.flash("manage", "success", f"Saved the settings of {name} ({names}).")


def _delete(rt: Runtime, me: Identity, name: str) -> None:
    try:
        with rt.session() as s:
            gone = manage.delete_connector(session=s, name=name, actor=me.username)
    except SophiaError as exc:
        ui.flash("manage", "error", exc.message)
        return
    st.session_state.pop(MANAGE_KEY, None)
    st.session_state.pop(f"delete_confirm_{name}", None)
    ui.flash(
        "manage",
        "success",
        f"Deleted {name} with {ui.plural(gone.runs, 'run')}, "
        f"{ui.plural(gone.quarantined, 'quarantined record')} and {ui.plural(gone.cursors, 'saved cursor')}. "
        "The records it synced stay.",
    )
