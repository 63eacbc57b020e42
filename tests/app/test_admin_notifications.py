"""The Admin page's Notifications tab through AppTest: add a route, see it listed, disable and remove it (each
through core.notify, audited), and the delivery state of a channel Slack refuses."""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import AuditLog, Meta
from core.notify import list_routes
from core.notify.state import STATE_KEY
from tests.app.test_dashboard_apptest import _open_admin, signed_in
from tests.conftest import ADMIN_PASSWORD


def _routes(rt):
    with rt.session() as s:
        return list_routes(session=s)


def test_an_admin_adds_disables_and_removes_a_route(app_db) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("No Slack bot token" in i.value for i in at.info)
    at.text_input(key="nr_channel").input("C0SALES01")
    at.selectbox(key="nr_type").select("deal_stalled")
    at.selectbox(key="nr_severity").select("high")
    at.selectbox(key="nr_digest").select(0)
    next(b for b in at.button if b.label == "Add route").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (route,) = _routes(app_db)
    assert (route.channel, route.type, route.min_severity, route.digest_minutes) == (
        "C0SALES01",
        "deal_stalled",
        "high",
        0,
    )
    [frame] = [df.value for df in at.dataframe if "channel" in df.value.columns and "when" in df.value.columns]
    assert frame.iloc[0]["when"] == "At once"

    at.selectbox(key="nr_route").select(route.id)
    at.segmented_control(key="nr_action").set_value("Disable")
    at.button(key="nr_apply").click().run()
    assert [r.enabled for r in _routes(app_db)] == [False]
    at.selectbox(key="nr_route").select(route.id)
    at.segmented_control(key="nr_action").set_value("Remove")
    at.button(key="nr_apply").click().run()
    assert _routes(app_db) == []
    with app_db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.actor == "admin"))]
    assert {"notify.route.add", "notify.route.disable", "notify.route.remove"} <= set(actions)


def test_a_failing_channel_shows_with_its_error(app_db) -> None:
    with app_db.session() as s:
        s.add(
            Meta(
                key=STATE_KEY,
                value={"token": {"ok": True}, "channels": {"C0GONE": {"error": "channel_not_found", "error_at": None}}},
            )
        )
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    assert any("channel_not_found" in w.value for w in at.warning)
    [frame] = [df.value for df in at.dataframe if "error" in df.value.columns and "sent" in df.value.columns]
    row = frame.iloc[0].to_dict()
    assert (row["channel"], row["state"], row["error"]) == ("C0GONE", "failing", "channel_not_found")
