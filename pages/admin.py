"""Admin: users and roles, API keys, the search index. Every user or key change goes through core.auth with
the signed-in admin as the actor (core audits it); index actions are the calls `sophia index` makes. The page
checks the role itself: it is not enough to be hidden."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app import ui
from app.auth import require_role
from core import auth
from core.auth import Identity
from core.auth.service import MIN_PASSWORD_LENGTH
from core.errors import SophiaError
from core.runtime import Runtime
from core.search.backends.registry import enabled_backends, make_backend
from core.search.searchable import indexing_status
from core.search.sync import index_status, rebuild, reconcile, sync_backend, table_counts


def _when(value: datetime | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value)


def users_tab(rt: Runtime, me: Identity) -> None:
    table = st.container()
    add_col, role_col = st.columns([1.4, 1])
    with add_col, st.container(border=True):
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
            try:
                with rt.session() as s:
                    user = auth.create_user(
                        session=s,
                        username=username,
                        role=role,
                        password=password,
                        actor=me.username,
                        display_name=display_name.strip() or None,
                        email=email.strip() or None,
                    )
                    created = user.username
                st.success(f"Added {created} as {role}.", icon=":material/check_circle:")
            except SophiaError as exc:
                st.error(exc.message)

    with rt.session() as s:
        usernames = [u.username for u in auth.list_users(session=s)]
    with role_col, st.container(border=True):
        st.markdown("**Change a role**")
        with st.form("set_role", border=False):
            who = st.selectbox("User", usernames, key="role_user")
            new_role = st.selectbox("New role", auth.ROLES, key="role_new")
            changed = st.form_submit_button("Change role", icon=":material/manage_accounts:")
        if changed and who:
            try:
                with rt.session() as s:
                    auth.set_role(session=s, username=who, role=new_role, actor=me.username)
                st.success(f"{who} is now {new_role}.", icon=":material/check_circle:")
            except SophiaError as exc:
                st.error(exc.message)
        st.markdown("**Enable or disable**")
        with st.form("set_active", border=False):
            who_a = st.selectbox("User", usernames, key="active_user")
            state = st.segmented_control("Access", ["Enabled", "Disabled"], default="Enabled", key="active_state")
            apply = st.form_submit_button("Apply", icon=":material/toggle_on:")
        if apply and who_a and state:
            try:
                with rt.session() as s:
                    auth.set_active(session=s, username=who_a, active=state == "Enabled", actor=me.username)
                st.success(f"{who_a} is now {state.lower()}.", icon=":material/check_circle:")
            except SophiaError as exc:
                st.error(exc.message)

    with rt.session() as s:  # read after the actions above, so the table shows their result
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
            for u in auth.list_users(session=s)
        ]
    with table, st.container(border=True):
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


def keys_tab(rt: Runtime, me: Identity) -> None:
    table = st.container()
    with rt.session() as s:
        usernames = [u.username for u in auth.list_users(session=s) if u.active]
    create_col, revoke_col = st.columns([1.4, 1])
    with create_col, st.container(border=True):
        st.markdown("**Create an API key**")
        with st.form("create_key", clear_on_submit=True, border=False):
            c1, c2 = st.columns(2)
            owner = c1.selectbox(
                "For user",
                usernames,
                index=usernames.index(me.username) if me.username in usernames else 0,
                key="key_user",
            )
            label = c2.text_input("Label", key="key_label", placeholder="e.g. reporting script")
            make = st.form_submit_button("Create key", type="primary", icon=":material/key:")
        if make and owner:
            try:
                with rt.session() as s:
                    row, key = auth.create_api_key(session=s, username=owner, name=label.strip(), actor=me.username)
                    key_id = row.id
                st.warning(
                    f"Copy the key for **{owner}** now ({key_id}). It is shown only this once; Sophia keeps only a hash.",
                    icon=":material/warning:",
                )
                st.code(key, language=None, wrap_lines=True)
            except SophiaError as exc:
                st.error(exc.message)

    with revoke_col, st.container(border=True):
        st.markdown("**Revoke a key**")
        with rt.session() as s:
            active = [(k.id, k.user.username, k.name) for k in auth.list_api_keys(session=s) if k.revoked_at is None]
        labels = {kid: f"{kid} · {user}{f' · {name}' if name else ''}" for kid, user, name in active}
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
            try:
                with rt.session() as s:
                    auth.revoke_api_key(session=s, key_id=key_id, actor=me.username)
                st.success(f"Revoked {key_id}.", icon=":material/check_circle:")
            except SophiaError as exc:
                st.error(exc.message)

    with rt.session() as s:
        rows = [
            {
                "id": k.id,
                "user": k.user.username,
                "name": k.name,
                "created": _when(k.created_at),
                "last_used": _when(k.last_used_at),
                "revoked": _when(k.revoked_at),
            }
            for k in auth.list_api_keys(session=s)
        ]
    with table, st.container(border=True):
        st.markdown(f"**API keys** · {sum(1 for r in rows if pd.isna(r['revoked']))} active")
        if not rows:
            st.markdown('<div class="sophia-muted">No API keys yet.</div>', unsafe_allow_html=True)
        else:
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


INDEX_ACTIONS = {
    "Sync now": "push the changes it has not received",
    "Reconcile": "compare with the chunks table and repair drift",
    "Rebuild": "clear it and push every chunk again",
}


def index_tab(rt: Runtime) -> None:
    names = list(enabled_backends(rt.settings))
    held = table_counts(runtime=rt)
    rows = index_status(runtime=rt, backends=names)
    c1, c2, c3 = st.columns(3)
    c1.metric("Documents", ui.count(held["documents"]))
    c2.metric("Chunks", ui.count(held["chunks"]))
    c3.metric("Chunks with a vector", ui.count(held["vectors"]))
    failing = [r["name"] for r in rows if r["error"]]
    if failing:
        st.error(
            f"Failing: {', '.join(failing)}. Searches and ingestion carry on; the backend catches up once "
            "it is reachable again.",
            icon=":material/error:",
        )
    running = ui.indexing_notice(rt, last_run=True)
    st.caption(indexing_status(runtime=rt).summary)  # records not searchable yet, and when they will be
    if not held["documents"] and not running:
        st.info(
            "Nothing is indexed yet. The scheduler indexes new records every two minutes; "
            "`sophia reindex` does it now.",
            icon=":material/info:",
        )
    frame = pd.DataFrame(
        [
            {
                "backend": r["name"],
                "state": "failing" if r["error"] else ("behind" if r["pending"] else "in sync"),
                "chunks": r["chunks"],
                "pending": r["pending"],
                "last_sync": _when(datetime.fromisoformat(r["last_sync"]) if r["last_sync"] else None),
                "error": r["error"] or "",
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "backend": "Backend",
            "state": "State",
            "chunks": st.column_config.NumberColumn("Chunks held", format="localized"),
            "pending": st.column_config.NumberColumn("Pending", format="localized"),
            "last_sync": st.column_config.DatetimeColumn("Last sync", format="MMM D, YYYY HH:mm:ss"),
            "error": "Last error",
        },
    )
    st.caption(
        "The first backend answers searches; the others are kept in sync as copies. The scheduler syncs "
        "every 30 seconds."
    )
    with st.form("index_action", border=True):
        st.markdown("**Run now**")
        b_col, a_col = st.columns(2)
        name = b_col.selectbox("Backend", names, key="ix_backend")
        action = a_col.radio(
            "Action", list(INDEX_ACTIONS), key="ix_action", horizontal=True, captions=list(INDEX_ACTIONS.values())
        )
        sure = st.checkbox(
            "Yes, clear and rebuild it (searches on it are incomplete until the push ends)", key="ix_sure"
        )
        go = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")
    if go:
        _run_index_action(rt, name, action, sure)


def _run_index_action(rt: Runtime, name: str, action: str, sure: bool) -> None:
    if action == "Rebuild" and not sure:
        st.warning("Tick the box to confirm the rebuild.", icon=":material/warning:")
        return
    bar = st.progress(0.0, text=f"{action}: {name}…")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0, text=f"{name}: {what} {done:,}/{total:,}")

    backend = make_backend(rt.settings, name)
    try:
        if action == "Sync now":
            report = sync_backend(runtime=rt, backend=backend, progress=progress)
            if report.skipped or report.error:
                raise SophiaError(report.skipped or report.error)
            done = (
                f"{report.upserted:,} upserted, {report.deleted:,} deleted"
                f"{' (full push)' if report.full_push else ''}; {report.pending:,} pending"
            )
        elif action == "Reconcile":
            fixed = reconcile(runtime=rt, backend=backend, progress=progress)
            done = (
                f"{len(fixed.missing):,} missing pushed, {len(fixed.extra):,} extra deleted, "
                f"{len(fixed.stale):,} of {fixed.checked:,} checked vectors stale"
            )
        else:
            rebuilt = rebuild(runtime=rt, backend=backend, progress=progress)
            done = f"{rebuilt.pushed:,} chunks pushed"
    except SophiaError as exc:
        bar.empty()
        st.error(f"{action} of {name} failed: {exc.message}", icon=":material/error:")
        return
    finally:
        backend.close()
    bar.progress(1.0, text=f"{action}: {name} done")
    st.success(f"{action} of {name}: {done}.", icon=":material/check_circle:")


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Admin",
        "Users, roles, API keys and the search index. Every change to users and keys is recorded in the audit log.",
    )
    me = require_role(rt, "admin", "admin")
    users, keys, index = st.tabs(["Users and roles", "API keys", "Search index"])
    with users:
        users_tab(rt, me)
    with keys:
        keys_tab(rt, me)
    with index:
        index_tab(rt)


main()
