"""The Account page and the record page by table, through AppTest on the small demo after a detection run:
the account's numbers against SQL, its open insights, its invoices marked late, links from the dashboard and
search; a record without a search document by table and external id, with the role check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from core.db.models import Account, Insight
from core.insights import run_detection
from core.runtime import Runtime
from tests.app.test_insights_page import open_page, signed_in, user
from tests.conftest import ADMIN_PASSWORD

ACCOUNT = "../pages/account.py"
RECORD = "../pages/record.py"


@pytest.fixture
def demo(app_db: Runtime) -> Runtime:
    from connectors.demo import load_demo

    load_demo(runtime=app_db, size="small", seed=42, as_of=datetime.now(UTC).date())
    run_detection(runtime=app_db)
    return app_db


def sql_one(rt: Runtime, sql: str, **params):  # noqa: ANN003, ANN201
    with rt.engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def metric(at: AppTest, prefix: str) -> tuple[str, str]:
    (found,) = [(m.value, m.delta) for m in at.metric if m.label.startswith(prefix)]
    return found


def test_the_account_page_shows_its_numbers_and_its_insights(demo: Runtime) -> None:
    with demo.session() as s:
        insight = s.scalar(select(Insight).where(Insight.type == "onboarding_stuck").limit(1))
        acct = s.get(Account, insight.account_id)
        ext, name, arr = acct.external_id, acct.name, acct.arr
    at = open_page(signed_in("admin", ADMIN_PASSWORD), ACCOUNT, account=ext)
    assert at.title[0].value == name
    value, _ = metric(at, "ARR")
    assert value.startswith("$") and (arr == 0 or value != "$0")
    assert metric(at, "Health")[0]
    body = "\n".join(m.value for m in at.markdown)
    assert insight.title.replace("$", "\\$") in body  # its open insight, with its reasons
    assert insight.reasons[0].split(":")[0] in body
    links = [pl.proto for pl in at.get("page_link")]
    assert any(p.page == "insights" and p.query_string == f"insight={insight.id}" for p in links)
    # the open deals and invoices tables match the database
    deals = sql_one(
        demo,
        "SELECT COUNT(*) FROM deals WHERE account_id = :a AND stage NOT IN ('closed_won', 'closed_lost')",
        a=insight.account_id,
    )[0]
    frames = {tuple(df.value.columns): df.value for df in at.dataframe}
    if deals:
        deal_frame = next(f for cols, f in frames.items() if "deal" in cols)
        assert len(deal_frame) == deals
        assert all(u.startswith("record?") for u in deal_frame["deal"])


def test_late_and_overdue_invoices_are_marked(demo: Runtime) -> None:
    account_id, ext, late = sql_one(
        demo,
        "SELECT a.id, a.external_id, COUNT(*) FROM invoices i JOIN accounts a ON a.id = i.account_id "
        "WHERE i.status = 'paid' AND i.paid_on > i.due_on GROUP BY a.id, a.external_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    at = open_page(signed_in("admin", ADMIN_PASSWORD), ACCOUNT, account=ext)
    invoices = next(df.value for df in at.dataframe if "invoice" in df.value.columns)
    states = list(invoices["state"])
    assert any(s.startswith("Paid late · ") for s in states), states
    assert all(u.startswith("record?") and "#" in u for u in invoices["invoice"])


def test_the_rent_chart_and_the_calls_link_to_their_records(demo: Runtime) -> None:
    ext, account_id = sql_one(
        demo,
        "SELECT a.external_id, a.id FROM accounts a JOIN rent_payment_volumes r ON r.account_id = a.id "
        "JOIN calls c ON c.account_id = a.id GROUP BY a.id, a.external_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    at = open_page(signed_in("admin", ADMIN_PASSWORD), ACCOUNT, account=ext)
    assert len(at.get("plotly_chart")) == 1
    call = sql_one(
        demo, "SELECT external_id FROM calls WHERE account_id = :a ORDER BY started_at DESC LIMIT 1", a=account_id
    )[0]
    assert any(pl.proto.query_string == f"table=calls&id={call}" for pl in at.get("page_link"))


def test_an_unknown_account_says_so(demo: Runtime) -> None:
    at = open_page(signed_in("admin", ADMIN_PASSWORD), ACCOUNT, account="nope-404")
    assert [e.value for e in at.error] == ["no account nope-404."]


def test_account_names_link_to_the_account_page_on_the_dashboard(demo: Runtime) -> None:
    at = signed_in("admin", ADMIN_PASSWORD)
    frames = [df.value for df in at.dataframe]
    attention = next(f for f in frames if "insight" in f.columns)
    with demo.session() as s:
        open_count = s.scalar(select(text("COUNT(*)")).select_from(Insight).where(Insight.status == "new"))
    assert len(attention) == min(open_count, 8)
    assert all(u.startswith("insights?insight=") for u in attention["insight"])
    assert any(isinstance(u, str) and u.startswith("account?account=") for u in attention["account"])
    stuck = next(f for f in frames if "days_stuck" in f.columns)
    assert all(u.startswith("account?account=co-") for u in stuck["account"])


def test_the_record_page_by_table_shows_a_record_without_a_document(demo: Runtime) -> None:
    deal_ext, deal_name = sql_one(demo, "SELECT external_id, name FROM deals ORDER BY id LIMIT 1")
    at = open_page(signed_in("vera", user(demo, "vera", "viewer")), RECORD, table="deals", id=deal_ext)
    assert at.title[0].value == f"Deal {deal_name}"
    fields = at.dataframe[0].value
    assert dict(zip(fields["field"], fields["value"], strict=True))["External id"] == deal_ext
    assert any(pl.proto.page == "account" for pl in at.get("page_link"))

    month_ext = sql_one(demo, "SELECT external_id FROM rent_payment_volumes ORDER BY id LIMIT 1")[0]
    open_page(at, RECORD, table="rent_payment_volumes", id=month_ext)
    assert at.title[0].value.startswith("Rent month ") and not at.error

    # an account opens the account page
    acct_ext, acct_name = sql_one(demo, "SELECT external_id, name FROM accounts ORDER BY id LIMIT 1")
    open_page(at, RECORD, table="accounts", id=acct_ext)
    assert at.title[0].value == acct_name

    # unknown, not a record table, or not the role's to see: the same refusal as a document
    for table, ext, said in (
        ("deals", "dl-nope", "no deals record dl-nope"),
        ("users", "admin", "no record table 'users'"),
    ):
        open_page(at, RECORD, table=table, id=ext)
        assert [e.value for e in at.error][0].startswith(said), at.error
    review = sql_one(demo, "SELECT external_id FROM reviews ORDER BY id LIMIT 1")[0]
    open_page(at, RECORD, table="reviews", id=review)
    assert [e.value for e in at.error] == [
        f"no reviews record {review}: it does not exist, or your role cannot see it."
    ]
    admin = open_page(signed_in("admin", ADMIN_PASSWORD), RECORD, table="reviews", id=review)
    assert not admin.error and admin.title[0].value.startswith("Performance review")
