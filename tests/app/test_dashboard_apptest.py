"""The Streamlit app through AppTest: sign-in, the dashboard's numbers against direct SQL on the small
demo, the admin page's role check, and admin actions landing in the database.

The app reads its settings from the environment like in production; each test points it at its
own database (SOPHIA_DATA_DIR / SOPHIA_SECRET_KEY) and clears the process-wide caches.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from core import auth
from core.db.models import AuditLog, User
from core.errors import AuthError
from core.runtime import Runtime, open_runtime, prepare
from tests.app.apptest_env import ENTRY, ROOT, point_app_at, reset_app_caches
from tests.conftest import ADMIN_PASSWORD, make_settings

ADMIN_PAGE = ROOT / "pages" / "admin.py"
TIMEOUT = 60
MetricColor = MetricProto.MetricColor


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_runtime(tmp_path_factory) -> Runtime:
    """The small demo as of today, loaded once for the read-only tests of this module."""
    from connectors.demo import load_demo

    rt = open_runtime(make_settings(tmp_path_factory.mktemp("demo")))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=42, as_of=datetime.now(UTC).date())
    yield rt
    rt.engine.dispose()


@pytest.fixture
def demo_app(demo_runtime, monkeypatch) -> Runtime:
    point_app_at(monkeypatch, demo_runtime)
    yield demo_runtime
    reset_app_caches()


# ---- helpers ------------------------------------------------------------------------------


def signed_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return sign_in(at, username, password)


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    user_box, password_box = at.text_input[0], at.text_input[1]
    assert (user_box.label, password_box.label) == ("Username", "Password")
    user_box.input(username)
    password_box.input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def metrics_shown(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def metric(at: AppTest, prefix: str) -> tuple[str, str]:
    found = [v for label, v in metrics_shown(at).items() if label.startswith(prefix)]
    assert len(found) == 1, (prefix, metrics_shown(at))
    return found[0]


UNITS = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}


def assert_money(shown: str, expected: float) -> None:
    """'$1.2M' matches `expected` to the precision shown."""
    m = re.fullmatch(r"(-?)\$([\d,]+(?:\.\d+)?)([KMB]?)", shown)
    assert m, shown
    number = float(m[2].replace(",", ""))
    unit = UNITS[m[3]]
    if "." in m[2]:
        tol = 0.5 * 10 ** -len(m[2].split(".")[1])
    else:  # "$12K" is 12.0K with the ".0" dropped; "$312K" has no decimals
        tol = 0.05 if (m[3] and number < 100) else 0.5
    value = -number if m[1] else number
    assert abs(value * unit - expected) <= tol * unit + 1e-9, (shown, expected)


def assert_pct(shown: str, expected: float | None) -> None:
    if expected is None:
        assert shown == "—"
        return
    assert shown.endswith("%"), shown
    assert abs(float(shown[:-1]) - expected * 100) <= 0.05 + 1e-9, (shown, expected)


def add_months(d: date, n: int) -> date:
    i = d.year * 12 + d.month - 1 + n
    return date(i // 12, i % 12 + 1, 1)


def sql_one(rt: Runtime, sql: str, **params):  # noqa: ANN003, ANN201
    with rt.engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def sql_all(rt: Runtime, sql: str, **params):  # noqa: ANN003, ANN201
    with rt.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def ts(day: date) -> str:
    """A UTC midnight the way SQLite stores our timestamps (naive UTC text)."""
    return f"{day.isoformat()} 00:00:00"


FORECAST_SQL = """
SELECT COALESCE(SUM(amount * CASE stage
    WHEN 'lead' THEN 0.05 WHEN 'qualified' THEN 0.10 WHEN 'discovery' THEN 0.20 WHEN 'demo' THEN 0.35
    WHEN 'proposal' THEN 0.55 WHEN 'negotiation' THEN 0.75 ELSE 0 END), 0), COUNT(*)
FROM deals WHERE stage NOT IN ('closed_won', 'closed_lost') AND close_date >= :start AND close_date <= :end
"""
MRR_SQL = """
SELECT account_id, SUM(amount) FROM invoices
WHERE kind = 'subscription' AND status <> 'void' AND account_id IS NOT NULL
  AND period_start >= :start AND period_start < :end
GROUP BY account_id
"""


def expected_numbers(rt: Runtime, as_of: date, owner: str | None = None) -> dict[str, float]:
    """The KPI row computed with plain SQL, independently of core.metrics."""
    acct = "AND owner = :owner" if owner else ""
    p = {"owner": owner} if owner else {}
    last = add_months(as_of.replace(day=1), -1)
    base = add_months(last, -12)
    out: dict[str, float] = {}
    out["arr"] = sql_one(rt, f"SELECT COALESCE(SUM(arr), 0) FROM accounts WHERE lifecycle_stage = 'live' {acct}", **p)[
        0
    ]

    def mrr(month: date) -> dict[int, float]:
        scoped = (
            MRR_SQL.replace("GROUP BY", "AND account_id IN (SELECT id FROM accounts WHERE owner = :owner) GROUP BY")
            if owner
            else MRR_SQL
        )
        rows = sql_all(rt, scoped, start=month.isoformat(), end=add_months(month, 1).isoformat(), **p)
        return {a: float(v) for a, v in rows if v > 0}

    then, now = mrr(base), mrr(last)
    out["nrr"] = sum(now.get(a, 0) for a in then) / sum(then.values()) if then else None
    out["logo_churn"] = sum(1 for a in then if a not in now) / len(then) if then else None
    fc_sql = FORECAST_SQL + ("AND owner = :owner" if owner else "")
    out["forecast"], out["forecast_deals"] = sql_one(
        rt, fc_sql, start=as_of.isoformat(), end=(as_of + timedelta(days=90)).isoformat(), **p
    )
    rent_scope = "AND account_id IN (SELECT id FROM accounts WHERE owner = :owner)" if owner else ""
    volume, payments, failed = sql_one(
        rt,
        "SELECT COALESCE(SUM(volume), 0), COALESCE(SUM(payments_count), 0), COALESCE(SUM(failed_count), 0) "
        f"FROM rent_payment_volumes WHERE month >= :start AND month < :end {rent_scope}",
        start=last.isoformat(),
        end=add_months(last, 1).isoformat(),
        **p,
    )
    out["rent_volume"], out["rent_success"] = volume, (1 - failed / payments if payments else None)
    inv_scope = "AND account_id IN (SELECT id FROM accounts WHERE owner = :owner)" if owner else ""
    out["overdue_count"], out["overdue_amount"] = sql_one(
        rt,
        f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM invoices WHERE status = 'open' AND due_on < :d {inv_scope}",
        d=as_of.isoformat(),
        **p,
    )
    call_scope = "AND owner = :owner" if owner else ""
    out["calls"] = sql_one(
        rt,
        f"SELECT COUNT(*) FROM calls WHERE started_at >= :start AND started_at < :end {call_scope}",
        start=ts(as_of - timedelta(days=6)),
        end=ts(as_of + timedelta(days=1)),
        **p,
    )[0]
    out["stuck"] = sql_one(
        rt,
        f"SELECT COUNT(*) FROM accounts WHERE lifecycle_stage = 'onboarding' AND stage_changed_at < :cutoff {acct}",
        cutoff=ts(as_of - timedelta(days=45)),
        **p,
    )[0]
    return out


def assert_kpis_match(at: AppTest, exp: dict[str, float]) -> None:
    assert_money(metric(at, "Current ARR")[0], exp["arr"])
    assert_pct(metric(at, "Net revenue retention")[0], exp["nrr"])
    assert_pct(metric(at, "Logo churn")[0], exp["logo_churn"])
    value, delta = metric(at, "Weighted forecast")
    assert_money(value, exp["forecast"])
    assert re.match(rf"{exp['forecast_deals']} deals? ", delta), delta
    value, delta = metric(at, "Rent volume")
    assert_money(value, exp["rent_volume"])
    if exp["rent_success"] is not None:
        assert_pct(delta.split(" ")[0], exp["rent_success"])
    value, delta = metric(at, "Overdue invoices")
    assert_money(value, exp["overdue_amount"])
    if exp["overdue_count"]:
        assert re.match(rf"{exp['overdue_count']} invoices? ", delta), delta
    assert metric(at, "Calls this week")[0] == f"{exp['calls']:,}"
    assert metric(at, "Stuck onboardings")[0] == f"{exp['stuck']:,}"


# ---- sign-in ------------------------------------------------------------------------------


def test_wrong_password_is_refused_at_the_form(app_db) -> None:
    at = signed_in("admin", "not-the-password")
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert not at.metric and at.session_state["authentication_status"] is False
    assert any(b.label == "Sign in" for b in at.button)  # the form is still there
    # and the right password then works in the same session
    sign_in(at, "admin", ADMIN_PASSWORD)
    assert not at.error and at.session_state["authentication_status"] is True


def test_a_disabled_user_cannot_sign_in(app_db) -> None:
    with app_db.session() as s:
        auth.create_user(session=s, username="gone", role="viewer", password="gone-password-1", actor="test")
        auth.get_user(session=s, username="gone").active = False
    at = signed_in("gone", "gone-password-1")
    assert [e.value for e in at.error] == ["Wrong username or password."]


def test_a_user_disabled_mid_session_is_signed_out(app_db) -> None:
    with app_db.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    at = signed_in("vera", "viewer-pass-1")
    assert at.session_state["authentication_status"] is True
    with app_db.session() as s:
        auth.get_user(session=s, username="vera").active = False
    at.run()
    assert [e.value for e in at.error] == ["Your account is no longer active. Ask an admin."]
    assert at.session_state["authentication_status"] is None and not at.sidebar.button


def test_a_role_change_applies_on_the_next_run(app_db) -> None:
    with app_db.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    at = signed_in("vera", "viewer-pass-1")
    with app_db.session() as s:
        auth.set_role(session=s, username="vera", role="admin", actor="admin")
    at.run()
    _open_admin(at)  # registered for her now
    assert at.text_input(key="new_username")


def test_an_empty_database_shows_the_empty_state(app_db) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    assert not at.metric
    assert any("sophia demo load" in m.value for m in at.markdown)
    # the sidebar names the user and their role, with a sign-out button
    assert any("Administrator" in m.value and "admin" in m.value for m in at.sidebar.markdown)
    assert [b.label for b in at.sidebar.button] == ["Sign out"]


def test_sign_out_returns_to_the_form(app_db) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.session_state["authentication_status"] is None
    assert any(b.label == "Sign in" for b in at.button) and not at.metric


# ---- the dashboard on the small demo --------------------------------------------------------


def test_dashboard_numbers_match_sql_on_the_demo(demo_app) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    as_of = datetime.now(UTC).date()
    assert len(at.metric) == 8, metrics_shown(at)
    exp = expected_numbers(demo_app, as_of)
    assert exp["arr"] > 0 and exp["calls"] > 0 and exp["stuck"] > 0  # the demo gives every card something
    assert_kpis_match(at, exp)
    # the tables list what the cards count
    frames = {df.value.shape[0] for df in at.dataframe}
    assert exp["stuck"] in frames and exp["overdue_count"] in frames


def test_dashboard_owner_filter_matches_sql(demo_app) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    as_of = datetime.now(UTC).date()
    owner = sql_one(
        demo_app,
        "SELECT owner FROM accounts WHERE lifecycle_stage = 'live' AND owner IS NOT NULL "
        "GROUP BY owner ORDER BY COUNT(*) DESC, owner LIMIT 1",
    )[0]
    at.selectbox(key="filter_owner").set_value(owner).run()
    assert not at.exception
    exp = expected_numbers(demo_app, as_of, owner=owner)
    assert exp["arr"] < expected_numbers(demo_app, as_of)["arr"]
    assert_kpis_match(at, exp)


def test_dashboard_period_changes_the_forecast(demo_app) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    as_of = datetime.now(UTC).date()
    at.button_group(key="filter_period").set_value(365).run()
    assert not at.exception
    value, delta = metric(at, "Weighted forecast")
    amount, deals = sql_one(
        demo_app, FORECAST_SQL, start=as_of.isoformat(), end=(as_of + timedelta(days=365)).isoformat()
    )
    assert_money(value, amount)
    assert re.match(rf"{deals} deals? ", delta), delta


def _card(at: AppTest, prefix: str):  # noqa: ANN202
    (card,) = [m for m in at.metric if m.label.startswith(prefix)]
    return card


def test_nrr_and_churn_show_their_trend_and_whether_it_is_good(demo_app) -> None:
    """Finding 19: each ratio against the previous month, green when it got better (NRR up, churn down)."""
    at = signed_in("admin", ADMIN_PASSWORD)
    as_of = datetime.now(UTC).date()
    now, before = expected_numbers(demo_app, as_of), expected_numbers(demo_app, add_months(as_of.replace(day=1), -1))
    previous = add_months(as_of.replace(day=1), -2)
    for prefix, key, good_when_up in (("Net revenue retention", "nrr", True), ("Logo churn", "logo_churn", False)):
        card = _card(at, prefix)
        points = round((now[key] - before[key]) * 100, 1)
        assert card.delta == (f"{points:+.1f} pts" if points else "0.0 pts"), (prefix, card.delta)
        assert card.proto.delta_description == f"vs {previous:%b %Y}"
        better = points > 0 if good_when_up else points < 0
        assert card.proto.color == (MetricColor.GREEN if better else MetricColor.RED if points else MetricColor.GRAY)
        assert len(card.proto.chart_data) == 6 and card.proto.chart_data[-1] == pytest.approx(now[key])


def test_each_arr_and_weighted_figure_says_what_it_is(demo_app) -> None:
    """Finding 19: the CRM's ARR on the card and billed ARR on the chart; the forecast window and all open deals."""
    at = signed_in("admin", ADMIN_PASSWORD)
    arr = _card(at, "Current ARR")
    assert "CRM" in arr.label and "live customers in the CRM" in arr.help and "billed ARR" in arr.help
    assert arr.proto.delta_description.startswith("billed $")
    assert "whatever its close date" in _card(at, "Weighted forecast").help
    captions = " ".join(c.value for c in at.caption)
    assert "Every open deal in the CRM, any close date" in captions
    assert "ARR line: billed, 12 × the MRR of subscription invoices" in captions


# ---- roles and the admin page -------------------------------------------------------------


def test_a_viewer_has_no_admin_page(app_db) -> None:
    with app_db.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    at = signed_in("vera", "viewer-pass-1")
    assert any("vera" in m.value and "viewer" in m.value for m in at.sidebar.markdown)
    # opened by URL (registered, out of the menu): each admin page says it is for admins, not "page not found"
    for path, name in (("../pages/admin.py", "admin"), ("../pages/connectors.py", "connectors")):
        at.switch_page(path).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] == [
            f"The {name} page is for admins only. You are signed in as vera (viewer)."
        ], at.error
        assert not at.text_input and not at.dataframe and not at.tabs

    # opening the page's script directly, as that viewer: the page refuses by itself
    page = AppTest.from_file(str(ADMIN_PAGE), default_timeout=TIMEOUT)
    page.session_state["authentication_status"] = True
    page.session_state["username"] = "vera"
    page.run()
    assert not page.exception
    assert len(page.error) == 1 and "for admins only" in page.error[0].value and "vera (viewer)" in page.error[0].value
    assert not page.text_input and not page.dataframe and not page.tabs


def test_the_admin_page_refuses_without_a_session(app_db) -> None:
    page = AppTest.from_file(str(ADMIN_PAGE), default_timeout=TIMEOUT).run()
    assert "for admins only" in page.error[0].value and not page.text_input


def _open_admin(at: AppTest) -> AppTest:
    at.switch_page("../pages/admin.py").run()
    assert not at.exception, at.exception
    return at


def test_an_admin_adds_a_user_and_changes_a_role(app_db) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    at.text_input(key="new_username").input("Jane.Doe")
    at.text_input(key="new_display_name").input("Jane Doe")
    at.text_input(key="new_email").input("jane@payready.com")
    at.selectbox(key="new_role").select("analyst")
    at.text_input(key="new_password").input("jane-password-1")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Added jane.doe as analyst." in [s.value for s in at.success]
    with app_db.session() as s:
        jane = s.scalar(select(User).where(User.username == "jane.doe"))
        assert (jane.role, jane.display_name, jane.email) == ("analyst", "Jane Doe", "jane@payready.com")
        created = s.scalar(select(AuditLog).where(AuditLog.action == "user.create", AuditLog.target == "jane.doe"))
        assert created.actor == "admin"
    assert "jane.doe" in list(at.dataframe[0].value["username"])  # the table shows the new user at once
    # the new user can sign in with the password the admin set
    assert signed_in("jane.doe", "jane-password-1").session_state["authentication_status"] is True

    # errors from core are shown, nothing is written
    at.text_input(key="new_username").input("jane.doe")
    at.text_input(key="new_password").input("another-pass-1")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert [e.value for e in at.error] == ["a user named 'jane.doe' already exists"]

    at.selectbox(key="role_user").select("jane.doe")
    at.selectbox(key="role_new").select("viewer")
    next(b for b in at.button if b.label == "Change role").click().run()
    assert "jane.doe is now viewer." in [s.value for s in at.success]
    at.selectbox(key="role_user").select("admin")
    at.selectbox(key="role_new").select("viewer")
    next(b for b in at.button if b.label == "Change role").click().run()
    assert any("last admin" in e.value for e in at.error)
    with app_db.session() as s:
        assert auth.get_user(session=s, username="jane.doe").role == "viewer"
        assert auth.get_user(session=s, username="admin").role == "admin"


def test_an_admin_creates_and_revokes_an_api_key(app_db) -> None:
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    at.selectbox(key="key_user").select("admin")
    at.text_input(key="key_label").input("reporting")
    next(b for b in at.button if b.label == "Create key").click().run()
    assert not at.exception and not at.error
    assert len(at.code) == 1 and at.code[0].value.startswith(auth.API_KEY_PREFIX)
    assert any("shown only this once" in w.value for w in at.warning)
    key = at.code[0].value
    with app_db.session() as s:
        identity = auth.identity_from_api_key(session=s, key=key)
        assert identity.username == "admin"
        key_id = identity.key_id
    at.run()  # any later run no longer shows it
    assert not at.code
    assert key_id in list(next(df.value for df in at.dataframe if "id" in df.value.columns)["id"])

    at.selectbox(key="revoke_id").select(key_id)
    next(b for b in at.button if b.label == "Revoke").click().run()
    assert f"Revoked {key_id}." in [s.value for s in at.success]
    with app_db.session() as s:
        with pytest.raises(AuthError, match="revoked"):
            auth.identity_from_api_key(session=s, key=key)
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "api_key.revoke")) == "admin"


def test_a_form_sign_in_is_recorded(app_db) -> None:
    signed_in("admin", ADMIN_PASSWORD)
    with app_db.session() as s:
        assert auth.get_user(session=s, username="admin").last_login_at is not None
        assert s.scalar(select(AuditLog).where(AuditLog.action == "user.sign_in")).actor == "admin"


def test_an_admin_disables_and_enables_a_user(app_db) -> None:
    with app_db.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    at = _open_admin(signed_in("admin", ADMIN_PASSWORD))
    at.selectbox(key="active_user").select("vera")
    at.segmented_control(key="active_state").set_value("Disabled")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert "vera is now disabled." in [s.value for s in at.success]
    with app_db.session() as s:
        assert auth.get_user(session=s, username="vera").active is False
    at.selectbox(key="active_user").select("admin")
    at.segmented_control(key="active_state").set_value("Disabled")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert any("last active admin" in e.value for e in at.error)
