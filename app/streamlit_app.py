"""Sophia's Streamlit entry point: page config, the sign-in gate, the sidebar and the navigation.

Run with ``streamlit run app/streamlit_app.py`` (``sophia up`` does). The pages live in the top-level
``pages/`` folder, a sibling of ``app/``, and are registered here with ``st.navigation``; pages only
lay out what ``core`` computes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/streamlit_app.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import ui  # noqa: E402
from app.auth import authenticator, login_gate, sidebar_account  # noqa: E402

PAGES_DIR = ROOT / "pages"

st.set_page_config(page_title="Sophia · PayReady", page_icon="◆", layout="wide", initial_sidebar_state="expanded")
ui.inject_css()

runtime = ui.runtime()
auth = authenticator(runtime)
identity = login_gate(runtime, auth)
if identity is not None:
    identity = sidebar_account(runtime, identity, auth)

# Admin pages are registered for everyone, in the menu only for admins: a viewer who opens /admin by URL
# sees the page say it is for admins (it checks the role itself) rather than "Page not found".
admin_menu = "visible" if identity is not None and identity.can("admin") else "hidden"
dashboard = st.Page(PAGES_DIR / "dashboard.py", title="Dashboard", icon=":material/monitoring:", default=True)
admin = st.Page(PAGES_DIR / "admin.py", title="Admin", icon=":material/admin_panel_settings:", visibility=admin_menu)
search = st.Page(PAGES_DIR / "search.py", title="Search", icon=":material/search:")
chat = st.Page(PAGES_DIR / "chat.py", title="Chat", icon=":material/forum:", url_path="chat")
insights = st.Page(
    PAGES_DIR / "insights.py", title="Insights", icon=":material/notifications_active:", url_path="insights"
)
agents = st.Page(PAGES_DIR / "agents.py", title="Agents", icon=":material/smart_toy:", visibility=admin_menu)
connectors = st.Page(PAGES_DIR / "connectors.py", title="Connectors", icon=":material/cable:", visibility=admin_menu)
monitoring = st.Page(
    PAGES_DIR / "monitoring.py", title="Monitoring", icon=":material/vital_signs:", visibility=admin_menu
)
# opened from search results (?doc=<id>), not from the menu
record = st.Page(
    PAGES_DIR / "record.py", title="Record", icon=":material/description:", url_path="record", visibility="hidden"
)
# opened from any account name (?account=<external id>), not from the menu
account = st.Page(
    PAGES_DIR / "account.py", title="Account", icon=":material/domain:", url_path="account", visibility="hidden"
)
pages = [dashboard, chat, insights, search, admin, agents, connectors, monitoring, record, account]

if identity is None:
    # Signed out, the form is drawn above. The pages stay registered (a deep link keeps its URL for
    # after sign-in instead of "page not found") but hidden, and none of them runs.
    st.set_page_config(initial_sidebar_state="collapsed")
    st.navigation(pages, position="hidden")
    st.stop()

st.navigation(pages).run()
