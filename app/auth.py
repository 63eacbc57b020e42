"""The login gate: our sign-in form, and streamlit-authenticator's re-login cookie, over the users table.

The form checks passwords through ``core.auth.authenticate``, like the API's ``/auth/token``: the same
bcrypt cost for an unknown username, and the same throttle (failures counted per username and per
address in the shared cache, a wait shown on the form). streamlit-authenticator 0.4.2 keeps the session
in ``st.session_state`` (``authentication_status``, ``username``, ``name``, ``logout``) and brings a
user back from its cookie. We write that cookie ourselves, as a token of ``core.auth`` (it carries the
user's token version) in the library's shape (``username``, ``exp_date``), and check it before the
library reads it: after a password change or a disable, the cookie no longer signs anyone in. We hand
the library only *active* users; on every run the signed-in user is read again from the database, so a
user disabled or deleted mid-session, or whose password changed, is signed out, and a changed role
applies at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities import LoginError

from app import ui
from core.auth import (
    ROLE_RANK,
    Identity,
    LoginThrottle,
    authenticate,
    get_user,
    identity_from_token,
    issue_token,
    list_users,
    record_sign_in,
)
from core.bus import make_cache
from core.config import Settings
from core.db.models import User
from core.errors import AuthError, NotFound, RateLimited
from core.runtime import Runtime

COOKIE_NAME = "sophia_auth"
COOKIE_PURPOSE = "streamlit-sign-in-cookie"  # the cookie's signing key is derived for this purpose
VERSION_KEY = "sophia_token_version"  # the token version this session signed in under
ERROR_KEY = "sophia_sign_in_error"
# 0.4.2 reads its cookie from st.context.cookies, synchronously; its default 0.7 s pause before
# drawing the form would only slow down every signed-out run.
LOGIN_SLEEP_S = 0.0
LOGIN_FORM_KEY = "sophia_login"
LOGIN_FIELDS = {"Form name": "Sign in", "Username": "Username", "Password": "Password", "Login": "Sign in"}
WRONG_CREDENTIALS = "Wrong username or password."
INACTIVE = "Your account is no longer active. Ask an admin."
SESSION_ENDED = "Your password or access changed. Sign in again."


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
        cookie_key=runtime.settings.derived_key(COOKIE_PURPOSE),
        cookie_expiry_days=runtime.settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=LOGIN_SLEEP_S,
    )


@st.cache_resource(show_spinner=False)
def _throttle(data_dir: str, redis_url: str | None, _settings: Settings) -> LoginThrottle:
    """One per installation and process (the counts themselves live in the shared cache)."""
    return LoginThrottle(make_cache(_settings))


def throttle(runtime: Runtime) -> LoginThrottle:
    settings = runtime.settings
    return _throttle(str(settings.data_dir), settings.redis_url, settings)


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
        # a session that recorded no version signed in before any change (version 0)
        if not user.active or st.session_state.get(VERSION_KEY, 0) != user.token_version:
            return None  # disabled, or the password changed since this session signed in
        return Identity(username=user.username, role=user.role, via="password", token_version=user.token_version)


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
        error = _why_signed_out(runtime)
        auth.logout(location="unrendered")  # signed in earlier; disabled, deleted or password changed since
    return sign_in_form(runtime, auth, error=error)


def _why_signed_out(runtime: Runtime) -> str:
    with runtime.session() as session:
        try:
            active = get_user(session=session, username=st.session_state.get("username") or "").active
        except NotFound:
            active = False
    return SESSION_ENDED if active else INACTIVE


def sign_in_form(runtime: Runtime, auth: stauth.Authenticate, *, error: str | None = None) -> Identity | None:
    """Draw the sign-in form; the identity once the form (or the re-login cookie) signs someone in."""
    error = _from_cookie(runtime, auth) or error
    if error is None and current_identity(runtime) is not None:
        return current_identity(runtime)  # back from the cookie: straight to the page, no sign-in frame drawn
    _, middle, _ = st.columns([1, 1.1, 1])
    with middle:
        st.markdown(ui.brand_html(), unsafe_allow_html=True)
        if current_identity(runtime) is None:
            _form(runtime, auth)
            if st.session_state.get("authentication_status") is False:
                error = st.session_state.get(ERROR_KEY) or WRONG_CREDENTIALS
        if error:
            st.error(error, icon=":material/lock:")
        st.caption("Sophia is PayReady's internal operations platform. Ask an admin for an account.")
    return current_identity(runtime)


def _from_cookie(runtime: Runtime, auth: stauth.Authenticate) -> str | None:
    """Sign in from the re-login cookie when it is still good: ours, unexpired, and of the user's current
    token version. A stale cookie is deleted and the library told not to read it."""
    raw = st.context.cookies.get(COOKIE_NAME)
    if not raw or st.session_state.get("logout") or st.session_state.get("authentication_status"):
        return None
    try:
        with runtime.session() as session:
            identity = identity_from_token(
                session=session, settings=runtime.settings, token=raw, purpose=COOKIE_PURPOSE
            )
    except AuthError:
        _forget_cookie(auth)
        return None
    st.session_state[VERSION_KEY] = identity.token_version
    try:
        auth.login(location="unrendered")  # the library signs the session in from the cookie we checked
    except LoginError as exc:  # its user is not among the active ones handed to the library
        _forget_cookie(auth)
        return INACTIVE if "not authorized" in str(exc).lower() else str(exc)
    return None


def _forget_cookie(auth: stauth.Authenticate) -> None:
    auth.cookie_controller.delete_cookie()
    st.session_state["logout"] = True  # the library's flag: do not read the cookie again


def _form(runtime: Runtime, auth: stauth.Authenticate) -> None:
    with st.form(LOGIN_FORM_KEY):
        st.subheader(LOGIN_FIELDS["Form name"])
        username = st.text_input(LOGIN_FIELDS["Username"], autocomplete="username")
        password = st.text_input(LOGIN_FIELDS["Password"], type="password", autocomplete="current-password")
        submitted = st.form_submit_button(LOGIN_FIELDS["Login"])
    if not submitted:
        return
    try:
        identity = _check_password(runtime, username, password)
    except (AuthError, RateLimited) as exc:
        st.session_state["authentication_status"] = False
        st.session_state[ERROR_KEY] = wait_message(exc.retry_after_s) if isinstance(exc, RateLimited) else None
        return
    _signed_in(runtime, auth, identity)


def wait_message(seconds: int) -> str:
    wait = f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"
    return f"Too many failed sign-ins. Try again in {wait}."


def _check_password(runtime: Runtime, username: str, password: str) -> Identity:
    with runtime.session() as session:
        identity = authenticate(
            session=session,
            username=username,
            password=password,
            throttle=throttle(runtime),
            address=_client_address(),
        )
        record_sign_in(session=session, username=identity.username)
        user = get_user(session=session, username=identity.username)
        st.session_state.update(name=user.display_name or user.username, email=user.email, roles=[user.role])
    return identity


def _client_address() -> str | None:
    """The browser's address; None on localhost (the username's own count still applies)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def _signed_in(runtime: Runtime, auth: stauth.Authenticate, identity: Identity) -> None:
    """The session state the library keeps for a signed-in user, and the re-login cookie."""
    st.session_state.update(
        {"authentication_status": True, "username": identity.username, VERSION_KEY: identity.token_version}
    )
    st.session_state.pop(ERROR_KEY, None)
    if runtime.settings.cookie_expiry_days:
        token, expires = relogin_cookie(runtime, identity)
        auth.cookie_controller.cookie_model.cookie_manager.set(COOKIE_NAME, token, expires_at=expires)


def relogin_cookie(runtime: Runtime, identity: Identity) -> tuple[str, datetime]:
    """The re-login cookie's value and expiry: a token of ``core.auth`` (with the user's token version) in
    the shape streamlit-authenticator reads (``username``, and ``exp_date`` in naive local time)."""
    days = runtime.settings.cookie_expiry_days
    expires = datetime.now() + timedelta(days=days)
    token = issue_token(
        settings=runtime.settings,
        identity=identity,
        purpose=COOKIE_PURPOSE,
        ttl=timedelta(days=days),
        extra={"username": identity.username, "exp_date": expires.timestamp()},
    )
    return token, expires


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
