"""Connectors: the sources Sophia syncs from. Add one (a form generated from its kind's settings model),
test it, schedule it, run it now with progress, edit or delete it; watch every stream's health, the run
history and the quarantined records.

Layout only: the tabs live in ``pages/connector_tabs/``, the form engine in ``app.forms``, the background
runner in ``app.background``. Everything goes through ``core.pipelines`` with the signed-in admin as the actor
(core validates, encrypts secrets and audits). A sync started here runs in a background thread of the app
server, so the page keeps answering while it runs and its progress shows on every admin's page. The page
checks the role itself.
"""

from __future__ import annotations

import streamlit as st

from app import ui
from app.auth import require_role
from connectors.registry import KINDS
from core.crypto import SecretBox
from core.pipelines import manage
from pages.connector_tabs.add import add_section
from pages.connector_tabs.common import TAB_KEY
from pages.connector_tabs.history import history_tab, quarantine_tab
from pages.connector_tabs.manage import manage_tab
from pages.connector_tabs.overview import kpis, overview_tab
from pages.connector_tabs.sync import sync_area

TABS = ["Overview", "Manage", "Add a connector", "Run history", "Quarantine"]
EMPTY_BODY = (
    "Connect the first source Sophia should read from: choose its kind below, give it a name and its "
    "credentials (stored encrypted), and press **Add connector**. Then **Test connection** and **Run now**; "
    "from there it syncs on its own at the interval you set."
)


def main() -> None:
    rt = ui.runtime()
    ui.page_header(
        "Connectors",
        "The sources Sophia syncs from: add, test, schedule and run them, and watch "
        "their health. Every change is recorded in the audit log.",
    )
    me = require_role(rt, "admin", "connectors")
    box = SecretBox.from_settings(rt.settings)
    statuses = manage.connector_statuses(runtime=rt, kinds=KINDS)
    names = [c.name for c in statuses]
    if not statuses:
        ui.show_flash("manage")  # e.g. the last connector was just deleted
        ui.empty_state("No connectors yet", EMPTY_BODY)
        add_section(rt, me, box, set())
        return
    kpis(statuses)
    sync_area(rt)
    overview, manage_, add, history, quarantine = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    # a closed tab's body does not run (``open`` is None when Streamlit cannot tell: then it runs)
    with overview:
        if overview.open is not False:
            overview_tab(statuses)
    with manage_:
        if manage_.open is not False:
            manage_tab(rt, me, box, statuses)
    with add:
        if add.open is not False:
            add_section(rt, me, box, set(names))
    with history:
        if history.open is not False:
            history_tab(rt, names)
    with quarantine:
        if quarantine.open is not False:
            quarantine_tab(rt, me, names)


main()
