"""NetSuite SuiteQL rows -> our records: links to CRM accounts, statuses, kinds, currencies, time zones."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.base import RecordError
from connectors.netsuite import NetSuiteConfig
from connectors.netsuite.connector import BY_STREAM, NetSuiteConnector
from connectors.netsuite.mapping import (
    MappingContext,
    account_ref,
    domain,
    invoice_kind,
    invoice_status,
    local_time,
    map_customer,
    map_invoice,
    map_payment,
    payment_status,
)

LA = MappingContext(time_zone=ZoneInfo("America/Los_Angeles"), crm_source="hubspot")


def invoice(**over: object) -> dict:
    row = {
        "id": "501",
        "tranid": "INV-501",
        "entity": "107",
        "voided": "F",
        "statusname": "Open",
        "foreigntotal": "1200.50",
        "foreignamountunpaid": "1200.50",
        "currencycode": "USD",
        "trandate": "2024-03-01",
        "duedate": "2024-03-31",
        "periodstart": "2024-03-01",
        "created": "2024-03-01 09:00:00",
        "lastmodified": "2024-03-02 17:30:05",
    }
    row.update(over)
    return {k: v for k, v in row.items() if v is not None}


def test_times_are_read_in_the_account_zone_and_stored_in_utc() -> None:
    assert local_time("2024-01-15 09:00:00", "t", LA) == datetime(2024, 1, 15, 17, 0, tzinfo=UTC)  # PST
    assert local_time("2024-07-15 09:00:00", "t", LA) == datetime(2024, 7, 15, 16, 0, tzinfo=UTC)  # PDT
    assert local_time("2024-07-15T09:00:00", "t", LA) == datetime(2024, 7, 15, 16, 0, tzinfo=UTC)
    with pytest.raises(RecordError, match="not a YYYY-MM-DD HH:MM:SS"):
        local_time("3/1/2024", "t", LA)


def test_an_invoice_of_a_linked_customer_references_the_crm_account() -> None:
    rec = map_invoice(invoice(crmlink="hs-77"), LA)
    assert rec["account_ref"] == {"source": "hubspot", "external_id": "hs-77"}
    assert (rec["number"], rec["amount"], rec["currency"], rec["status"]) == ("INV-501", 1200.5, "USD", "open")
    assert (rec["issued_on"], rec["due_on"], rec["period_start"]) == (
        date(2024, 3, 1),
        date(2024, 3, 31),
        date(2024, 3, 1),
    )
    assert rec["updated_at"] == datetime(2024, 3, 3, 1, 30, 5, tzinfo=UTC)
    assert rec["raw"]["id"] == "501"


def test_an_unlinked_customer_falls_back_to_its_own_account_or_none() -> None:
    assert account_ref(invoice(), LA) == "107"
    assert account_ref(invoice(), MappingContext(crm_source="hubspot", fallback_accounts=False)) is None
    # no CRM configured: a link column is not read as one
    assert account_ref(invoice(crmlink="hs-1"), MappingContext()) == "107"


@pytest.mark.parametrize(
    ("over", "status"),
    [
        ({}, "open"),
        ({"statusname": "Paid In Full", "foreignamountunpaid": "0"}, "paid"),
        ({"voided": "T"}, "void"),
        ({"statusname": "Voided"}, "void"),
        ({"statusname": "Rejected"}, "void"),
        ({"statusname": None, "foreignamountunpaid": "0"}, "paid"),  # BUILTIN.DF gave nothing: the amounts decide
        ({"statusname": "Pending Approval"}, "open"),
    ],
)
def test_invoice_status(over: dict, status: str) -> None:
    assert invoice_status(invoice(**over)) == status


def test_paid_on_only_for_paid_invoices() -> None:
    paid = map_invoice(invoice(statusname="Paid In Full", lastpaymentdate="2024-03-11"), LA)
    assert paid["paid_on"] == date(2024, 3, 11)
    assert map_invoice(invoice(lastpaymentdate="2024-03-11"), LA)["paid_on"] is None


def test_invoice_kind_from_the_kind_column_or_the_memo() -> None:
    assert invoice_kind(invoice(memo="Implementation and onboarding"), LA) == "services"
    assert invoice_kind(invoice(kindvalue="Professional Services"), LA) == "services"
    assert invoice_kind(invoice(memo="March subscription"), LA) == "subscription"
    custom = MappingContext(services_pattern=re.compile(r"\bSOW\b"))
    assert invoice_kind(invoice(memo="SOW 12"), custom) == "services"
    services = map_invoice(invoice(memo="Training"), LA)
    assert services["kind"] == "services" and services["period_start"] is None
    # a subscription's service month: its posting period, else the month of its date
    assert map_invoice(invoice(periodstart=None, trandate="2024-05-17"), LA)["period_start"] == date(2024, 5, 1)


def test_currency_is_the_transaction_currency() -> None:
    assert map_invoice(invoice(currencycode="cad"), LA)["currency"] == "CAD"
    assert map_invoice(invoice(currencycode=None), LA)["currency"] == "USD"  # no multi-currency
    with pytest.raises(RecordError, match="ISO 4217"):
        map_invoice(invoice(currencycode="P$"), LA)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"foreigntotal": None}, "no foreigntotal"),
        ({"foreigntotal": "lots"}, "not a number"),
        ({"trandate": None}, "no trandate"),
        ({"trandate": "3/1/2024"}, "YYYY-MM-DD"),
        ({"id": None}, "no id"),
    ],
)
def test_malformed_invoices_raise_record_errors(over: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        map_invoice(invoice(**over), LA)


def test_payments() -> None:
    row = {
        "id": "9",
        "entity": "107",
        "crmlink": "hs-77",
        "foreigntotal": "-250",
        "currencycode": "USD",
        "trandate": "2024-03-11",
        "invoiceid": "501",
        "statusname": "Deposited",
        "voided": "F",
    }
    rec = map_payment(row, LA)
    assert rec["amount"] == 250.0 and rec["invoice_ref"] == "501" and rec["status"] == "succeeded"
    assert rec["paid_at"] == datetime(2024, 3, 11, 7, 0, tzinfo=UTC)  # midnight in Los Angeles (PDT)
    assert rec["account_ref"] == {"source": "hubspot", "external_id": "hs-77"}
    assert payment_status({"voided": "T"}) == payment_status({"statusname": "Voided"}) == "failed"


def test_customers_become_fallback_accounts() -> None:
    row = {
        "id": "107",
        "entityid": "CUST-107",
        "companyname": "Acme Residential",
        "url": "https://www.acme.test/x",
        "salesrepemail": "Rep@PayReady.com",
        "isinactive": "F",
        "lastmodified": "2024-03-01 10:15:00",
    }
    rec = map_customer(row, LA)
    assert (rec["name"], rec["domain"], rec["owner"], rec["lifecycle_stage"]) == (
        "Acme Residential",
        "acme.test",
        "rep@payready.com",
        "live",
    )
    person = map_customer({"id": "8", "isperson": "T", "firstname": "Dana", "lastname": "Lee", "isinactive": "T"}, LA)
    assert person["name"] == "Dana Lee" and person["lifecycle_stage"] == "churned"
    assert map_customer({"id": "9", "entityid": "CUST-9"}, LA)["name"] == "CUST-9"
    with pytest.raises(RecordError):
        map_customer({"id": "10"}, LA)
    assert domain(None, "billing@acme.test") == "acme.test" and domain(None, "someone@gmail.com") is None


def test_the_deleted_record_type_is_read_from_either_column() -> None:
    invoices = BY_STREAM["invoices"]
    assert NetSuiteConnector._of_type(invoices, {"recordid": "5", "recordtypeid": "invoice"})
    assert NetSuiteConnector._of_type(invoices, {"recordid": "5", "type": "Invoice"})
    assert NetSuiteConnector._of_type(BY_STREAM["payments"], {"recordid": "5", "type": "Customer Payment"})
    assert not NetSuiteConnector._of_type(invoices, {"recordid": "5", "recordtypeid": "customer"})
    assert not NetSuiteConnector._of_type(invoices, {"recordid": "5", "type": "invoice", "iscustomrecord": "T"})


def test_config_derives_the_host_and_refuses_unsafe_columns() -> None:
    secrets = {k: "x" * 8 for k in ("consumer_key", "consumer_secret", "token_id", "token_secret")}
    config = NetSuiteConfig(account_id="1234567_SB1", **secrets)
    assert config.base_url == "https://1234567-sb1.suitetalk.api.netsuite.com"
    with pytest.raises(ValueError, match="column name"):
        NetSuiteConfig(account_id="1", crm_link_column="externalid; DROP", **secrets)
    with pytest.raises(ValueError, match="IANA"):
        NetSuiteConfig(account_id="1", time_zone="Mars/Olympus", **secrets)
