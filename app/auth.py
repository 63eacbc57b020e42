"""The login gate: streamlit-authenticator's form and re-login cookie, backed by the users table.

streamlit-authenticator 0.4.2 keeps its state in ``st.session_state`` (``authentication_status``,
``username``, ``name``, ``logout``) and checks passwords itself with bcrypt against the hashes we
hand it. We hand it only *active* users, so a disabled user can neither sign in with the form nor
come back with an old cookie; and on every run the signed-in user is read again from the database,
so a user disabled or deleted mid-session is signed out and a changed role applies at once.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from app import ui
from core.auth import ROLE_RANK, Identity, get_user, list_users, record_sign_in
from core.db.models import User
from core.errors import NotFound
from core.runtime import Runtime

COOKIE_NAME = "sophia_auth"
# 0.4.2 reads its cookie from st.context.cookies, synchronously; its default 0.7 s pause before
# drawing the form would only slow down every signed-out run.
LOGIN_SLEEP_S = 0.0
LOGIN_FORM_KEY = "sophia_login"
LOGIN_FIELDS = {"Form name": "Sign in", "Username": "Username", "Password": "Password", "Login": "Sign in"}
WRONG_CREDENTIALS = "Wrong username or password."
INACTIVE = "Your account is no longer active. Ask an admin."


def _credentials(users: list[User]) -> dict:
    return {
        "usernames": {
            u.username: {
                "name": u.display_name or u.username,
                "email": u.email,
                "password": u.password_hash,  # bcrypt; verified as is (auto_hash=False)
                "roles": [u.role],
            }
            for u in users
            if u.active
        }
    }


def authenticator(runtime: Runtime) -> stauth.Authenticate:
    """One per script run (it draws the cookie component), holding the active users as they are now."""
    with runtime.session() as session:
        credentials = _credentials(list_users(session=session))
    return stauth.Authenticate(
        credentials,
        cookie_name=COOKIE_NAME,
        cookie_key=runtime.settings.derived_key("streamlit-sign-in-cookie"),
        cookie_expiry_days=runtime.settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=LOGIN_SLEEP_S,
    )


def _on_sign_in(runtime: Runtime):  # noqa: ANN202
    """Called by the library after a successful form sign-in (not on a cookie re-login)."""

    def record(info: dict) -> None:
        with runtime.session() as session:
            record_sign_in(session=session, username=info["username"])

    return record


def current_identity(runtime: Runtime) -> Identity | None:
    """The signed-in user of this session, read fresh from the database; None when nobody is signed
    in, or the user no longer exists or is disabled. Pages call this to check roles themselves."""
    username = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not username:
        return None
    with runtime.session() as session:
        try:
            user = get_user(session=session, username=username)
        except NotFound:
            return None
        if not user.active:
            return None
        return Identity(username=user.username, role=user.role, via="password")


def require_role(runtime: Runtime, role: str, page: str) -> Identity:
    """The signed-in user when they hold ``role`` (or a higher one); otherwise the page shows why it is
    closed to them and stops. Each page checks for itself: being left out of the navigation is not enough.
    A page for every role (``viewer``) is closed only to nobody signed in, and says just that."""
    me = current_identity(runtime)
    if me is None or not me.can(role):
        closed = "" if role == min(ROLE_RANK, key=ROLE_RANK.get) else f"The {page} page is for {role}s only. "
        who = f"You are signed in as {me.username} ({me.role})." if me else "Sign in first."
        st.error(closed + who, icon=":material/block:")
        st.stop()
    return me


def login_gate(runtime: Runtime, auth: stauth.Authenticate) -> Identity | None:
    """The signed-in identity; or None, with the sign-in form drawn (the caller stops the run)."""
    identity = current_identity(runtime)
    if identity is not None:
        return identity
    error = None
    if st.session_state.get("authentication_status"):
        auth.logout(location="unrendered")  # signed in earlier, disabled or deleted since
        error = INACTIVE
    return sign_in_form(runtime, auth, error=error)


def sign_in_form(runtime: Runtime, auth: stauth.Authenticate, *, error: str | None = None) -> Identity | None:
    """Draw the sign-in form; the identity once the form (or the re-login cookie) signs someone in."""
    _, middle, _ = st.columns([1, 1.1, 1])
    with middle:
        st.markdown(ui.brand_html(), unsafe_allow_html=True)
        try:
            auth.login(location="main", fields=LOGIN_FIELDS, key=LOGIN_FORM_KEY, callback=_on_sign_in(runtime))
        except LoginError as exc:
            # a valid cookie of a user who is no longer active: forget the cookie, show the form
            auth.cookie_controller.delete_cookie()
            st.session_state["logout"] = True  # the library's flag: do not read the cookie again
            error = INACTIVE if "not authorized" in str(exc).lower() else str(exc)
            auth.login(location="main", fields=LOGIN_FIELDS, key=LOGIN_FORM_KEY, callback=_on_sign_in(runtime))
        if st.session_state.get("authentication_status") is False:
            error = WRONG_CREDENTIALS
        if error:
            st.error(error, icon=":material/lock:")
        st.caption("Sophia is PayReady's internal operations platform. Ask an admin for an account.")
    return current_identity(runtime)


def sidebar_account(runtime: Runtime, identity: Identity, auth: stauth.Authenticate) -> Identity | None:
    """The signed-in user's name and role and the sign-out button, in the sidebar. Returns None (with
    the sign-in form drawn) when the user signs out in this run."""
    who, button = st.sidebar.empty(), st.sidebar.empty()
    if button.button("Sign out", key="sophia_logout", icon=":material/logout:", width="stretch"):
        # clears the session and deletes the cookie (its component is drawn in the main area,
        # outside the slots emptied here, so the browser still runs it)
        auth.logout(location="unrendered")
        who.empty()
        button.empty()
        return sign_in_form(runtime, auth)
    name = st.session_state.get("name") or identity.username
    who.markdown(ui.user_badge_html(name=name, username=identity.username, role=identity.role), unsafe_allow_html=True)
    return identity
