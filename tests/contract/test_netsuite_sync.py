"""The real NetSuite connector, runner and ingest path against the fake NetSuite (SuiteQL executed for real,
every request's OAuth 1.0a signature checked) at the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import models as m
from core.runtime import Runtime
from tests.contract.fake_netsuite import FakeNetSuite, add_netsuite, counts, crm_accounts, populate, snapshot
from tests.contract.sync_helpers import FAULTS, cursor, fail_forever, sync

STREAMS = ["customers", "invoices", "payments"]
CRM = ["hs-0", "hs-2", "hs-4"]  # the CRM ids populate() puts on every other customer


def on_invoices(seen) -> bool:  # noqa: ANN001
    return "CustInvc'" in str((seen.body or {}).get("q")) and "deletedrecord" not in str(seen.body)


@pytest.fixture
def fake() -> Iterator[FakeNetSuite]:
    ns = FakeNetSuite().start()
    populate(ns)
    yield ns
    ns.stop()


def setup(runtime: Runtime, fake: FakeNetSuite, **overrides: str) -> None:
    crm_accounts(runtime, CRM)
    add_netsuite(runtime, fake, **overrides)


def clean_snapshot(clean: Runtime, fake: FakeNetSuite) -> dict:
    setup(clean, fake)
    assert sync(clean, name="ns").status == "succeeded"
    return snapshot(clean)


def test_full_sync_links_transactions_to_the_crm_accounts(any_runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(any_runtime, fake)

    result = sync(any_runtime, name="ns")

    assert result.status == "succeeded", result.error
    assert [(r.stream, r.tally.read) for r in result.runs] == [("customers", 3), ("invoices", 20), ("payments", 12)]
    assert counts(any_runtime) == {"accounts": 3, "invoices": 20, "payments": 12}
    with any_runtime.session() as s:
        crm = dict(s.execute(select(m.Account.external_id, m.Account.id).where(m.Account.source == "hubspot")).all())
        fallback = s.scalars(select(m.Account).where(m.Account.source == "netsuite")).all()
        assert sorted(a.name for a in fallback) == ["Property Co 1", "Property Co 3", "Property Co 5"]
        assert all(a.lifecycle_stage == "live" and a.owner == "rep.one@payready.com" for a in fallback)
        invoices = s.scalars(select(m.Invoice)).all()
        assert all(i.account_id is not None for i in invoices)
        linked = {i.account_id for i in invoices if i.account_id in crm.values()}
        assert linked == set(crm.values())  # invoices of linked customers sit on the CRM accounts
        services = [i for i in invoices if i.kind == "services"]
        assert [(i.amount, i.period_start, i.status) for i in services] == [(7500.0, None, "open")]
        assert sorted(i.status for i in invoices).count("void") == 1
        cad = {i.currency for i in invoices if i.amount in (1100.0, 300.0)}
        assert cad == {"CAD"}
        paid = [i for i in invoices if i.status == "paid"]
        assert len(paid) == 12 and all(i.paid_on == i.issued_on.replace(day=11) for i in paid)
        subs = [i for i in invoices if i.kind == "subscription" and i.status != "void"]
        assert {i.period_start for i in subs} == {date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)}
        payments = s.scalars(select(m.Payment)).all()
        assert all(p.invoice_id is not None and p.account_id is not None for p in payments)
        assert all(p.status == "succeeded" and p.paid_at.tzinfo is not None for p in payments)
    # SuiteQL as documented: Prefer: transient, signed, and the change queries re-anchor instead of paging by offset
    queries = fake.suiteql()
    assert queries and all(q.headers.get("prefer") == "transient" for q in queries)
    changes = [q for q in queries if "lastmodifieddate" in q.body["q"] and "deletedrecord" not in q.body["q"]]
    assert {q.query["offset"][0] for q in changes} == {"0"} and {q.query["limit"][0] for q in changes} == {"5"}
    assert all(q.status == 200 for q in queries)


def test_incremental_sync_reads_only_what_changed(runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(runtime, fake)
    assert sync(runtime, name="ns").status == "succeeded"
    saved = cursor(runtime, "invoices", name="ns")
    since, since_id = saved["since"], saved["since_id"]
    first = len(fake.requests)

    invoice = fake.ids("CustInvc")[-1]
    fake.update("transaction", invoice, foreigntotal=2222.0, foreignamountunpaid=2222.0)
    customer = fake.ids("customer")[1]  # an unlinked one
    fake.update("customer", customer, companyname="Renamed Co")
    result = sync(runtime, name="ns")

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.read for r in result.runs} == {"customers": 1, "invoices": 1, "payments": 0}
    asked = [s.body["q"] for s in fake.requests[first:] if on_invoices(s)]
    after = f"TO_TIMESTAMP('{since}', 'YYYY-MM-DD HH24:MI:SS')"
    assert f"(t.lastmodifieddate > {after} OR (t.lastmodifieddate = {after} AND t.id > {since_id}))" in asked[0]
    with runtime.session() as s:
        assert s.scalar(select(m.Invoice.amount).where(m.Invoice.external_id == str(invoice))) == 2222.0
        assert s.scalar(select(m.Account.name).where(m.Account.external_id == str(customer))) == "Renamed Co"


def test_a_look_back_rereads_the_overlap(runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(runtime, fake, lookback_s="180")  # the fake's clock moves a minute per write
    assert sync(runtime, name="ns").status == "succeeded"
    first = snapshot(runtime)
    since = cursor(runtime, "payments", name="ns")["since"]
    start = (datetime.fromisoformat(since) - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")

    again = sync(runtime, name="ns")

    assert again.status == "succeeded"
    # what was modified in the three minutes before the watermark comes again (upserts: nothing changes)
    overlap = fake.db.execute(
        'SELECT COUNT(*) FROM "transaction" WHERE type = ? AND lastmodifieddate >= ?', ("CustPymt", start)
    ).fetchone()[0]
    assert {r.stream: r.tally.read for r in again.runs}["payments"] == overlap >= 2
    asked = [s.body["q"] for s in fake.suiteql() if "CustPymt'" in s.body["q"] and "deletedrecord" not in s.body["q"]]
    assert f"t.lastmodifieddate >= TO_TIMESTAMP('{start}', 'YYYY-MM-DD HH24:MI:SS')" in asked[-1]
    assert snapshot(runtime) == first


def test_deleted_records_are_applied_and_voided_ones_kept(any_runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(any_runtime, fake)
    assert sync(any_runtime, name="ns").status == "succeeded"
    gone_invoice = fake.ids("CustInvc")[-1]
    gone_payment = fake.ids("CustPymt")[0]
    fake.delete("transaction", gone_invoice)
    fake.delete("transaction", gone_payment)
    linked_now = fake.ids("customer")[1]  # gets its CRM id: its fallback account goes
    fake.update("customer", linked_now, externalid="hs-9")

    result = sync(any_runtime, name="ns")

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.deleted for r in result.runs} == {"customers": 1, "invoices": 1, "payments": 1}
    assert counts(any_runtime) == {"accounts": 2, "invoices": 19, "payments": 11}
    with any_runtime.session() as s:
        assert s.scalar(select(m.Invoice).where(m.Invoice.external_id == str(gone_invoice))) is None
        assert s.scalar(select(m.Invoice.status).where(m.Invoice.status == "void")) == "void"
    again = sync(any_runtime, name="ns")  # deletions already taken are not applied again
    assert sum(r.tally.deleted for r in again.runs) == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, fake: FakeNetSuite, fault: str
) -> None:
    setup(runtime, fake)
    fail_forever(fake, fault, when=on_invoices, after=2)

    failed = sync(runtime, name="ns")

    assert failed.status == "failed" and failed.runs[-1].stream == "invoices"
    assert "gave up after 3 attempts" in failed.error
    assert ("server error (500)" if fault == "500 forever" else "could not reach NetSuite") in failed.error
    saved = cursor(runtime, "invoices", name="ns")
    assert saved["in_pass"] and saved["after_id"] is not None  # two committed pages
    assert counts(runtime)["invoices"] == 10

    fake.recover()
    resumed = sync(runtime, name="ns")

    assert resumed.status == "succeeded", resumed.error
    assert {r.stream: r.tally.read for r in resumed.runs}["invoices"] == 10  # only what was left
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_concurrency_limit_and_server_errors_are_survived(runtime: Runtime, clean: Runtime, fake: FakeNetSuite) -> None:
    setup(runtime, fake)
    limited = fake.fail(when=on_invoices, after=1, status=429, times=2)  # no Retry-After: exponential backoff
    fake.fail(path="/suiteql", status=503, times=1)

    result = sync(runtime, name="ns")

    assert result.status == "succeeded", result.error
    assert limited.fired == 2
    # a retry is a new request: new nonce and timestamp, or NetSuite would refuse the replay
    assert all(s.status in (200, 429, 503) for s in fake.suiteql())
    fake.recover()
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_bad_credentials_stop_the_run_keep_the_cursor_and_say_why(runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(runtime, fake)
    assert sync(runtime, name="ns").status == "succeeded"
    before = {s: cursor(runtime, s, name="ns") for s in STREAMS}
    stored = snapshot(runtime)
    fake.update("transaction", fake.ids("CustInvc")[0], memo="changed")
    fake.token_secret = "rotated-token-secret-9999"  # the stored token secret no longer signs correctly

    result = sync(runtime, name="ns")

    assert result.status == "failed" and len(result.runs) == 1
    assert result.error.startswith("stream customers: NetSuite refused the credentials (401)")
    assert "INVALID_LOGIN" in result.error and "ts-fake" not in result.error
    assert {s: cursor(runtime, s, name="ns") for s in STREAMS} == before
    assert snapshot(runtime) == stored


def test_malformed_rows_are_quarantined_and_the_rest_land(runtime: Runtime, fake: FakeNetSuite) -> None:
    customer = fake.ids("customer")[0]
    no_total = fake.add_invoice(customer, None, issued=date(2024, 4, 1))
    fake.db.execute("INSERT INTO currency VALUES (3, 'Play Money', 'P$')")
    fake.currencies["P$"] = 3
    odd_currency = fake.add_invoice(customer, 50.0, issued=date(2024, 4, 2), currency="P$")
    setup(runtime, fake)

    result = sync(runtime, name="ns")

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.quarantined for r in result.runs} == {"customers": 0, "invoices": 2, "payments": 0}
    with runtime.session() as s:
        rows = {r.external_id: r for r in s.scalars(select(m.QuarantinedRecord))}
    assert "foreigntotal" in rows[str(no_total)].error and "ISO 4217" in rows[str(odd_currency)].error
    assert rows[str(no_total)].payload["id"] == str(no_total)
    assert counts(runtime)["invoices"] == 20


def test_a_bad_configured_column_fails_with_netsuites_reason(runtime: Runtime, fake: FakeNetSuite) -> None:
    setup(runtime, fake, crm_link_column="custentity_hubspot_id")

    result = sync(runtime, name="ns")

    assert result.status == "failed" and "refused the SuiteQL query (400)" in result.error
    assert "INVALID_PARAMETER" in result.error and "custentity_hubspot_id" in result.error
