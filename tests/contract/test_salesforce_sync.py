"""The real Salesforce connector, runner and ingest path against the fake Salesforce org at the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.bus import make_bus
from core.db import models as m
from core.metrics.stages import canonical_stage
from core.runtime import Runtime
from tests.contract.fake_salesforce import (
    CONCURRENT,
    EPOCH,
    TOTAL_REQUESTS,
    FakeSalesforce,
    add_connector,
    counts,
    cursor,
    populate,
    sf_time,
    snapshot,
    sync,
)
from tests.contract.sync_helpers import FAULTS, fail_forever, refused_and_retry

STREAMS = ["accounts", "contacts", "deals", "tasks", "events"]
ACCOUNTS = 12


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    """An org of 12 accounts, each with 2 contacts, an opportunity, a task and an event; pages of 5 rows."""
    fake = FakeSalesforce(batch=5).start()
    populate(fake, accounts=ACCOUNTS)
    yield fake
    fake.stop()


def clean_snapshot(clean: Runtime, org: FakeSalesforce) -> dict:
    add_connector(clean, org)
    result = sync(clean)
    assert result.status == "succeeded", result.error
    return snapshot(clean)


def expected_history_rows(histories: list[dict]) -> int:
    """Stage history rows ours keeps: each opportunity's stages as ours, consecutive repeats collapsed (two
    default Salesforce stages map to our demo, two to our proposal; amount-only changes repeat a stage)."""
    total = 0
    for opp in {h["OpportunityId"] for h in histories}:
        stages = [
            canonical_stage(h["StageName"], source="salesforce")
            for h in sorted(histories, key=lambda h: h["CreatedDate"])
            if h["OpportunityId"] == opp
        ]
        total += sum(1 for i, stage in enumerate(stages) if i == 0 or stages[i - 1] != stage)
    return total


def reads(result) -> dict[str, int]:
    return {r.stream: r.tally.read for r in result.runs}


def test_full_sync_lands_every_record_with_its_relations(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert [r.stream for r in result.runs] == STREAMS
    histories = org.live("OpportunityHistory")
    assert counts(runtime) == {
        "accounts": 12,
        "contacts": 24,
        "deals": 12,
        "activities": 24,
        "deal_stage_history": expected_history_rows(histories),
    }
    with runtime.session() as s:
        sf_contact = org.live("Contact")[0]
        contact = s.scalar(select(m.Contact).where(m.Contact.external_id == sf_contact["Id"]))
        account = s.get(m.Account, contact.account_id)
        assert account.external_id == sf_contact["AccountId"] and contact.email == sf_contact["Email"].lower()
        assert account.domain.startswith("propco") and account.owner.endswith("@payready.com")
        assert account.lifecycle_stage in ("prospect", "live")
        sf_opp = org.live("Opportunity")[0]
        deal = s.scalar(select(m.Deal).where(m.Deal.external_id == sf_opp["Id"]))
        assert deal.account_id is not None and deal.owner.endswith("@payready.com")
        assert deal.amount == sf_opp["Amount"] and deal.currency == "USD"
        stamps = [h["CreatedDate"] for h in histories if h["OpportunityId"] == sf_opp["Id"]]
        assert deal.stage_history[0].entered_at == min(stamps)
        assert deal.stage == deal.stage_history[-1].stage and deal.stage_entered_at == deal.stage_history[-1].entered_at
        types = dict(s.execute(select(m.Activity.type, func.count()).group_by(m.Activity.type)).all())
        assert types == {"call": 12, "meeting": 12}
        call = s.scalar(select(m.Activity).where(m.Activity.type == "call"))
        assert call.account_id and call.contact_id and call.deal_id and call.body == "Talked about rent collections"
        meeting = s.scalar(select(m.Activity).where(m.Activity.type == "meeting"))
        assert meeting.occurred_at.hour == 15 and meeting.occurred_at.utcoffset() == timedelta(0)
        runs = s.scalars(select(m.PipelineRun).order_by(m.PipelineRun.id)).all()
    assert [(r.stream, r.status, r.records_read, r.records_written) for r in runs[:3]] == [
        ("accounts", "succeeded", 12, 12),
        ("contacts", "succeeded", 24, 24),
        ("deals", "succeeded", 12, 12),
    ]
    last_account = max(org.live("Account"), key=lambda r: (r["SystemModstamp"], r["Id"]))
    assert runs[0].cursor_before is None
    assert runs[0].cursor_after["after_stamp"] == sf_time(last_account["SystemModstamp"])  # verbatim, .000+0000
    assert runs[0].cursor_after["after_id"] == last_account["Id"] and runs[0].cursor_after["until"] is None
    # every page of a stream came from ONE queryAll followed through nextRecordsUrl
    account_reads = [r for r in org.requests if "/queryAll/" in r.path and (r.soql is None or "FROM Account" in r.soql)]
    assert [r.soql is not None for r in account_reads[:3]] == [True, False, False]
    assert all(r.headers.get("sforce-query-options") == "batchSize=2000" for r in org.queries())
    bus = make_bus(runtime.settings)
    events = bus.read("records", count=1000)
    bus.close()
    assert sum(e.data["count"] for e in events if e.data["entity"] == "accounts") == 12
    assert all(e.data["source"] == "salesforce" for e in events)


def test_incremental_sync_reads_only_what_changed(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    assert sync(runtime).status == "succeeded"
    saved = cursor(runtime, "accounts")
    first = len(org.requests)

    a, b = org.live("Account")[2]["Id"], org.live("Account")[7]["Id"]
    org.update("Account", a, {"Name": "Renamed Properties"})
    org.update("Account", b, {"Type": "Customer - Channel"})
    opp = org.live("Opportunity")[0]["Id"]
    org.update("Opportunity", opp, {"StageName": "Negotiation/Review"})
    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert reads(result) == {"accounts": 2, "contacts": 0, "deals": 1, "tasks": 0, "events": 0}
    account_query = next(r.soql for r in org.requests[first:] if r.soql and "FROM Account" in r.soql)
    s_, id_ = saved["after_stamp"], saved["after_id"]
    assert (
        f"WHERE (SystemModstamp > {s_} OR (SystemModstamp = {s_} AND Id > '{id_}')) AND SystemModstamp <= "
        in account_query
    )
    assert "ORDER BY SystemModstamp ASC, Id ASC" in account_query
    with runtime.session() as s:
        assert s.scalar(select(m.Account.name).where(m.Account.external_id == a)) == "Renamed Properties"
        assert s.scalar(select(m.Account.lifecycle_stage).where(m.Account.external_id == b)) == "live"
        deal = s.scalar(select(m.Deal).where(m.Deal.external_id == opp))
        assert deal.stage == "negotiation" and deal.stage_history[-1].stage == "negotiation"


def test_deletes_from_the_recycle_bin_and_the_delete_log_are_applied(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    assert sync(runtime).status == "succeeded"
    binned_account = org.live("Account")[0]["Id"]
    binned_task = org.live("Task")[3]["Id"]
    purged_opp = org.live("Opportunity")[5]["Id"]  # emptied from the bin: only getDeleted still knows it
    org.delete("Account", binned_account)
    org.delete("Task", binned_task)
    # getDeleted ignores seconds (a delete in the current minute is the next pass's): this one is older
    org.delete("Opportunity", purged_opp, purge=True, at=datetime.now(UTC) - timedelta(seconds=90))

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.deleted for r in result.runs if r.tally.deleted} == {
        "accounts": 1,
        "deals": 1,
        "tasks": 1,
    }
    with runtime.session() as s:
        assert s.scalar(select(m.Account).where(m.Account.external_id == binned_account)) is None
        assert s.scalar(select(m.Activity).where(m.Activity.external_id == binned_task)) is None
        assert s.scalar(select(m.Deal).where(m.Deal.external_id == purged_opp)) is None
        assert s.scalar(select(func.count()).select_from(m.Contact).where(m.Contact.account_id.is_(None))) == 2
    asked = [r for r in org.requests if r.path.endswith("/sobjects/Opportunity/deleted/")]
    assert asked and {"start", "end"} <= asked[-1].query.keys()
    assert all(r.status == 200 for r in org.requests)  # every getDeleted window was one Salesforce accepts
    again = sync(runtime)  # the same deletes seen again change nothing
    assert again.status == "succeeded" and counts(runtime)["accounts"] == 11


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, org: FakeSalesforce, fault: str
) -> None:
    add_connector(runtime, org)
    # accounts go through; contacts fail on their 3rd page (2 committed), forever, until Salesforce recovers
    fail_forever(org, fault, path="/queryAll/01g", after=3)  # locators: the 2 of accounts, then contacts'

    failed = sync(runtime)

    assert failed.status == "failed"
    assert failed.runs[-1].stream == "contacts" and "gave up after 3 attempts" in failed.error
    assert ("server error (500)" if fault == "500 forever" else "could not reach Salesforce") in failed.error
    saved = cursor(runtime, "contacts")
    assert saved["after_id"] is not None and saved["next_url"] is not None  # two committed pages
    assert counts(runtime)["contacts"] == 10

    org.recover()
    first = len(org.requests)
    resumed = sync(runtime)

    assert resumed.status == "succeeded", resumed.error
    assert reads(resumed)["contacts"] == 24 - 10  # only what was left
    # a new process does not trust the old locator: it re-anchors on the last (SystemModstamp, Id) committed
    again = next(r.soql for r in org.requests[first:] if r.soql and "FROM Contact" in r.soql)
    assert (
        f"(SystemModstamp > {saved['after_stamp']} OR (SystemModstamp = {saved['after_stamp']} AND "
        f"Id > '{saved['after_id']}'))" in again
    )
    assert snapshot(runtime) == clean_snapshot(clean, org)


def test_rows_sharing_one_stamp_across_pages_are_read_once_each(runtime: Runtime, clean: Runtime, tmp_path) -> None:
    org = FakeSalesforce(batch=5).start()
    try:
        at = EPOCH + timedelta(days=3)
        ids = [org.add("Account", {"Name": f"Same Second {i}"}, at=at) for i in range(13)]
        add_connector(runtime, org)
        org.fail(path="/queryAll/01g", after=1, status=500, times=None)  # page 3 never comes: 10 committed
        assert sync(runtime, streams=["accounts"]).status == "failed"
        org.recover()
        assert sync(runtime, streams=["accounts"]).status == "succeeded"
        with runtime.session() as s:
            stored = s.scalars(select(m.Account.external_id).where(m.Account.source == "salesforce")).all()
        assert sorted(stored) == sorted(ids)
        assert snapshot(runtime) == clean_snapshot(clean, org)
    finally:
        org.stop()


def test_an_expired_query_locator_is_replaced_by_a_query_re_anchored_on_the_cursor(
    runtime: Runtime, clean: Runtime, org: FakeSalesforce
) -> None:
    add_connector(runtime, org)
    expired = org.fail(
        path="/queryAll/01g",
        after=1,
        status=400,
        times=1,
        body=[{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}],
    )

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert expired.fired == 1
    assert reads(result)["accounts"] == ACCOUNTS and reads(result)["contacts"] == 24
    assert sum(1 for q in org.queries("Account") if "Id > '" in q.soql) == 1
    assert snapshot(runtime) == clean_snapshot(clean, org)


def test_rate_limits_and_server_errors_are_survived(runtime: Runtime, clean: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    limited = org.fail(path="/queryAll/01g", after=1, status=429, headers={"Retry-After": "1"})
    concurrent = org.fail(
        path="/queryAll/",
        status=403,
        body=CONCURRENT,
        times=1,
        when=lambda r: bool(r.soql and "FROM Opportunity" in r.soql),
    )
    org.fail(path="/query/", status=503, times=2)  # the owners and history lookups
    org.fail(path="/describe", status=500, times=1)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert limited.fired == 1 and concurrent.fired == 1
    refused, retry = refused_and_retry(
        [r for r in org.requests if r.path.startswith("/services/data/v59.0/queryAll/01g")]
    )
    assert retry.at - refused.at >= 1.0  # Retry-After honoured
    org.recover()
    assert snapshot(runtime) == clean_snapshot(clean, org)


def test_the_orgs_daily_allocation_used_up_stops_at_once_and_keeps_the_cursor(
    runtime: Runtime, org: FakeSalesforce
) -> None:
    add_connector(runtime, org)
    assert sync(runtime, streams=["accounts"]).status == "succeeded"
    before = cursor(runtime, "accounts")
    org.fail(path="/queryAll/", status=403, body=TOTAL_REQUESTS, times=None)
    first = len(org.requests)

    result = sync(runtime, streams=["accounts"])

    assert result.status == "failed" and "API request allocation for this org is used up" in result.error
    assert "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in result.error
    assert sum(1 for r in org.requests[first:] if "/queryAll/" in r.path) == 1  # not retried
    assert cursor(runtime, "accounts") == before


def test_the_run_stops_before_it_eats_the_rest_of_the_orgs_api_allocation(
    runtime: Runtime, org: FakeSalesforce
) -> None:
    org.api_allocation = 1000
    org.api_used = 895  # the org's other integrations use it too
    add_connector(runtime, org)

    result = sync(runtime)

    assert result.status == "failed"
    assert "API usage for this org is at 90" in result.error and "api_usage_max_ratio=0.9" in result.error
    assert org.api_used <= 901


def test_401_stops_the_run_keeps_the_cursor_and_names_the_cause(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    assert sync(runtime).status == "succeeded"
    before = {s: cursor(runtime, s) for s in STREAMS}
    stored = snapshot(runtime)
    org.update("Account", org.live("Account")[0]["Id"], {"Name": "Changed"})
    org.token = "00DRO0000000fake!rotated-by-an-admin-000000"  # the connector's token is no longer valid

    result = sync(runtime)

    assert result.status == "failed"
    assert len(result.runs) == 1  # stopped at the first stream
    assert result.error.startswith(
        "stream accounts: Salesforce refused the access token (401): INVALID_SESSION_ID: Session expired or invalid"
    )
    assert org.token not in result.error and "rotated" not in result.error
    assert {s: cursor(runtime, s) for s in STREAMS} == before
    assert snapshot(runtime) == stored
    with runtime.session() as s:
        run = s.scalar(select(m.PipelineRun).order_by(m.PipelineRun.id.desc()))
    assert run.status == "failed" and "401" in run.error and run.cursor_after == run.cursor_before


def test_an_expired_token_is_renewed_with_the_refresh_token(
    runtime: Runtime, clean: Runtime, org: FakeSalesforce
) -> None:
    org.refresh_token, org.client_id = "5Aep861-fake-refresh-token", "3MVG9-fake-consumer-key"
    add_connector(
        runtime,
        org,
        token="00DRO0000000fake!expired-long-ago",
        refresh_token=org.refresh_token,
        client_id=org.client_id,
        client_secret="fake-consumer-secret",
        login_url=org.url,
    )

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    token_calls = [r for r in org.requests if r.path == "/services/oauth2/token"]
    assert len(token_calls) == 1 and "grant_type=refresh_token" in token_calls[0].body
    assert snapshot(runtime) == clean_snapshot(clean, org)

    org.refresh_token = "revoked"
    org.token = "00DRO0000000fake!expired-again"
    failed = sync(runtime)
    assert failed.status == "failed"
    assert "Salesforce refused the refresh token (400): invalid_grant: expired access/refresh token" in failed.error
    assert "5Aep861" not in failed.error


def test_malformed_records_are_quarantined_and_the_rest_land(runtime: Runtime, org: FakeSalesforce) -> None:
    at = EPOCH + timedelta(days=400)
    acct = org.live("Account")[0]["Id"]
    bad = {
        org.add("Account", {"Website": "nameless.com"}, at=at): "account has no Name",
        org.add(
            "Opportunity", {"Name": "Odd", "StageName": "Closed Won", "Amount": "lots", "AccountId": acct}, at=at
        ): "Amount",
        org.add(
            "Opportunity", {"Name": "Custom", "StageName": "Verbal Commit", "AccountId": acct}, at=at
        ): "stage_map.Verbal Commit",
        org.add("Contact", {"AccountId": acct, "Title": "Ghost"}, at=at): "neither a name nor an email",
    }
    add_connector(runtime, org)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.quarantined for r in result.runs if r.tally.quarantined} == {
        "accounts": 1,
        "contacts": 1,
        "deals": 2,
    }
    with runtime.session() as s:
        rows = s.scalars(select(m.QuarantinedRecord)).all()
    assert {r.external_id for r in rows} == bad.keys()
    for row in rows:
        assert bad[row.external_id] in row.error
        assert row.payload["Id"] == row.external_id and row.connector == "sf" and row.run_id
    assert counts(runtime)["deals"] == 12 and counts(runtime)["accounts"] == 12


def test_the_orgs_own_stages_map_through_stage_map_and_the_stage_rows(runtime: Runtime, org: FakeSalesforce) -> None:
    acct = org.live("Account")[0]["Id"]
    org.add("OpportunityStage", {"MasterLabel": "Signed", "IsActive": True, "IsClosed": True, "IsWon": True})
    verbal = org.add("Opportunity", {"Name": "Verbal", "StageName": "Verbal Commit", "AccountId": acct})
    signed = org.add("Opportunity", {"Name": "Signed", "StageName": "Signed", "AccountId": acct})
    add_connector(runtime, org, **{"stage_map.Verbal Commit": "negotiation"})

    assert sync(runtime, streams=["accounts", "deals"]).status == "succeeded"

    with runtime.session() as s:
        stages = dict(
            s.execute(select(m.Deal.external_id, m.Deal.stage).where(m.Deal.external_id.in_([verbal, signed]))).all()
        )
    assert stages == {verbal: "negotiation", signed: "closed_won"}


def test_a_field_the_integration_user_cannot_see_is_named(runtime: Runtime, org: FakeSalesforce) -> None:
    org.hidden["Opportunity"] = {"Amount"}
    org.hidden["Account"] = {"Website"}  # optional: simply not read
    add_connector(runtime, org)

    result = sync(runtime)

    assert [r.status for r in result.runs] == ["succeeded", "succeeded", "failed"]
    assert result.error == (
        "stream deals: Salesforce shows the integration user no Opportunity field Amount; "
        "give its profile read access to it"
    )
    assert all("Website" not in q.soql for q in org.queries("Account"))


def test_a_multi_currency_org_gives_each_deal_its_currency(runtime: Runtime) -> None:
    org = FakeSalesforce(multi_currency=True).start()
    try:
        populate(org, accounts=2, activities=False)
        org.update("Opportunity", org.live("Opportunity")[0]["Id"], {"CurrencyIsoCode": "CAD"})
        add_connector(runtime, org)
        assert sync(runtime, streams=["deals"]).status == "succeeded"
        with runtime.session() as s:
            assert sorted(s.scalars(select(m.Deal.currency))) == ["CAD", "USD"]
        assert all("CurrencyIsoCode" in q.soql for q in org.queries("Opportunity"))
    finally:
        org.stop()


def test_full_resync_rereads_everything_and_changes_nothing(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org)
    assert sync(runtime).status == "succeeded"
    first = snapshot(runtime)
    result = sync(runtime, full=True)
    assert result.status == "succeeded"
    assert reads(result)["accounts"] == ACCOUNTS
    assert snapshot(runtime) == first


def test_the_window_stops_short_of_the_modstamp_lag(runtime: Runtime, org: FakeSalesforce) -> None:
    add_connector(runtime, org, modstamp_lag_s="120")
    fresh = org.live("Account")[0]["Id"]
    org.update("Account", fresh, {"Name": "Just Now"}, at=datetime.now(UTC))
    assert sync(runtime, streams=["accounts"]).status == "succeeded"
    with runtime.session() as s:
        # modified within the lag: a transaction still committing may share its stamp; a later pass reads it
        assert s.scalar(select(m.Account).where(m.Account.external_id == fresh)) is None
        assert s.scalar(select(func.count()).select_from(m.Account)) == ACCOUNTS - 1
