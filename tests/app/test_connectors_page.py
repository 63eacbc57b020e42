"""The Connectors page through AppTest, as an admin, against the fake HubSpot on 127.0.0.1: the role check,
adding a connector through the generated form (secret encrypted, errors naming the field), test connection,
run now with the run history, schedule changes, settings edits, quarantined records and delete.

The app reads its settings from the environment like in production; each test points it at its own
database, as tests/app/test_dashboard_apptest.py does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from connectors.registry import KINDS
from core import auth, pipelines
from core.crypto import SecretBox
from core.db import models as m
from core.pipelines import manage
from core.runtime import Runtime
from tests.app.test_dashboard_apptest import TIMEOUT, signed_in
from tests.conftest import ADMIN_PASSWORD
from tests.contract.fake_hubspot import EPOCH, FakeHubSpot, populate
from tests.contract.hubspot_utils import add_hubspot

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "pages" / "connectors.py"
PAGE_LINK = "../pages/connectors.py"
COMPANIES = 3
RECORDS = COMPANIES * (1 + 2 + 1 + 4)  # companies, 2 contacts each, a deal each, 4 engagements each
# small pages, no search lag, tiny backoff: fast runs (tests/contract/hubspot_utils.py's TEST_SETTINGS, typed)
FAST = {
    "page_size": 5,
    "search_lag_s": 0.0,
    "requests_per_10s": 1000,
    "search_requests_per_s": 100,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "max_attempts": 3,
}


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    hub = FakeHubSpot().start()
    populate(hub, companies=COMPANIES)
    yield hub
    hub.stop()


# ---- helpers ------------------------------------------------------------------------------


def open_page(tab: str | None = None) -> AppTest:
    at = signed_in("admin", ADMIN_PASSWORD)
    if tab:
        at.session_state["connectors_tab"] = tab
    at.switch_page(PAGE_LINK).run()
    assert not at.exception, at.exception
    return at


def go(at: AppTest, tab: str) -> AppTest:
    at.session_state["connectors_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def fill_add_form(at: AppTest, *, name: str, base_url: str, token: str, interval: int = 60, **settings) -> None:
    at.button_group(key="add_kind").set_value("hubspot").run()
    at.text_input(key="add_hubspot_name").input(name)
    at.number_input(key="add_hubspot_interval").set_value(interval)
    at.text_input(key="add_hubspot_f_token").input(token)
    at.text_input(key="add_hubspot_f_base_url").input(base_url)
    for field, value in settings.items():
        widget = at.text_area(key=f"add_hubspot_f_{field}") if field == "stage_map" else None
        if widget is None:
            try:
                widget = at.number_input(key=f"add_hubspot_f_{field}")
            except KeyError:
                widget = at.text_input(key=f"add_hubspot_f_{field}")
        widget.set_value(value)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


def shown_text(at: AppTest) -> str:
    """Everything the page shows as text (for checking that a secret is never shown back)."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "success", "error", "warning", "info", "text_input", "text_area")
        for e in getattr(at, kind)
    ]
    parts += [str(df.value.to_dict()) for df in at.dataframe]
    parts += [x.label for x in at.expander] + [x.label for x in at.status]
    return "\n".join(str(p) for p in parts)


def wait_for_sync(at: AppTest, timeout: float = 60) -> str:
    """Rerun until the sync started from the page has finished; its status label."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [s for s in at.status if s.state in ("complete", "error") and not s.label.startswith("Syncing")]
        if done:
            return done[0].label
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    raise AssertionError(f"the sync did not finish: {[s.label for s in at.status]}")


def table(at: AppTest, *columns: str):  # noqa: ANN201
    """The first table showing these columns (read-only tables carry no key in AppTest)."""
    found = [df.value for df in at.dataframe if set(columns) <= set(df.value.columns)]
    assert found, [list(df.value.columns) for df in at.dataframe]
    return found[0]


def db_row(rt: Runtime, name: str = "hs") -> m.ConfiguredConnector | None:
    with rt.session() as s:
        return s.scalar(select(m.ConfiguredConnector).where(m.ConfiguredConnector.name == name))


def fast_hubspot(rt: Runtime, fake: FakeHubSpot, **overrides: str) -> None:
    add_hubspot(rt, fake, **overrides)


# ---- who sees the page ----------------------------------------------------------------------


def test_the_page_is_for_admins_and_says_so_to_viewers(app_db: Runtime) -> None:
    at = open_page()
    assert at.title[0].value == "Connectors"
    assert any("No connectors yet" in md.value for md in at.markdown)  # the empty state says what to do first
    assert any("**Add connector**" in md.value for md in at.markdown)

    with app_db.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    viewer = signed_in("vera", "viewer-pass-1")
    viewer.switch_page(PAGE_LINK).run()  # opened by URL: out of her menu, but the page says why it is closed
    assert [e.value for e in viewer.error] == [
        "The connectors page is for admins only. You are signed in as vera (viewer)."
    ]
    # the page's own script, run as that viewer, refuses by itself
    page = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    page.session_state["authentication_status"] = True
    page.session_state["username"] = "vera"
    page.run()
    assert not page.exception
    assert len(page.error) == 1 and "for admins only" in page.error[0].value and "vera (viewer)" in page.error[0].value
    assert not page.text_input and not page.button and not page.tabs


# ---- add ------------------------------------------------------------------------------------


def test_an_admin_adds_a_connector_through_the_form(app_db: Runtime, fake: FakeHubSpot) -> None:
    at = open_page()
    labels = {w.label for w in [*at.text_input, *at.number_input, *at.text_area]}
    assert {"Name", "Token", "Base URL", "Page size", "Search lag (s)", "Stage map", "Timeout (s)"} <= labels
    token_box = at.text_input(key="add_hubspot_f_token")
    assert token_box.proto.type == token_box.proto.PASSWORD
    later = [k.label for k in KINDS.values() if not k.available]
    if later:  # the kinds not implemented yet are named, not offered
        assert any(c.value.startswith("Not yet available:") and all(x in c.value for x in later) for c in at.caption)
    assert at.button_group(key="add_kind").options == [k.label for k in KINDS.values() if k.available]

    fill_add_form(at, name="hs", base_url=fake.url, token=fake.token, interval=15, **FAST)
    click(at, "Add connector")

    assert errors(at) == []
    assert successes(at) == [
        f"Added HubSpot connector **hs** (token ••••{fake.token[-4:]}, base_url {fake.url}). "
        "Test the connection, then run it now or let the schedule pick it up."
    ]
    assert at.session_state["connectors_tab"] == "Manage" and at.selectbox(key="manage_connector").value == "hs"
    row = db_row(app_db)
    assert (row.kind, row.enabled, row.interval_minutes) == ("hubspot", True, 15)
    assert set(row.config["token"]) == {"$secret"} and fake.token not in json.dumps(row.config)
    assert row.config["page_size"] == 5 and row.config["base_url"] == fake.url
    assert "timeout_s" not in row.config  # a field left blank keeps its default
    cfg = pipelines.load_config(row=row, box=SecretBox.from_settings(app_db.settings), kinds=KINDS)
    assert cfg.token.get_secret_value() == fake.token and cfg.timeout_s == 30.0
    assert fake.token.encode() not in (app_db.settings.data_dir / "sophia.db").read_bytes()  # encrypted at rest
    with app_db.session() as s:
        assert s.scalar(select(m.AuditLog.actor).where(m.AuditLog.action == "connector.add")) == "admin"
    # and the token is never shown back: not on the page, not in the form's fields
    assert fake.token not in shown_text(at)
    assert fake.token not in shown_text(go(at, "Add a connector"))
    assert at.text_input(key="add_hubspot_f_token").value == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_url": "file:///etc/passwd"}, "**Base URL** (`base_url`): must be an http:// or https:// URL"),
        ({"token": ""}, "**Token** is required."),
        ({"name": "Bad Name"}, "connector name 'Bad Name': use 1-64 lowercase letters, digits, '-' or '_'"),
        ({"stage_map": '{"123": "nowhere"}'}, "**Stage map** (`stage_map`): unknown stage 'nowhere'; ours are"),
        ({"stage_map": "{not json"}, "**Stage map**: not valid JSON"),
    ],
)
def test_a_bad_value_shows_a_clear_error_and_stores_nothing(
    app_db: Runtime, fake: FakeHubSpot, change: dict, message: str
) -> None:
    at = open_page()
    values = {"name": "hs", "base_url": fake.url, "token": fake.token, **change}
    fill_add_form(at, **values)
    click(at, "Add connector")
    assert len(errors(at)) == 1 and errors(at)[0].startswith(message), errors(at)
    assert successes(at) == []
    with app_db.session() as s:
        assert pipelines.list_connectors(session=s) == []
        assert s.scalar(select(m.AuditLog).where(m.AuditLog.action == "connector.add")) is None
    # the form keeps what was typed, so the admin fixes the one field
    assert at.text_input(key="add_hubspot_name").value == values["name"]


def test_a_second_connector_with_a_taken_name_is_refused(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    at = open_page("Add a connector")
    fill_add_form(at, name="hs", base_url=fake.url, token=fake.token)
    click(at, "Add connector")
    assert errors(at) == ["a connector named 'hs' already exists"]


# ---- test connection, edit settings ------------------------------------------------------------


def test_test_connection_succeeds_against_the_fake_and_fails_clearly_with_a_wrong_token(
    app_db: Runtime, fake: FakeHubSpot
) -> None:
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    click(at, "Test connection")
    assert errors(at) == []
    assert successes(at)[0].startswith(f"Connection works: HubSpot at {fake.url} accepted the token")

    # a wrong token, typed into the settings form (the stored one is shown masked, never in full)
    token_box = at.text_input(key="edit_hs_token")
    assert token_box.value == "" and token_box.placeholder == f"••••{fake.token[-4:]} · leave blank to keep"
    token_box.input("pat-na1-wrong-token-0000")
    click(at, "Save settings")
    assert successes(at) == ["Saved the settings of hs (Token)."]
    click(at, "Test connection")
    assert successes(at) == []
    assert len(errors(at)) == 1 and errors(at)[0].startswith("Connection failed: HubSpot refused the credentials (401)")
    assert "pat-na1-wrong-token-0000" not in shown_text(at)


def test_settings_are_edited_with_a_blank_secret_kept(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake, units_property="units_managed")
    at = open_page("Manage")
    assert at.number_input(key="edit_hs_page_size").value == 5  # the stored "5", shown as a number
    at.number_input(key="edit_hs_page_size").set_value(20)
    at.text_area(key="edit_hs_stage_map").input('{"9911": "demo"}')
    at.text_input(key="edit_hs_units_property").input("")  # cleared: back to its default
    click(at, "Save settings")
    assert successes(at) == ["Saved the settings of hs (Page size, Stage map, Units property)."], errors(at)
    row = db_row(app_db)
    cfg = pipelines.load_config(row=row, box=SecretBox.from_settings(app_db.settings), kinds=KINDS)
    assert (cfg.page_size, cfg.stage_map, cfg.units_property) == (20, {"9911": "demo"}, None)
    assert cfg.token.get_secret_value() == fake.token
    with app_db.session() as s:
        audit = s.scalar(select(m.AuditLog).where(m.AuditLog.action == "connector.update"))
    assert audit.actor == "admin"
    assert audit.details == {"changed": ["page_size", "stage_map"], "reset": ["units_property"]}

    click(at, "Save settings")  # nothing changed since
    assert [i.value for i in at.info] == ["Nothing changed."]
    at.text_input(key="edit_hs_base_url").input("ftp://example.com")
    click(at, "Save settings")
    assert errors(at) == ["**Base URL** (`base_url`): must be an http:// or https:// URL"]
    assert db_row(app_db).config["base_url"] == fake.url


# ---- run now, history, quarantine ------------------------------------------------------------


def test_run_now_syncs_with_progress_and_the_history_shows_the_runs(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    fake.fail(path="/crm/v3/objects/contacts/search", hang=True)  # hold the sync after its first stream
    click(at, "Run now")
    assert fake.hanging.wait(30)
    at.run()
    running = [s for s in at.status if s.state == "running"]
    assert [s.label for s in running] == ["Syncing hs… companies: 3 of 3 records"]
    progress = at.get("progress")[0]
    assert progress.value == 14 and progress.proto.text.startswith("Stream 1 of 7")  # percent
    assert next(b for b in at.button if b.label == "Syncing…").disabled  # one sync of a connector at a time
    fake.recover()
    label = wait_for_sync(at)
    assert label == f"Synced hs: {RECORDS} read · {RECORDS} written · 0 quarantined · 0 deleted"
    result = table(at, "stream", "status", "read", "written", "deleted")
    assert list(result["stream"]) == ["companies", "contacts", "deals", "notes", "emails", "meetings", "calls"]
    assert list(result["written"]) == [3, 6, 3, 3, 3, 3, 3]
    with app_db.session() as s:
        runs = pipelines.list_runs(session=s, connector="hs")
    assert len(runs) == 7 and {r.status for r in runs} == {"succeeded"}

    go(at, "Run history")
    labels = [e.label for e in at.expander]
    assert len(labels) == 7
    assert any(" · hs · companies · :green[succeeded] — read 3 · written 3 · quarantined 0" in lb for lb in labels)
    assert any(" · hs · contacts · :green[succeeded] — read 6 · written 6 · quarantined 0" in lb for lb in labels)
    cursors = [j.value for j in at.json]
    assert any("since_ms" in c for c in cursors)  # the cursor after each run, on expand

    go(at, "Overview")
    overview = table(at, "name", "schedule", "state")
    assert list(overview["name"]) == ["hs"] and list(overview["state"]) == ["● ok"]
    streams = table(at, "stream", "entity", "state")
    assert list(streams["written"]) == [3, 6, 3, 3, 3, 3, 3] and set(streams["state"]) == {"● ok"}
    assert {mt.label: mt.value for mt in at.metric}["Streams ok"] == "7 of 7"

    click(at, "Dismiss")
    assert not at.status


def test_a_failing_sync_says_why_and_the_connector_shows_failing(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake, token="pat-na1-wrong-token-0000")
    at = open_page("Manage")
    click(at, "Run now")
    assert wait_for_sync(at) == "The sync of hs failed at stream companies"
    assert errors(at)[0].startswith("HubSpot refused the credentials (401)")
    go(at, "Run history")
    at.segmented_control(key="runs_show").set_value("Failed").run()
    assert [e.label.split(" · ", 1)[1] for e in at.expander] == [
        "hs · companies · :red[failed] — read 0 · written 0 · quarantined 0"
    ]
    assert errors(at)[0].startswith("HubSpot refused the credentials (401)")  # the run's error, on expand
    go(at, "Overview")
    assert list(table(at, "name", "schedule", "state")["state"]) == ["● failing"]
    failing = {mt.label: (mt.value, mt.delta) for mt in at.metric}["Failing"]
    assert failing == ("1", "hs")


def test_quarantined_records_appear_with_their_error_and_payload(app_db: Runtime, fake: FakeHubSpot) -> None:
    later = EPOCH + timedelta(days=400)
    bad_deal = fake.add("deals", {"amount": "1000", "dealstage": "closedwon"}, modified=later)
    bad_company = fake.add("companies", {"city": "Nowhere"}, modified=later)
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    click(at, "Run now")
    assert wait_for_sync(at).endswith(" · 2 quarantined · 0 deleted")

    go(at, "Run history")
    at.segmented_control(key="runs_show").set_value("With quarantined").run()
    assert sorted(e.label.split(" · ")[2] for e in at.expander) == ["companies", "deals"]
    assert all(":orange[quarantined " in e.label for e in at.expander)

    go(at, "Quarantine")
    labels = [e.label for e in at.expander]
    assert len(labels) == 2
    assert any(f" · hs · deals · {bad_deal} — " in lb and "deal has no dealname" in lb for lb in labels)
    assert any(f" · hs · companies · {bad_company} — " in lb for lb in labels)
    payloads = {j.value for j in at.json}
    assert any(json.loads(p)["id"] == bad_deal for p in payloads)
    assert {mt.label: mt.value for mt in at.metric}["Quarantined records"] == "2"


# ---- schedule and delete ----------------------------------------------------------------------


def test_disable_enable_and_interval_changes_persist(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    at.toggle(key="sched_enabled_hs").set_value(False)
    at.number_input(key="sched_interval_hs").set_value(15)
    click(at, "Save schedule")
    assert successes(at) == ["hs is disabled: it runs only when you press Run now."]
    row = db_row(app_db)
    assert (row.enabled, row.interval_minutes) == (False, 15)
    assert list(table(go(at, "Overview"), "name", "schedule", "state")["state"]) == ["● disabled"]

    go(at, "Manage")
    at.toggle(key="sched_enabled_hs").set_value(True)
    at.number_input(key="sched_interval_hs").set_value(120)
    click(at, "Save schedule")
    assert successes(at) == ["hs runs every 2 hours."]
    row = db_row(app_db)
    assert (row.enabled, row.interval_minutes) == (True, 120)
    with app_db.session() as s:
        actions = [a.action for a in s.scalars(select(m.AuditLog).where(m.AuditLog.action.like("connector.%")))]
    assert actions == [
        "connector.add",
        "connector.interval",
        "connector.disable",
        "connector.interval",
        "connector.enable",
    ]
    assert list(table(go(at, "Overview"), "name", "schedule", "state")["schedule"]) == ["every 2 hours"]


def test_delete_needs_the_name_typed_to_confirm(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    delete = next(b for b in at.button if b.label == "Delete hs")
    assert delete.disabled
    at.text_input(key="delete_confirm_hs").input("hs").run()
    click(at, "Delete hs")
    assert successes(at) == [
        "Deleted hs with 0 runs, 0 quarantined records and 0 saved cursors. The records it synced stay."
    ]
    assert db_row(app_db) is None
    assert any("No connectors yet" in md.value for md in at.markdown)  # back to the empty state


def test_a_connector_whose_settings_cannot_be_read_is_shown_not_fatal(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    fast_hubspot(app_db, fake, name="elsewhere", token="env:SOPHIA_HUBSPOT_NOT_SET")
    at = open_page()
    overview = table(at, "name", "schedule", "state")
    assert dict(zip(overview["name"], overview["state"], strict=True)) == {
        "elsewhere": "● failing",
        "hs": "● never run",
    }
    problem = "connector 'elsewhere' reads its token from SOPHIA_HUBSPOT_NOT_SET, which is not set"
    assert list(overview["last_error"]) == [problem, ""]
    assert any(problem in e for e in errors(at))  # in its (empty) stream list

    go(at, "Manage")
    assert at.selectbox(key="manage_connector").value == "elsewhere"
    click(at, "Test connection")
    assert errors(at)[0].startswith(f"Connection failed: {problem}")


def test_quarantined_records_are_taken_in_again_from_the_page(app_db: Runtime, fake: FakeHubSpot) -> None:
    later = EPOCH + timedelta(days=400)
    custom = fake.add("deals", {"dealname": "Custom", "dealstage": "9911"}, modified=later)
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    click(at, "Run now")
    assert wait_for_sync(at).endswith(" · 1 quarantined · 0 deleted")
    with app_db.session() as s:  # the admin adds the missing stage_map entry
        manage.update_settings(
            session=s,
            box=SecretBox.from_settings(app_db.settings),
            kinds=KINDS,
            name="hs",
            values={"stage_map.9911": "proposal"},
            actor="admin",
        )
    go(at, "Quarantine")
    click(at, "Take them in again")
    assert [x.value for x in at.success] == ["hs: 1 taken in, 0 superseded by newer data, 0 still failing"]
    with app_db.session() as s:
        assert s.scalar(select(m.Deal.stage).where(m.Deal.external_id == custom)) == "proposal"
        assert s.scalar(select(func.count()).select_from(m.QuarantinedRecord)) == 0


def test_the_manage_tab_shows_how_each_pipeline_stage_maps(app_db: Runtime, fake: FakeHubSpot) -> None:
    """Finding 11: a portal's second pipeline (numeric stage ids) is mapped from its own metadata, and the
    admin sees the mapping, where each stage came from, before any deal is quarantined."""
    fast_hubspot(app_db, fake)
    at = open_page("Manage")
    click(at, "Read the pipelines")
    assert errors(at) == [] and not at.warning
    rows = table(at, "pipeline", "stage_id", "ours", "from")
    renewals = rows[rows["pipeline"] == "Renewals & Expansion"]
    assert len(renewals) and set(renewals["from"]) == {"inferred"} and "—" not in set(renewals["ours"])
    assert set(rows[rows["pipeline"] != "Renewals & Expansion"]["from"]) == {"vendor default"}


def test_the_stage_mapping_says_plainly_when_the_crm_cannot_be_reached(app_db: Runtime, fake: FakeHubSpot) -> None:
    fast_hubspot(app_db, fake)
    fake.stop()
    at = open_page("Manage")
    click(at, "Read the pipelines")
    [shown] = errors(at)
    assert shown.startswith("Could not read the pipelines: could not reach HubSpot"), shown
