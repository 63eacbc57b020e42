"""UserGems: finding its fields in an org's describe, and its records and CSV rows in our shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import ConnectorError, RecordError
from connectors.usergems import mapping
from connectors.usergems.client import resolve_fields, value_at


def describe(*fields: str, refs: dict[str, str] | None = None) -> dict:
    refs = refs or {}
    return {"fields": [{"name": f, "relationshipName": refs.get(f)} for f in fields]}


PACKAGE = describe(
    "Id",
    "Name",
    "CreatedDate",
    "SystemModstamp",
    "UserGems__Past_Contact__c",
    "UserGems__Past_Account__c",
    "UserGems__New_Company__c",
    "UserGems__New_Title__c",
    "UserGems__Email__c",
    "UserGems__Job_Change_Date__c",
    refs={
        "UserGems__Past_Contact__c": "UserGems__Past_Contact__r",
        "UserGems__Past_Account__c": "UserGems__Past_Account__r",
    },
)


def test_fields_are_found_in_the_package_object_through_its_lookups() -> None:
    found = resolve_fields(PACKAGE, {}, sobject="UserGems__UserGems__c")
    assert found == {
        "past_contact_id": "UserGems__Past_Contact__c",
        "past_account_id": "UserGems__Past_Account__c",
        "person_name": "UserGems__Past_Contact__r.Name",
        "email": "UserGems__Email__c",
        "new_company": "UserGems__New_Company__c",
        "new_title": "UserGems__New_Title__c",
        "previous_company": "UserGems__Past_Account__r.Name",
        "previous_title": "UserGems__Past_Contact__r.Title",
        "detected_at": "UserGems__Job_Change_Date__c",
    }


def test_fields_on_a_contact_with_admin_named_ug_fields() -> None:
    contact = describe(
        "Id",
        "Name",
        "Email",
        "Title",
        "AccountId",
        "CreatedDate",
        "UG_Past_Contact__c",
        "UG_Past_Account__c",
        "UG_Persona__c",
        refs={
            "AccountId": "Account",
            "UG_Past_Contact__c": "UG_Past_Contact__r",
            "UG_Past_Account__c": "UG_Past_Account__r",
        },
    )
    found = resolve_fields(contact, {}, sobject="Contact")
    assert found["person_name"] == "UG_Past_Contact__r.Name" and found["new_company"] == "Account.Name"
    assert found["new_title"] == "Title" and found["detected_at"] == "CreatedDate"
    assert found["persona"] == "UG_Persona__c" and found["previous_company"] == "UG_Past_Account__r.Name"


def test_settings_override_and_missing_fields_are_named() -> None:
    found = resolve_fields(PACKAGE, {"person_name": "Name"}, sobject="X__c")
    assert found["person_name"] == "Name"
    with pytest.raises(ConnectorError, match=r"X__c has no field Full_Name__c visible .*\(set as fields.person_name\)"):
        resolve_fields(PACKAGE, {"person_name": "Full_Name__c"}, sobject="X__c")
    with pytest.raises(
        ConnectorError,
        match=r"X__c has none of the fields we read person_name from .*"
        r"set fields.person_name=<API name>",
    ):
        resolve_fields(describe("Id", "CreatedDate"), {}, sobject="X__c")


def test_a_salesforce_record_becomes_a_job_change_linked_to_salesforce_records() -> None:
    fields = resolve_fields(PACKAGE, {}, sobject="UserGems__UserGems__c")
    record = {
        "attributes": {"type": "UserGems__UserGems__c"},
        "Id": "a0XRO0000000000001",
        "CreatedDate": "2025-03-05T08:00:00.000+0000",
        "SystemModstamp": "2025-03-05T08:00:00.000+0000",
        "UserGems__Past_Contact__c": "003RO0000000000009",
        "UserGems__Past_Account__c": "001RO0000000000004",
        "UserGems__Past_Contact__r": {"attributes": {}, "Name": "Dana Smith", "Title": "VP Operations"},
        "UserGems__Past_Account__r": {"attributes": {}, "Name": "Oak Property Group"},
        "UserGems__New_Company__c": "NewCo",
        "UserGems__New_Title__c": "VP Finance",
        "UserGems__Email__c": "Dana@NewCo.com",
        "UserGems__Job_Change_Date__c": "2025-03-04",
    }
    out = mapping.map_salesforce(record, fields)
    assert out["external_id"] == "a0XRO0000000000001" and out["raw"]["UserGems__New_Company__c"] == "NewCo"
    assert (out["person_name"], out["previous_title"], out["previous_company"]) == (
        "Dana Smith",
        "VP Operations",
        "Oak Property Group",
    )
    assert (out["new_company"], out["new_title"], out["email"]) == ("NewCo", "VP Finance", "dana@newco.com")
    assert out["detected_at"] == datetime(2025, 3, 4, tzinfo=UTC)
    assert out["contact_ref"] == {"source": "salesforce", "external_id": "003RO0000000000009"}
    assert out["account_ref"] == {"source": "salesforce", "external_id": "001RO0000000000004"}
    no_date = mapping.map_salesforce({**record, "UserGems__Job_Change_Date__c": None}, fields)
    assert no_date["detected_at"] == datetime(2025, 3, 5, 8, tzinfo=UTC)  # when UserGems delivered it
    lead = mapping.map_salesforce({**record, "UserGems__Past_Contact__c": "00QRO0000000000001"}, fields)
    assert lead["contact_ref"] is None  # a past Lead: we keep no leads
    with pytest.raises(RecordError, match="no person name"):
        mapping.map_salesforce({**record, "UserGems__Past_Contact__r": None}, fields)


def test_value_at_follows_parents() -> None:
    assert value_at({"Account": {"Name": "Oak"}}, "Account.Name") == "Oak"
    assert value_at({"Account": None}, "Account.Name") is None


def test_csv_headers_are_matched_loosely_and_requirements_named() -> None:
    columns, missing = mapping.csv_columns(["UserGems ID", "first_name", "Last-Name", "NEW COMPANY", "Job Change Date"])
    assert columns == {
        "id": "UserGems ID",
        "first_name": "first_name",
        "last_name": "Last-Name",
        "new_company": "NEW COMPANY",
        "detected_at": "Job Change Date",
    }
    assert missing == []
    _, missing = mapping.csv_columns(["First Name", "Email"])
    assert missing == ["Full Name or First Name and Last Name", "New Company", "Job Change Date"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-04", datetime(2025, 3, 4, tzinfo=UTC)),
        ("2025-03-04T10:15:00Z", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
        ("2025-03-04 10:15:00-05:00", datetime(2025, 3, 4, 15, 15, tzinfo=UTC)),
        ("03/04/2025", datetime(2025, 3, 4, tzinfo=UTC)),  # US order
        ("Mar 4, 2025", datetime(2025, 3, 4, tzinfo=UTC)),
        ("", None),
    ],
)
def test_csv_dates(raw, expected) -> None:
    assert mapping.parse_csv_time(raw, "Job Change Date") == expected


def test_csv_rows() -> None:
    columns, _ = mapping.csv_columns(["Full Name", "Email", "New Company", "Job Change Date", "Past Contact ID"])
    row = {
        "Full Name": "Lee Wong",
        "Email": "LWong@Cedar.com",
        "New Company": "Cedar Homes",
        "Job Change Date": "2025-03-15",
        "Past Contact ID": "003RO0000000000901",
    }
    out = mapping.map_csv_row(row, columns, line=2)
    assert out["external_id"].startswith("csv:") and out["raw"] == {"line": 2, **row}
    assert out["contact_ref"] == {"source": "salesforce", "external_id": "003RO0000000000901"}
    again = mapping.map_csv_row({**row, "Email": "lwong@cedar.com "}, columns, line=9)
    assert again["external_id"] == out["external_id"]  # the same job change, whatever the line or case
    other = mapping.map_csv_row({**row, "New Company": "Elsewhere"}, columns, line=3)
    assert other["external_id"] != out["external_id"]
    assert mapping.map_csv_row({**row, "Past Contact ID": "not-an-id"}, columns, line=4)["contact_ref"] is None
    with pytest.raises(RecordError, match="Job Change Date: '31/31/2025' is not a date"):
        mapping.map_csv_row({**row, "Job Change Date": "31/31/2025"}, columns, line=5)
