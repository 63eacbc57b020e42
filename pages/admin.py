"""Admin: users and roles, API keys, the search index, insight settings. Every user or key change goes through core.auth with
the signed-in admin as the actor (core audits it); index actions are the calls `sophia index` makes
(``pages/admin_tabs/search_index.py``). Tables show core's views (``core.auth.views``), the ones the API
returns. The page checks the role itself: it is not enough to be hidden."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from app import ui
from app.auth import require_role
from core import auth
from core.auth import Identity
from core.auth.service import MIN_PASSWORD_LENGTH
from core.auth.views import api_key_views, user_details
from core.errors import SophiaError
from core.jobs_health import scheduler_heartbeat
from core.runtime import Runtime
from pages.admin_tabs.insight_settings import insight_settings_tab
from pages.admin_tabs.notifications import notifications_tab
from pages.admin_tabs.search_index import index_tab


def _when(value: datetime | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value)


def _act(done: str | Callable[[Any], str], action: Callable[..., Any], **kw: Any) -> None:
    """Run a core.auth change in its own transaction; say it worked (``done``, or made from what the change
    returned), or why not."""
    try:
        with ui.runtime().session() as s:
            result = action(session=s, **kw)
            said = done(result) if callable(done) else done
        st.success(said, icon=":material/check_circle:")
    except SophiaError as exc:
        st.error(exc.message)


# ---- users and roles --------------------------------------------------------------------------------


def users_tab(rt: Runtime, me: Identity) -> None:
    table = st.container()
    add_col, role_col = st.columns([1.4, 1])
    with add_col, st.container(border=True):
        add_user_form(me)
    with rt.session() as s:
        usernames = [u.username for u in user_details(session=s)]
    with role_col, st.container(border=True):
        role_form(me, usernames)
        access_form(me, usernames)
    with table, st.container(border=True):
        users_table(rt)  # read after the actions above, so the table shows their result


def add_user_form(me: Identity) -> None:
    st.markdown("**Add a user**")
    with st.form("add_user", clear_on_submit=True, border=False):
        c1, c2 = st.columns(2)
        username = c1.text_input("Username", key="new_username", placeholder="jane.doe")
        display_name = c2.text_input("Name", key="new_display_name", placeholder="Jane Doe")
        email = c1.text_input("Email", key="new_email", placeholder="jane@payready.com")
        role = c2.selectbox("Role", auth.ROLES, index=auth.ROLES.index("viewer"), key="new_role")
        password = st.text_input(
            "Password", type="password", key="new_password", help=f"At least {MIN_PASSWORD_LENGTH} characters."
        )
        submitted = st.form_submit_button("Add user", type="primary", icon=":material/person_add:")
    if submitted:
        _act(
            lambda user: f"Added {user.username} as {role}.",  # as stored (core lower-cases it)
            auth.create_user,
            username=username,
            role=role,
            password=password,
            actor=me.username,
            display_name=display_name.strip() or None,
            email=email.strip() or None,
        )


def role_form(me: Identity, usernames: list[str]) -> None:
    st.markdown("**Change a role**")
    with st.form("set_role", border=False):
        who = st.selectbox("User", usernames, key="role_user")
        new_role = st.selectbox("New role", auth.ROLES, key="role_new")
        changed = st.form_submit_button("Change role", icon=":material/manage_accounts:")
    if changed and who:
        _act(f"{who} is now {new_role}.", auth.set_role, username=who, role=new_role, actor=me.username)


def access_form(me: Identity, usernames: list[str]) -> None:
    st.markdown("**Enable or disable**")
    with st.form("set_active", border=False):
        who = st.selectbox("User", usernames, key="active_user")
        state = st.segmented_control("Access", ["Enabled", "Disabled"], default="Enabled", key="active_state")
        apply = st.form_submit_button("Apply", icon=":material/toggle_on:")
    if apply and who and state:
        active = state == "Enabled"
        _act(f"{who} is now {state.lower()}.", auth.set_active, username=who, active=active, actor=me.username)


def users_table(rt: Runtime) -> None:
    with rt.session() as s:
        users = user_details(session=s)
    rows = [
        {
            "username": u.username,
            "name": u.display_name,
            "email": u.email or "",
            "role": u.role,
            "active": u.active,
            "created": _when(u.created_at),
            "last_login": _when(u.last_login_at),
        }
        for u in users
    ]
    st.markdown(f"**Users** · {len(rows)}")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="users_table",
        column_config={
            "username": "Username",
            "name": "Name",
            "email": "Email",
            "role": "Role",
            "active": st.column_config.CheckboxColumn("Active"),
            "created": st.column_config.DatetimeColumn("Created", format="MMM D, YYYY"),
            "last_login": st.column_config.DatetimeColumn("Last sign-in", format="MMM D, YYYY HH:mm"),
        },
    )


# ---- API keys ---------------------------------------------------------------------------------------


def keys_tab(rt: Runtime, me: Identity) -> None:
    table = st.container()
    with rt.session() as s:
        usernames = [u.username for u in user_details(session=s) if u.active]
        active = [k for k in api_key_views(session=s) if k.active]
    create_col, revoke_col = st.columns([1.4, 1])
    with create_col, st.container(border=True):
        create_key_form(rt, me, usernames)
    with revoke_col, st.container(border=True):
        revoke_key_form(me, active)
    with table, st.container(border=True):
        keys_table(rt)


def create_key_form(rt: Runtime, me: Identity, usernames: list[str]) -> None:
    st.markdown("**Create an API key**")
    with st.form("create_key", clear_on_submit=True, border=False):
        c1, c2 = st.columns(2)
        mine = usernames.index(me.username) if me.username in usernames else 0
        owner = c1.selectbox("For user", usernames, index=mine, key="key_user")
        label = c2.text_input("Label", key="key_label", placeholder="e.g. reporting script")
        make = st.form_submit_button("Create key", type="primary", icon=":material/key:")
    if not (make and owner):
        return
    try:
        with rt.session() as s:
            row, key = auth.create_api_key(session=s, username=owner, name=label.strip(), actor=me.username)
            key_id = row.id
    except SophiaError as exc:
        st.error(exc.message)
        return
    st.warning(
        f"Copy the key for **{owner}** now ({key_id}). It is shown only this once; Sophia keeps only a hash.",
        icon=":material/warning:",
    )
    st.code(key, language=None, wrap_lines=True)


def revoke_key_form(me: Identity, active: list) -> None:  # list[ApiKeyPublic]
    st.markdown("**Revoke a key**")
    labels = {k.id: f"{k.id} · {k.username}{f' · {k.name}' if k.name else ''}" for k in active}
    with st.form("revoke_key", border=False):
        key_id = st.selectbox(
            "Key",
            list(labels),
            format_func=labels.get,
            key="revoke_id",
            index=None,
            placeholder="Choose a key" if labels else "No active keys",
        )
        revoke = st.form_submit_button("Revoke", icon=":material/block:", disabled=not labels)
    if revoke and key_id:
        _act(f"Revoked {key_id}.", auth.revoke_api_key, key_id=key_id, actor=me.username)


def keys_table(rt: Runtime) -> None:
    with rt.session() as s:
        keys = api_key_views(session=s)
    st.markdown(f"**API keys** · {sum(1 for k in keys if k.active)} active")
    if not keys:
        st.markdown('<div class="sophia-muted">No API keys yet.</div>', unsafe_allow_html=True)
        return
    rows = [
        {
            "id": k.id,
            "user": k.username,
            "name": k.name,
            "created": _when(k.created_at),
            "last_used": _when(k.last_used_at),
            "revoked": _when(k.revoked_at),
        }
        for k in keys
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="keys_table",
        column_config={
            "id": "Key id",
            "user": "User",
            "name": "Label",
            "created": st.column_config.DatetimeColumn("Created", format="MMM D, YYYY HH:mm"),
            "last_used": st.column_config.DatetimeColumn("Last used", format="MMM D, YYYY HH:mm"),
            "revoked": st.column_config.DatetimeColumn("Revoked", format="MMM D, YYYY HH:mm"),
        },
    )


def scheduler_status(rt: Runtime) -> None:
    """The jobs process's heartbeat: syncs, indexing and housekeeping run only while it is fresh."""
    beat = scheduler_heartbeat(runtime=rt)
    said = beat.describe()
    if beat.state == "fresh":
        st.caption(f"Scheduler running: {said}.")
    elif beat.state == "never":
        st.warning(
            f"{said[0].upper()}{said[1:]}: scheduled syncs and indexing wait for the jobs process "
            "(`sophia up` starts it).",
            icon=":material/schedule:",
        )
    else:
        st.warning(
            f"{said[0].upper()}{said[1:]}. Scheduled syncs and indexing are not running; `sophia up` restarts "
            "the jobs process.",
            icon=":material/warning:",
        )


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Admin",
        "Users, roles, API keys, the search index, insight settings and Slack notifications. Every change to users, "
        "keys and settings is recorded in the audit log.",
    )
    me = require_role(rt, "admin", "admin")
    scheduler_status(rt)
    users, keys, index, insights, notifications = st.tabs(
        ["Users and roles", "API keys", "Search index", "Insight settings", "Notifications"]
    )
    with users:
        users_tab(rt, me)
    with keys:
        keys_tab(rt, me)
    with index:
        index_tab(rt)
    with insights:
        insight_settings_tab(rt, me)
    with notifications:
        notifications_tab(rt, me)


main()
