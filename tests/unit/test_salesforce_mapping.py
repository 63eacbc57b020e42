"""Salesforce records -> our model, the error table, and the SOQL the reader writes: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import Action, ConnectorError, Kind, Problem, RecordError, SecretFilter, StreamSpec
from connectors.salesforce import mapping
from connectors.salesforce.client import ERROR_TABLE, client_instance, in_list, soql_string
from connectors.salesforce.mapping import MappingContext
from connectors.salesforce.reader import ObjectStream, SoqlCheckpoint, SoqlReader, soql_time

CTX = MappingContext(owners={"005A": "rep@payready.com"})


def rec(**fields):
    base = {
        "attributes": {"type": "X", "url": "/services/data/v59.0/sobjects/X/1"},
        "Id": "001A",
        "CreatedDate": "2024-02-01T09:00:00.000+0000",
        "LastModifiedDate": "2024-02-03T10:30:00.000+0000",
        "SystemModstamp": "2024-02-03T10:30:05.000+0000",
        "IsDeleted": False,
    }
    return {**base, **fields}


# ---- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-02-01T09:00:00.000+0000", datetime(2024, 2, 1, 9, tzinfo=UTC)),
        ("2024-02-01T04:00:00.000-0500", datetime(2024, 2, 1, 9, tzinfo=UTC)),  # any offset, stored as UTC
        ("2024-02-01T09:00:00Z", datetime(2024, 2, 1, 9, tzinfo=UTC)),
        ("2024-02-01", datetime(2024, 2, 1, tzinfo=UTC)),  # a date field: midnight UTC
        (None, None),
        ("", None),
    ],
)
def test_times_are_read_as_utc(raw, expected) -> None:
    assert mapping.parse_time(raw, "f") == expected


def test_unreadable_values_name_the_field() -> None:
    with pytest.raises(RecordError, match="CloseDate: 'soon' is not a YYYY-MM-DD date"):
        mapping.parse_day("soon", "CloseDate")
    with pytest.raises(RecordError, match="Amount: 'lots' is not a number"):
        mapping.parse_number("lots", "Amount")
    with pytest.raises(RecordError, match="is not a number"):
        mapping.parse_number(True, "Amount")
    assert mapping.parse_number("1,250.5", "Amount") == 1250.5 and mapping.parse_number(12000.0, "x") == 12000.0


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("acme.com", "acme.com"),
        ("http://portal.acme.io", "portal.acme.io"),
        ("", None),
        (None, None),
    ],
)
def test_website_to_domain(website, domain) -> None:
    assert mapping.domain_of(website) == domain


# ---- stages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("Prospecting", "lead"),
        ("Qualification", "qualified"),
        ("Needs Analysis", "discovery"),
        ("Value Proposition", "demo"),
        ("Id. Decision Makers", "demo"),
        ("Proposal/Price Quote", "proposal"),
        ("Negotiation/Review", "negotiation"),
        ("Closed Won", "closed_won"),
        ("closed lost", "closed_lost"),
    ],
)
def test_the_default_picklist_maps_through_the_one_stage_table(name, ours) -> None:
    assert mapping.our_stage(name, MappingContext()) == ours


def test_org_stages_map_through_stage_map_then_stage_rows_then_the_record() -> None:
    ctx = MappingContext(
        stage_map={"verbal commit": "negotiation", "prospecting": "qualified"},
        stages=mapping.opportunity_stages(
            [
                {"MasterLabel": "Signed", "IsClosed": True, "IsWon": True},
                {"MasterLabel": "Lost to Competitor", "IsClosed": True, "IsWon": False},
                {"MasterLabel": "Verbal Commit", "IsClosed": False, "IsWon": False},
            ]
        ),
    )
    assert mapping.our_stage("Verbal Commit", ctx) == "negotiation"
    assert mapping.our_stage("Prospecting", ctx) == "qualified"  # the org's own reading wins
    assert mapping.our_stage("Signed", ctx) == "closed_won"
    assert mapping.our_stage("Lost to Competitor", ctx) == "closed_lost"
    assert mapping.our_stage("Paid", MappingContext(), is_closed=True, is_won=True) == "closed_won"
    with pytest.raises(RecordError, match=r"'Demo Booked' maps to none of our stages; set stage_map.Demo Booked="):
        mapping.our_stage("Demo Booked", ctx, is_closed=False)


# ---- records ------------------------------------------------------------------------------------------


def test_account() -> None:
    out = mapping.map_account(
        rec(
            Name="Oak Property Group",
            Website="https://www.oakpg.com",
            BillingCity="Austin",
            BillingState="Texas",
            BillingStateCode="TX",
            Type="Customer - Direct",
            OwnerId="005A",
            Units__c=4200.0,
        ),
        MappingContext(owners=CTX.owners, units_field="Units__c"),
    )
    assert out["external_id"] == "001A" and out["raw"]["Name"] == "Oak Property Group"
    assert out["created_at"] == datetime(2024, 2, 1, 9, tzinfo=UTC)
    assert out["updated_at"] == datetime(2024, 2, 3, 10, 30, tzinfo=UTC)  # LastModifiedDate
    assert (out["name"], out["domain"], out["city"], out["state"]) == (
        "Oak Property Group",
        "oakpg.com",
        "Austin",
        "TX",
    )
    assert (out["lifecycle_stage"], out["owner"], out["units_managed"], out["segment"]) == (
        "live",
        "rep@payready.com",
        4200,
        "mid_market",
    )
    plain = mapping.map_account(rec(Name="X", BillingState="Texas", Type="Channel Partner / Reseller"), CTX)
    assert plain["state"] is None and "lifecycle_stage" not in plain and plain["owner"] is None
    with pytest.raises(RecordError, match="account has no Name"):
        mapping.map_account(rec(Name="  "), CTX)
    with pytest.raises(RecordError, match="record has no Id"):
        mapping.map_account(rec(Id=None, Name="X"), CTX)


def test_contact() -> None:
    out = mapping.map_contact(
        rec(
            Id="003A",
            AccountId="001A",
            FirstName="Dana",
            LastName="Smith",
            Email="Dana.Smith@OakPG.com",
            Title="VP Operations",
            Phone=None,
            MobilePhone="+1 512 555 0100",
        ),
        CTX,
    )
    assert out["email"] == "dana.smith@oakpg.com" and out["account_ref"] == "001A"
    assert out["phone"] == "+1 512 555 0100" and out["title"] == "VP Operations"
    assert mapping.map_contact(rec(Id="003B", LastName="Lee\x00"), CTX)["last_name"] == "Lee"  # NUL dropped
    with pytest.raises(RecordError, match="neither a name nor an email"):
        mapping.map_contact(rec(Id="003C", Title="Ghost"), CTX)


def opp(**fields):
    base = {
        "Id": "006A",
        "Name": "Oak renewal",
        "StageName": "Closed Won",
        "Amount": 12000.456,
        "CloseDate": "2024-03-31",
        "AccountId": "001A",
        "OwnerId": "005A",
        "IsClosed": True,
        "IsWon": True,
    }
    return rec(**{**base, **fields})


def history(*rows):
    return {
        mapping.HISTORY_KEY: {
            "totalSize": len(rows),
            "done": True,
            "records": [{"OpportunityId": "006A", "StageName": s, "CreatedDate": at} for s, at in rows],
        }
    }


def test_opportunity_with_its_stage_history() -> None:
    out = mapping.map_opportunity(
        opp(
            Type="Existing Customer - Upgrade",
            **history(
                ("Prospecting", "2024-01-02T00:00:00.000+0000"),
                ("Value Proposition", "2024-01-05T00:00:00.000+0000"),
                ("Id. Decision Makers", "2024-01-09T00:00:00.000+0000"),  # also our demo: collapsed
                ("Id. Decision Makers", "2024-01-10T00:00:00.000+0000"),  # an amount change: collapsed
                ("Closed Won", "2024-02-01T00:00:00.000+0000"),
            ),
        ),
        CTX,
    )
    assert (out["stage"], out["amount"], out["currency"], out["close_date"]) == (
        "closed_won",
        12000.46,
        "USD",
        date(2024, 3, 31),
    )
    assert (out["deal_type"], out["owner"], out["account_ref"]) == ("expansion", "rep@payready.com", "001A")
    assert [(h["stage"], h["entered_at"].day) for h in out["stage_history"]] == [
        ("lead", 2),
        ("demo", 5),
        ("closed_won", 1),
    ]
    assert out["stage_entered_at"] == out["closed_at"] == datetime(2024, 2, 1, tzinfo=UTC)


def test_opportunity_currency_and_missing_parts() -> None:
    assert mapping.map_opportunity(opp(CurrencyIsoCode="cad"), CTX)["currency"] == "CAD"
    assert mapping.map_opportunity(opp(), MappingContext(default_currency="EUR"))["currency"] == "EUR"
    bare = mapping.map_opportunity(opp(Amount=None, Type="Something Else"), CTX)
    assert "amount" not in bare and "deal_type" not in bare and "stage_history" not in bare
    with pytest.raises(RecordError, match="not a currency code"):
        mapping.map_opportunity(opp(CurrencyIsoCode="dollars"), CTX)
    with pytest.raises(RecordError, match="opportunity has no StageName"):
        mapping.map_opportunity(opp(StageName=None), CTX)


def test_task_types_dates_and_references() -> None:
    call = mapping.map_task(
        rec(
            Id="00TA",
            TaskSubtype="Call",
            Subject="Call Dana",
            Status="Completed",
            ActivityDate="2024-02-05",
            WhoId="003A",
            WhatId="006A",
            AccountId="001A",
            OwnerId="005A",
            Description="Talked collections",
        ),
        CTX,
    )
    assert (call["type"], call["status"], call["body"]) == ("call", "Completed", "Talked collections")
    assert call["occurred_at"] == datetime(2024, 2, 5, tzinfo=UTC)
    assert (call["account_ref"], call["contact_ref"], call["deal_ref"]) == ("001A", "003A", "006A")
    email = mapping.map_task(
        rec(
            Id="00TB",
            TaskSubtype="Email",
            CompletedDateTime="2024-02-06T14:00:00.000+0000",
            ActivityDate="2024-02-05",
            WhoId="00QLEAD",
            WhatId="001B",
        ),
        CTX,
    )
    assert email["type"] == "email" and email["occurred_at"] == datetime(2024, 2, 6, 14, tzinfo=UTC)
    assert (email["contact_ref"], email["account_ref"], email["deal_ref"]) == (None, "001B", None)  # a lead: no ref
    todo = mapping.map_task(rec(Id="00TC", Subject="Send contract"), CTX)
    assert todo["type"] == "task" and todo["occurred_at"] == datetime(2024, 2, 1, 9, tzinfo=UTC)  # CreatedDate


def test_event() -> None:
    out = mapping.map_event(
        rec(
            Id="00UA",
            Subject="Demo",
            StartDateTime="2024-02-07T15:00:00.000+0000",
            ActivityDate="2024-02-07",
            WhoId="003A",
        ),
        CTX,
    )
    assert (out["type"], out["occurred_at"], out["contact_ref"]) == (
        "meeting",
        datetime(2024, 2, 7, 15, tzinfo=UTC),
        "003A",
    )
    all_day = mapping.map_event(rec(Id="00UB", Subject="Offsite", ActivityDate="2024-02-08"), CTX)
    assert all_day["occurred_at"] == datetime(2024, 2, 8, tzinfo=UTC)


def test_long_text_is_cut_to_the_column() -> None:
    out = mapping.map_task(rec(Id="00TD", Subject="x" * 2000), CTX)
    assert len(out["subject"]) == 512


# ---- the error table ------------------------------------------------------------------------------------


def resolve(status: int, body: str, headers: dict | None = None) -> ConnectorError:
    return ERROR_TABLE.resolve(Problem(status, headers or {}, body), vendor="Salesforce", redact=SecretFilter())


def test_salesforce_errors_resolve_to_an_action_a_kind_and_a_line() -> None:
    daily = resolve(403, '[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]')
    assert (daily.action, daily.kind) == (Action.FAIL, Kind.VENDOR) and "rolling 24-hour limit" in daily.message
    busy = resolve(
        403, '[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]'
    )
    assert busy.action is Action.BACKOFF and busy.retry_after is None
    expired = resolve(401, '[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]')
    assert (expired.action, expired.kind) == (Action.FAIL, Kind.CREDENTIALS)
    assert expired.message.startswith(
        "Salesforce refused the access token (401): INVALID_SESSION_ID: Session expired or invalid"
    )
    denied = resolve(
        403, '[{"errorCode": "API_DISABLED_FOR_ORG", "message": "API is not enabled for this Organization"}]'
    )
    assert denied.kind is Kind.CREDENTIALS and "API Enabled" in denied.message
    bad = resolve(400, '[{"errorCode": "INVALID_FIELD", "message": "No such column \'Foo\' on entity \'Account\'"}]')
    assert (bad.action, bad.kind) == (Action.FAIL, Kind.OUR_BUG) and "INVALID_FIELD: No such column" in bad.message
    assert resolve(503, '[{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}]').action is Action.RETRY
    limited = resolve(429, "[]", {"Retry-After": "7"})
    assert limited.action is Action.BACKOFF and limited.retry_after == 7.0


# ---- SOQL ----------------------------------------------------------------------------------------------


def test_soql_literals() -> None:
    assert soql_string("O'Brien \\ Co") == "'O\\'Brien \\\\ Co'"
    assert in_list(["001A", "001B"]) == "('001A', '001B')"
    assert soql_time(datetime(2024, 2, 1, 9, 0, 5, 123000, tzinfo=UTC)) == "2024-02-01T09:00:05Z"
    assert client_instance("http://127.0.0.1:8080") == "127.0.0.1:8080"
    assert client_instance("https://acme.my.salesforce.com:443") == "acme.my.salesforce.com"


DESCRIBE = {
    "name": "Account",
    "replicateable": True,
    "fields": [
        {"name": n, "relationshipName": "Owner" if n == "OwnerId" else None}
        for n in ("Id", "IsDeleted", "SystemModstamp", "Name", "OwnerId", "Website")
    ],
}


class _Describes(SoqlReader):
    def __init__(self) -> None:
        super().__init__(client=None, lag_s=0)  # type: ignore[arg-type]
        self._describes["Account"] = DESCRIBE


def test_the_query_re_anchors_on_the_last_row_and_selects_what_the_org_has() -> None:
    obj = ObjectStream(
        StreamSpec("accounts", "accounts"), "Account", ("Name", "Owner.Email"), optional=("Website", "BillingStateCode")
    )
    reader = _Describes()
    first = reader.soql(obj, SoqlCheckpoint(until="2024-03-01T00:00:00Z"))
    assert first == (
        "SELECT Id, IsDeleted, SystemModstamp, Name, Owner.Email, Website FROM Account "
        "WHERE SystemModstamp <= 2024-03-01T00:00:00Z ORDER BY SystemModstamp ASC, Id ASC"
    )
    later = reader.soql(
        obj, SoqlCheckpoint(after_stamp="2024-02-01T09:00:00.000+0000", after_id="001A", until="2024-03-01T00:00:00Z")
    )
    assert (
        "WHERE (SystemModstamp > 2024-02-01T09:00:00.000+0000 OR (SystemModstamp = 2024-02-01T09:00:00.000+0000 "
        "AND Id > '001A')) AND SystemModstamp <= 2024-03-01T00:00:00Z ORDER" in later
    )
    hidden = ObjectStream(StreamSpec("accounts", "accounts"), "Account", ("Name", "AnnualRevenue", "Parent.Name"))
    with pytest.raises(ConnectorError, match="no Account field AnnualRevenue, Parent.Name; give its profile"):
        reader.soql(hidden, SoqlCheckpoint(until="2024-03-01T00:00:00Z"))
