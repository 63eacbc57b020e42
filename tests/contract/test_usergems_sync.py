"""The real UserGems connector (a reader of UserGems' records in Salesforce), runner and ingest path
against the fake Salesforce org, the package's object defined in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import models as m
from core.runtime import Runtime
from tests.contract.fake_salesforce import (
    EPOCH,
    TEST_SETTINGS,
    FakeSalesforce,
    add_connector,
    cursor,
    populate,
    snapshot,
    sync,
)
from tests.contract.helpers import set_args, sophia

UG = "UserGems__UserGems__c"


def define_usergems(org: FakeSalesforce) -> None:
    """The managed package's object: lookups to the past contact/account and the new account, text fields
    for the new job; no name field of its own (the person's name comes through the past contact)."""
    org.define(
        UG,
        {
            "Name": "string",
            "UserGems__Past_Contact__c": "reference",
            "UserGems__Past_Account__c": "reference",
            "UserGems__New_Account__c": "reference",
            "UserGems__New_Contact__c": "reference",
            "UserGems__Email__c": "email",
            "UserGems__New_Company__c": "string",
            "UserGems__New_Title__c": "string",
            "UserGems__Past_Relationship_Type__c": "string",
            "UserGems__Persona__c": "string",
            "UserGems__Job_Change_Date__c": "date",
        },
        {
            "UserGems__Past_Contact__c": ("UserGems__Past_Contact__r", "Contact"),
            "UserGems__Past_Account__c": ("UserGems__Past_Account__r", "Account"),
            "UserGems__New_Account__c": ("UserGems__New_Account__r", "Account"),
            "UserGems__New_Contact__c": ("UserGems__New_Contact__r", "Contact"),
        },
        key_prefix="a0X",
    )


def add_job_change(org: FakeSalesforce, contact: dict, *, n: int, at: datetime | None = None, **extra) -> str:
    values = {
        "Name": f"UG-{n:05d}",
        "UserGems__Past_Contact__c": contact["Id"],
        "UserGems__Past_Account__c": contact["AccountId"],
        "UserGems__Email__c": f"Moved{n}@NewCo{n}.com",
        "UserGems__New_Company__c": f"NewCo {n}",
        "UserGems__New_Title__c": "VP Finance",
        "UserGems__Past_Relationship_Type__c": "Champion",
        "UserGems__Job_Change_Date__c": date(2025, 3, n % 28 + 1),
    }
    values.update(extra)
    return org.add(UG, values, at=at or EPOCH + timedelta(days=200, minutes=n))


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    fake = FakeSalesforce(batch=5).start()
    populate(fake, accounts=6, activities=False)
    define_usergems(fake)
    for n, contact in enumerate(fake.live("Contact")[:8]):
        add_job_change(fake, contact, n=n)
    yield fake
    fake.stop()


def add_both(runtime: Runtime, org: FakeSalesforce, **overrides: str) -> None:
    add_connector(runtime, org, kind="salesforce", name="sf")
    add_connector(runtime, org, kind="usergems", name="ug", **overrides)


def sync_both(runtime: Runtime, **kwargs):
    crm = sync(runtime, name="sf", streams=["accounts", "contacts"])
    assert crm.status == "succeeded", crm.error
    return sync(runtime, name="ug", **kwargs)


def job_changes(runtime: Runtime) -> dict[str, m.JobChange]:
    with runtime.session() as s:
        return {j.external_id: j for j in s.scalars(select(m.JobChange).where(m.JobChange.source == "usergems"))}


def test_job_changes_land_linked_to_the_salesforce_contact_and_account(runtime: Runtime, org: FakeSalesforce) -> None:
    add_both(runtime, org)
    result = sync_both(runtime)

    assert result.status == "succeeded", result.error
    assert [(r.stream, r.tally.read, r.tally.written) for r in result.runs] == [("job_changes", 8, 8)]
    stored = job_changes(runtime)
    record = org.live(UG)[0]
    past = org.rows["Contact"][record["UserGems__Past_Contact__c"]]
    left = org.rows["Account"][record["UserGems__Past_Account__c"]]
    change = stored[record["Id"]]
    assert change.person_name == past["Name"] and change.previous_title == past["Title"]
    assert change.previous_company == left["Name"] and change.new_company == "NewCo 0"
    assert change.email == "moved0@newco0.com" and change.new_title == "VP Finance"
    assert change.detected_at == datetime(2025, 3, 1, tzinfo=UTC)
    with runtime.session() as s:
        assert s.get(m.Contact, change.contact_id).external_id == past["Id"]
        assert s.get(m.Account, change.account_id).external_id == left["Id"]
        assert s.get(m.Contact, change.contact_id).source == "salesforce"
    query = org.queries(UG)[0].soql
    assert "UserGems__Past_Contact__r.Name" in query and "UserGems__Past_Account__r.Name" in query
    assert "/queryAll/" in org.queries(UG)[0].path
    assert change.raw["UserGems__Past_Relationship_Type__c"] == "Champion"


def test_incremental_sync_reads_only_new_and_changed_job_changes(runtime: Runtime, org: FakeSalesforce) -> None:
    add_both(runtime, org)
    assert sync_both(runtime).status == "succeeded"
    saved = cursor(runtime, "job_changes", name="ug")
    first = len(org.requests)

    changed = org.live(UG)[3]["Id"]
    org.update(UG, changed, {"UserGems__New_Title__c": "CFO"})
    new = add_job_change(org, org.live("Contact")[9], n=40, at=datetime.now(UTC))
    result = sync(runtime, name="ug")

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.read == 2
    query = next(r.soql for r in org.requests[first:] if r.soql and UG in r.soql)
    assert (
        f"SystemModstamp > {saved['after_stamp']} OR (SystemModstamp = {saved['after_stamp']} AND "
        f"Id > '{saved['after_id']}')" in query
    )
    stored = job_changes(runtime)
    assert stored[changed].new_title == "CFO" and new in stored and len(stored) == 9


def test_deleted_job_changes_are_deleted(runtime: Runtime, org: FakeSalesforce) -> None:
    add_both(runtime, org)
    assert sync_both(runtime).status == "succeeded"
    gone = org.live(UG)[2]["Id"]
    org.delete(UG, gone)

    result = sync(runtime, name="ug")

    assert result.status == "succeeded" and result.runs[0].tally.deleted == 1
    assert gone not in job_changes(runtime) and len(job_changes(runtime)) == 7
    assert any(r.path.endswith(f"/sobjects/{UG}/deleted/") for r in org.requests)


def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, org: FakeSalesforce
) -> None:
    add_both(runtime, org)
    sync(runtime, name="sf", streams=["accounts", "contacts"])
    org.fail(path="/queryAll/01g", status=500, times=None)  # the second page never comes
    failed = sync(runtime, name="ug")
    assert failed.status == "failed" and "server error (500)" in failed.error
    assert len(job_changes(runtime)) == 5  # the first page was committed

    org.recover()
    resumed = sync(runtime, name="ug")

    assert resumed.status == "succeeded" and resumed.runs[0].tally.read == 3
    add_both(clean, org)
    assert sync_both(clean).status == "succeeded"
    assert snapshot(runtime, sources=("usergems",)) == snapshot(clean, sources=("usergems",))


def test_rate_limits_and_server_errors_are_survived_and_a_401_stops(runtime: Runtime, org: FakeSalesforce) -> None:
    add_both(runtime, org)
    sync(runtime, name="sf", streams=["accounts", "contacts"])
    limited = org.fail(path="/queryAll/", status=429, headers={"Retry-After": "1"})
    org.fail(path="/describe", status=503, times=2)
    result = sync(runtime, name="ug")
    assert result.status == "succeeded", result.error
    assert limited.fired == 1 and len(job_changes(runtime)) == 8

    before = cursor(runtime, "job_changes", name="ug")
    org.token = "00DRO0000000fake!rotated"
    refused = sync(runtime, name="ug")
    assert refused.status == "failed"
    assert refused.error.startswith("stream job_changes: Salesforce refused the access token (401)")
    assert cursor(runtime, "job_changes", name="ug") == before


def test_malformed_job_changes_are_quarantined_and_the_rest_land(runtime: Runtime, org: FakeSalesforce) -> None:
    nobody = org.add(
        UG, {"Name": "UG-99999", "UserGems__New_Company__c": "Nowhere Inc"}, at=EPOCH + timedelta(days=300)
    )
    add_both(runtime, org)

    result = sync_both(runtime)

    assert result.status == "succeeded" and result.runs[0].tally.quarantined == 1
    with runtime.session() as s:
        row = s.scalar(select(m.QuarantinedRecord).where(m.QuarantinedRecord.connector == "ug"))
    assert row.external_id == nobody and "job change has no person name" in row.error
    assert len(job_changes(runtime)) == 8


def test_without_the_package_the_error_says_so(runtime: Runtime) -> None:
    org = FakeSalesforce().start()
    try:
        add_connector(runtime, org, kind="usergems", name="ug")
        result = sync(runtime, name="ug")
        assert result.status == "failed"
        assert (
            f"Salesforce has no object {UG} the integration user can read: is the UserGems package "
            "installed" in result.error
        )
    finally:
        org.stop()


def test_a_field_named_in_the_settings_must_exist(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org, kind="usergems", name="ug", **{"fields.new_title": "UserGems__Job_Title__c"})
    result = sync(runtime, name="ug")
    assert result.status == "failed"
    assert result.error.endswith(
        f"{UG} has no field UserGems__Job_Title__c visible to the integration user (set as fields.new_title)"
    )


def test_ug_fields_on_contacts_are_read_when_the_connector_points_there(runtime: Runtime, org: FakeSalesforce) -> None:
    """The other delivery path: the new Contact UserGems created, with the UG - Past Contact/Account lookups
    an admin added (API names chosen by the admin)."""
    org.schema["Contact"].update(
        {"UG_Past_Contact__c": "reference", "UG_Past_Account__c": "reference", "UG_No_Longer_at_Company__c": "date"}
    )
    org.refs["Contact"].update(
        {
            "UG_Past_Contact__c": ("UG_Past_Contact__r", "Contact"),
            "UG_Past_Account__c": ("UG_Past_Account__r", "Account"),
        }
    )
    past = org.live("Contact")[0]
    new_account = org.add("Account", {"Name": "NewCo Living"}, at=EPOCH + timedelta(days=300))
    moved = org.add(
        "Contact",
        {
            "AccountId": new_account,
            "FirstName": past["FirstName"],
            "LastName": past["LastName"],
            "Email": "pat@newcoliving.com",
            "Title": "Director of Operations",
            "UG_Past_Contact__c": past["Id"],
            "UG_Past_Account__c": past["AccountId"],
        },
        at=EPOCH + timedelta(days=300),
    )
    add_both(runtime, org, object="Contact", where="UG_Past_Contact__c != null")

    result = sync_both(runtime)

    assert result.status == "succeeded", result.error
    stored = job_changes(runtime)
    assert list(stored) == [moved]
    change = stored[moved]
    assert (change.person_name, change.new_company, change.new_title) == (
        past["Name"],
        "NewCo Living",
        "Director of Operations",
    )
    assert change.previous_company == org.rows["Account"][past["AccountId"]]["Name"]
    with runtime.session() as s:
        assert s.get(m.Contact, change.contact_id).external_id == past["Id"]
    assert "AND (UG_Past_Contact__c != null)" in org.queries("Contact")[-1].soql


def test_add_test_and_sync_through_the_command_line(org: FakeSalesforce, env: dict[str, str]) -> None:
    env = {**env, "SOPHIA_USERGEMS_TOKEN": org.token}
    added = sophia(
        "connectors", "add", "usergems", "--name", "ug", *set_args({"base_url": org.url, **TEST_SETTINGS}), env=env
    )
    assert added.returncode == 0, added.stderr
    assert "token=env:SOPHIA_USERGEMS_TOKEN" in added.stdout
    tested = sophia("connectors", "test", "ug", env=env)
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith(f"ok: ug: Salesforce at {org.url} holds UserGems data in {UG}; reading ")
    synced = sophia("sync", "ug", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    record = json.loads(synced.stdout)
    assert record["status"] == "succeeded" and record["records_read"] == 8
