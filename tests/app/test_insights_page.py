"""The Insights page through AppTest on the small demo after a detection run: the feed with its reasons and
evidence, what a viewer may see and do, an analyst's acknowledge and snooze landing in the database, one
insight opened by ``?insight=``, the empty state's "Run detection", and the admin's insight settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import auth
from core.db.models import AuditLog, Insight, Meta
from core.insights import run_detection
from core.runtime import Runtime
from tests.app.apptest_env import ENTRY
from tests.conftest import ADMIN_PASSWORD

TIMEOUT = 60
INSIGHTS = "../pages/insights.py"


def signed_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, path: str = INSIGHTS, **params: str) -> AppTest:
    at.query_params.clear()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def user(rt: Runtime, name: str, role: str) -> str:
    with rt.session() as s:
        auth.create_user(session=s, username=name, role=role, password=f"{name}-password-1", actor="test")
    return f"{name}-password-1"


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def buttons(at: AppTest, label: str) -> list:
    return [b for b in at.button if b.label == label]


@pytest.fixture
def demo(app_db: Runtime) -> Runtime:
    from connectors.demo import load_demo

    load_demo(runtime=app_db, size="small", seed=42, as_of=datetime.now(UTC).date())
    # two types: their insights fit the feed's first page (20), so every one is on it
    result = run_detection(runtime=app_db, types=["deal_stalled", "onboarding_stuck"])
    assert result.created >= 3, result
    return app_db


def _rows(rt: Runtime) -> list[Insight]:
    with rt.session() as s:
        rows = list(s.scalars(select(Insight).order_by(Insight.severity_rank, Insight.last_seen.desc())))
        s.expunge_all()
        return rows


def test_the_feed_shows_each_insight_with_its_reasons_and_evidence(demo: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD))
    rows = _rows(demo)
    text = markdown(at)
    for row in rows:
        assert row.title.split(" has been")[0].replace("$", "\\$") in text, row.title
        for reason in row.reasons:
            assert reason.split(":")[0].split(" (")[0][:30] in text.replace("\\", ""), reason
    assert any(f"{len(rows)} insights" in c.value for c in at.caption)
    # the evidence opens records: by document when indexed, else by table and external id
    targets = [pl.proto.page for pl in at.get("page_link")]
    assert "record" in targets
    deal = next(r for r in rows if r.type == "deal_stalled")
    record_links = [pl for pl in at.get("page_link") if pl.proto.label.startswith("Deal ")]
    assert record_links, "each stalled deal's evidence links to the deal"
    assert any(deal.evidence[0]["external_id"] in pl.proto.query_string for pl in record_links)
    # account subjects and insights about an account link to the account page
    assert "account" in targets


def test_a_viewer_sees_no_admin_only_insight_and_cannot_act(demo: Runtime) -> None:
    rows = _rows(demo)
    hidden = rows[0]
    with demo.session() as s:
        s.get(Insight, hidden.id).min_role = "admin"
    at = open_page(signed_in("vera", user(demo, "vera", "viewer")))
    text = markdown(at)
    assert hidden.title.replace("$", "\\$") not in text
    assert any(r.title.replace("$", "\\$") in text for r in rows[1:])
    assert not buttons(at, "Acknowledge") and not buttons(at, "Resolve") and not buttons(at, "Snooze")
    assert any("Analysts and admins can acknowledge" in c.value for c in at.caption)
    # nor by its link
    open_page(at, insight=str(hidden.id))
    assert [e.value for e in at.error] == [f"No insight {hidden.id}: it does not exist, or your role cannot see it."]
    # the admin sees it
    admin = open_page(signed_in("admin", ADMIN_PASSWORD))
    assert hidden.title.replace("$", "\\$") in markdown(admin)


def test_an_analyst_acknowledges_then_snoozes(demo: Runtime) -> None:
    target = _rows(demo)[0]
    at = open_page(signed_in("ana", user(demo, "ana", "analyst")))
    at.button(key=f"ack_{target.id}").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Acknowledged: {target.title}"]
    with demo.session() as s:
        row = s.get(Insight, target.id)
        assert (row.status, row.acknowledged_by) == ("acknowledged", "ana")
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "insight.acknowledge")) == "ana"
    assert at.button(key=f"ack_{target.id}").disabled  # the card says it is acknowledged

    until = datetime.now(UTC).date() + timedelta(days=10)
    at.date_input(key=f"snooze_until_{target.id}").set_value(until)
    at.button(key=f"snooze_{target.id}").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Snoozed until {until:%b} {until.day}, {until.year}: {target.title}"]
    with demo.session() as s:
        row = s.get(Insight, target.id)
        assert row.snoozed_until is not None and row.snoozed_until.date() == until and row.snoozed_by == "ana"
    # gone from the open feed, found under "Snoozed"
    assert f"ack_{target.id}" not in [b.key for b in at.button]
    at.selectbox(key="i_status").select("snoozed").run()
    assert [b.key for b in at.button if b.key and b.key.startswith("resolve_")] == [f"resolve_{target.id}"]

    at.button(key=f"resolve_{target.id}").click().run()
    with demo.session() as s:
        assert s.get(Insight, target.id).status == "resolved"
        assert s.get(Insight, target.id).resolution == "person"


def test_a_link_opens_one_insight_expanded(demo: Runtime) -> None:
    target = _rows(demo)[-1]
    at = open_page(signed_in("admin", ADMIN_PASSWORD), insight=str(target.id))
    assert at.expander[0].proto.expanded and at.expander[0].label.startswith("Evidence")
    assert target.title.replace("$", "\\$") in at.markdown[2].value or "Opened from a link" in markdown(at)
    # drawn once, above the feed
    assert markdown(at).count(target.title.replace("$", "\\$")) == 1


def test_a_series_draws_its_chart(demo: Runtime) -> None:
    target = _rows(demo)[0]
    series = {"label": "Rent volume", "unit": "USD", "points": [["2026-07-01", 400000], ["2026-08-01", 231000]]}
    with demo.session() as s:
        s.get(Insight, target.id).details = {**target.details, "series": series}
    at = open_page(signed_in("admin", ADMIN_PASSWORD), insight=str(target.id))
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    assert '"y":[400000,231000]' in charts[0].proto.spec.replace(" ", "")


def test_no_insights_shows_the_empty_state_and_an_admin_runs_detection(app_db: Runtime) -> None:
    from connectors.demo import load_demo

    load_demo(runtime=app_db, size="small", seed=42, as_of=datetime.now(UTC).date())
    viewer = open_page(signed_in("vera", user(app_db, "vera", "viewer")))
    assert any("No insights yet" in m.value for m in viewer.markdown)
    assert not buttons(viewer, "Run detection")

    at = open_page(signed_in("admin", ADMIN_PASSWORD))
    assert any("No insights yet" in m.value for m in at.markdown)
    buttons(at, "Run detection")[0].click().run()
    assert not at.exception, at.exception
    assert at.success and at.success[0].value.startswith("Detection ran as of")
    assert not any("No insights yet" in m.value for m in at.markdown)
    with app_db.session() as s:
        assert s.scalar(select(Insight.id).limit(1)) is not None


def _save(at: AppTest, type_: str) -> None:
    next(b for b in at.button if b.label == "Save" and b.proto.form_id == f"is_form_{type_}").click().run()
    assert not at.exception, at.exception


def test_an_admin_changes_a_threshold(demo: Runtime) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    at.switch_page("../pages/admin.py").run()
    assert not at.exception, at.exception
    assert "Insight settings" in [t.label for t in at.tabs]
    at.number_input(key="is_deal_stalled_days").set_value(30)
    _save(at, "deal_stalled")
    assert [s.value for s in at.success] == ["Deal stalled: days = 30. Detection uses it from its next run."]
    at.checkbox(key="is_onboarding_stuck_enabled").uncheck()
    _save(at, "onboarding_stuck")
    assert [s.value for s in at.success] == ["Onboarding stuck: enabled = false. Detection uses it from its next run."]
    assert at.number_input(key="is_deal_stalled_days").value == 30  # the form shows what is in force
    with demo.session() as s:
        stored = s.get(Meta, "insights_config").value
        assert stored["deal_stalled"]["days"] == 30 and stored["onboarding_stuck"]["enabled"] is False
        actions = list(s.scalars(select(AuditLog).where(AuditLog.action == "insights.config")))
        assert {a.target for a in actions} == {"deal_stalled", "onboarding_stuck"} and {a.actor for a in actions} == {
            "admin"
        }
