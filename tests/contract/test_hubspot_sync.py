"""The real HubSpot connector, runner and ingest path against the fake HubSpot at the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from connectors.base import ConnectorError
from connectors.registry import KINDS
from core.bus import make_bus
from core.crypto import SecretBox
from core.db import models as m
from core.pipelines import check_connector
from core.pipelines.manage import stage_mappings, update_settings
from core.runtime import Runtime
from tests.contract.fake_hubspot import EPOCH, RENEWAL_STAGES, FakeHubSpot, ms, pipeline, populate
from tests.contract.hubspot_utils import add_hubspot, counts, cursor, snapshot, sync
from tests.contract.sync_helpers import FAULTS, fail_forever, refused_and_retry, unused_port

STREAMS = ["companies", "contacts", "deals", "notes", "emails", "meetings", "calls"]


def clean_snapshot(clean: Runtime, fake: FakeHubSpot) -> dict:
    add_hubspot(clean, fake)
    assert sync(clean).status == "succeeded"
    return snapshot(clean)


def test_full_sync_lands_every_record_with_its_relations(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert [r.stream for r in result.runs] == STREAMS
    engagements = sum(len(fake.live(k)) for k in ("notes", "emails", "meetings", "calls"))
    assert counts(runtime) == {
        "accounts": 12,
        "contacts": 24,
        "deals": 12,
        "activities": engagements,
        "deal_stage_history": sum(len(o.history["dealstage"]) for o in fake.live("deals")),
    }
    with runtime.session() as s:
        contact = s.scalar(select(m.Contact).where(m.Contact.external_id == fake.live("contacts")[0].id))
        assert contact.account_id is not None and contact.email == contact.email.lower()
        hub_deal = fake.live("deals")[0]
        deal = s.scalar(select(m.Deal).where(m.Deal.external_id == hub_deal.id))
        assert deal.account_id is not None and deal.owner.endswith("@payready.com")
        assert deal.amount == float(hub_deal.properties["amount"])
        assert [h.entered_at for h in deal.stage_history] == [t for _, t in hub_deal.history["dealstage"]]
        assert deal.stage == deal.stage_history[-1].stage and deal.stage_entered_at == deal.stage_history[-1].entered_at
        types = dict(s.execute(select(m.Activity.type, func.count()).group_by(m.Activity.type)).all())
        assert types == {"note": 12, "email": 12, "meeting": 12, "call": 12}
        note = s.scalar(select(m.Activity).where(m.Activity.type == "note"))
        assert "<" not in note.body and note.account_id and note.contact_id and note.deal_id
        runs = s.scalars(select(m.PipelineRun).order_by(m.PipelineRun.id)).all()
    assert [(r.stream, r.status, r.records_read, r.records_written) for r in runs[:3]] == [
        ("companies", "succeeded", 12, 12),
        ("contacts", "succeeded", 24, 24),
        ("deals", "succeeded", 12, 12),
    ]
    assert runs[0].cursor_before is None and runs[0].cursor_after["since_ms"] > ms(EPOCH)
    # the search never pages by offset: every query is re-anchored on the last id read
    assert all("after" not in body for body in fake.searches())
    # one event per committed batch that wrote something
    bus = make_bus(runtime.settings)
    events = bus.read("records", count=1000)
    bus.close()
    assert sum(e.data["count"] for e in events if e.data["entity"] == "accounts") == 12
    assert all(e.data["source"] == "hubspot" and e.data["ids"] for e in events)


def test_incremental_sync_reads_only_what_changed(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    since = cursor(runtime, "companies")["since_ms"]
    first = len(fake.requests)

    a, b = fake.live("companies")[2].id, fake.live("companies")[7].id
    fake.update("companies", a, {"name": "Renamed Properties"})
    fake.update("companies", b, {"lifecyclestage": "customer"})
    deal = fake.live("deals")[0]
    fake.update("deals", deal.id, {"dealstage": "contractsent"})
    result = sync(runtime)

    assert result.status == "succeeded", result.error
    reads = {r.stream: r.tally.read for r in result.runs}
    assert reads == {"companies": 2, "contacts": 0, "deals": 1, "notes": 0, "emails": 0, "meetings": 0, "calls": 0}
    searches = [r for r in fake.requests[first:] if r.path == "/crm/v3/objects/companies/search"]
    filters = searches[0].body["filterGroups"][0]["filters"]
    assert {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(since)} in filters
    with runtime.session() as s:
        assert s.scalar(select(m.Account.name).where(m.Account.external_id == a)) == "Renamed Properties"
        assert s.scalar(select(m.Account.lifecycle_stage).where(m.Account.external_id == b)) == "live"
        stored = s.scalar(select(m.Deal).where(m.Deal.external_id == deal.id))
        assert stored.stage == "negotiation" and stored.stage_history[-1].stage == "negotiation"


def test_archived_records_are_deleted(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    gone_company = fake.live("companies")[0].id
    gone_note = fake.live("notes")[3].id
    fake.archive("companies", gone_company)
    fake.archive("notes", gone_note)

    result = sync(runtime)

    assert result.status == "succeeded"
    assert {r.stream: r.tally.deleted for r in result.runs if r.tally.deleted} == {"companies": 1, "notes": 1}
    with runtime.session() as s:
        assert s.scalar(select(m.Account).where(m.Account.external_id == gone_company)) is None
        assert s.scalar(select(m.Activity).where(m.Activity.external_id == f"note:{gone_note}")) is None
    # archived before the window: not deleted again
    again = sync(runtime)
    assert sum(r.tally.deleted for r in again.runs) == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    runtime: Runtime, clean: Runtime, fake: FakeHubSpot, fault: str
) -> None:
    add_hubspot(runtime, fake)
    # companies and contacts go through; deals fail after their 2nd page, forever, until the vendor recovers
    fail_forever(fake, fault, path="/crm/v3/objects/deals/search", after=2)

    failed = sync(runtime)

    assert failed.status == "failed"
    assert failed.runs[-1].stream == "deals" and "gave up after 3 attempts" in failed.error
    assert ("server error (500)" if fault == "500 forever" else "could not reach HubSpot") in failed.error
    saved = cursor(runtime, "deals")
    assert saved["after_id"] is not None and saved["phase"] == "changes"  # two committed pages
    assert counts(runtime)["deals"] == 10

    fake.recover()
    resumed = sync(runtime)

    assert resumed.status == "succeeded", resumed.error
    assert resumed.runs[2].stream == "deals" and resumed.runs[2].tally.read == 2  # only what was left
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_rate_limits_and_server_errors_are_survived(runtime: Runtime, clean: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    limited = fake.fail(path="/crm/v3/objects/contacts/search", after=1, status=429, headers={"Retry-After": "1"})
    fake.fail(path="/batch/read", status=503, times=2)
    fake.fail(path="/crm/v3/owners", status=502, times=1)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert limited.fired == 1
    refused, retry = refused_and_retry([r for r in fake.requests if r.path == "/crm/v3/objects/contacts/search"])
    assert retry.at - refused.at >= 1.0  # Retry-After honoured
    fake.recover()
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_daily_limit_fails_at_once(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    daily = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
    }
    fake.fail(path="/search", status=429, times=None, body=daily)

    result = sync(runtime)

    assert result.status == "failed" and "daily API limit" in result.error
    assert len(fake.searches()) == 1  # not retried: it does not lift in seconds


def test_401_stops_the_run_keeps_the_cursor_and_names_the_cause(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    before = {s: cursor(runtime, s) for s in STREAMS}
    stored = snapshot(runtime)
    fake.update("companies", fake.live("companies")[0].id, {"name": "Changed"})
    fake.fail(status=401, times=None)

    result = sync(runtime)

    assert result.status == "failed"
    assert len(result.runs) == 1  # stopped at the first stream
    assert result.error.startswith("stream companies: HubSpot refused the credentials (401)")
    assert fake.token not in result.error
    assert {s: cursor(runtime, s) for s in STREAMS} == before
    assert snapshot(runtime) == stored
    with runtime.session() as s:
        run = s.scalar(select(m.PipelineRun).order_by(m.PipelineRun.id.desc()))
    assert run.status == "failed" and "401" in run.error and run.cursor_after == run.cursor_before


def test_malformed_records_are_quarantined_and_the_rest_land(runtime: Runtime, fake: FakeHubSpot) -> None:
    at = EPOCH + timedelta(days=400)
    bad = {
        fake.add("deals", {"amount": "1000", "dealstage": "closedwon"}, modified=at): "deal has no dealname",
        fake.add("deals", {"dealname": "Odd", "amount": "lots", "dealstage": "closedwon"}, modified=at): "amount",
        fake.add("deals", {"dealname": "Custom", "dealstage": "9911"}, modified=at): "stage_map.9911",
        fake.add("companies", {"city": "Nowhere"}, modified=at): "neither a name nor a domain",
    }
    add_hubspot(runtime, fake)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    quarantined = {r.stream: r.tally.quarantined for r in result.runs if r.tally.quarantined}
    assert quarantined == {"companies": 1, "deals": 3}
    with runtime.session() as s:
        rows = s.scalars(select(m.QuarantinedRecord)).all()
    assert {r.external_id: r for r in rows}.keys() == bad.keys()
    for row in rows:
        assert bad[row.external_id] in row.error
        assert row.payload["id"] == row.external_id and row.connector == "hs" and row.run_id
    assert counts(runtime)["deals"] == 12 and counts(runtime)["accounts"] == 12


def test_the_first_sync_of_a_portal_with_pipelines_of_its_own_succeeds_and_shows_its_stage_mapping(
    runtime: Runtime, fake: FakeHubSpot
) -> None:
    # besides the default pipeline and "Renewals & Expansion" (every third deal), one set up loosely: no
    # probabilities, and a closed stage whose label says neither won nor lost
    loose = [("2201", "Intro", None, False), ("2202", "Pilot", None, False), ("2203", "Parked", None, True)]
    fake.pipelines.append(pipeline("2200", "Partner deals", loose, order=2))
    at = EPOCH + timedelta(days=400)
    moved = [
        ("retired-77", at - timedelta(days=9)),
        ("2201", at - timedelta(days=5)),
        ("2202", at),
    ]  # a stage since deleted
    pilot = fake.add(
        "deals",
        {"dealname": "Pilot", "dealstage": "2202", "amount": "", "x_custom": "?"},
        modified=at,
        history={"dealstage": moved},
    )
    parked = fake.add("deals", {"dealname": "Parked", "dealstage": "2203", "pipeline": "2200"}, modified=at)
    # a strict failure budget: more than one deal quarantined fails the run
    add_hubspot(runtime, fake, quarantine_max_count="1", quarantine_max_ratio="0.05")

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert {r.stream: r.tally.quarantined for r in result.runs if r.tally.quarantined} == {"deals": 1}
    ours = dict(
        zip(
            [sid for sid, _, _ in RENEWAL_STAGES],
            ["qualified", "discovery", "demo", "proposal", "negotiation", "closed_won", "closed_lost"],
            strict=True,
        )
    )
    with runtime.session() as s:
        stored = dict(s.execute(select(m.Deal.external_id, m.Deal.stage)).all())
        quarantined = s.scalars(select(m.QuarantinedRecord)).all()
    renewals = [d for d in fake.live("deals") if d.properties.get("pipeline") == "1131900"]
    assert len(renewals) == 4 and all(stored[d.id] == ours[d.properties["dealstage"]] for d in renewals)
    assert stored[pilot] == "negotiation"  # the last of its pipeline's two open stages
    with runtime.session() as s:
        pilot_history = s.scalar(select(m.Deal).where(m.Deal.external_id == pilot)).stage_history
        assert [(h.stage, h.entered_at) for h in pilot_history] == [("lead", moved[1][1]), ("negotiation", at)]
    assert [(q.external_id, "stage_map.2203" in q.error) for q in quarantined] == [(parked, True)]

    rows = {r.stage_id: r for r in stage_mappings(runtime=runtime, kinds=KINDS, name="hs")}
    assert (rows["1131913"].pipeline, rows["1131913"].label) == ("Renewals & Expansion", "Renewal in discussion")
    assert {sid: (rows[sid].stage, rows[sid].source) for sid in ("closedwon", "1131913", "2201", "2203")} == {
        "closedwon": ("closed_won", "default"),
        "1131913": ("demo", "inferred"),
        "2201": ("lead", "inferred"),
        "2203": (None, "unmapped"),
    }
    with runtime.session() as s:  # the stage_map overrides what was inferred
        update_settings(
            session=s,
            box=SecretBox.from_settings(runtime.settings),
            kinds=KINDS,
            name="hs",
            values={"stage_map": '{"2203": "closed_lost", "1131913": "proposal"}'},
            actor="test",
        )
    rows = {r.stage_id: r for r in stage_mappings(runtime=runtime, kinds=KINDS, name="hs")}
    assert [(rows[sid].stage, rows[sid].source) for sid in ("1131913", "2203")] == [
        ("proposal", "override"),
        ("closed_lost", "override"),
    ]


def test_too_many_malformed_records_fail_the_run_before_the_page_that_crossed_the_limit(
    runtime: Runtime, fake: FakeHubSpot
) -> None:
    at = EPOCH + timedelta(days=400)
    for i in range(8):
        fake.add("deals", {"dealname": f"Bad {i}", "dealstage": "nonsense"}, modified=at)
    add_hubspot(runtime, fake, quarantine_max_count="3", quarantine_max_ratio="0.2")

    result = sync(runtime, streams=["companies", "deals"])

    assert result.status == "failed" and "too many malformed records" in result.error
    deals = result.runs[-1]
    assert deals.stream == "deals" and deals.tally.quarantined <= 3
    saved = cursor(runtime, "deals")
    assert saved is None or saved["phase"] == "changes"  # never past the bad records


def test_many_changes_in_one_window_never_hit_the_search_cap(runtime: Runtime, clean: Runtime) -> None:
    fake = FakeHubSpot(search_cap=20).start()  # HubSpot's cap is 10,000; scaled down to keep this fast
    try:
        populate(fake, companies=45, engagements=False)
        add_hubspot(runtime, fake, page_size="10")
        result = sync(runtime, streams=["companies", "contacts", "deals"])
        assert result.status == "succeeded", result.error
        assert [r.tally.read for r in result.runs] == [45, 90, 45]
        assert all(r.status == 200 for r in fake.requests)
    finally:
        fake.stop()


def test_a_record_modified_during_a_pass_is_read_by_the_next(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    companies = fake.live("companies")
    fake.fail(path="/crm/v3/objects/companies/search", after=1, status=500, times=None)
    assert sync(runtime, streams=["companies"]).status == "failed"  # first page committed, pass in progress
    # a company already read is modified now: its new date is past the pass's window
    fake.update("companies", companies[0].id, {"name": "Modified Mid-Pass"})
    fake.recover()

    assert sync(runtime, streams=["companies"]).status == "succeeded"  # finishes the pass
    assert sync(runtime, streams=["companies"]).status == "succeeded"  # the next pass reads the change
    with runtime.session() as s:
        assert s.scalar(select(m.Account.name).where(m.Account.external_id == companies[0].id)) == "Modified Mid-Pass"
        assert s.scalar(select(func.count()).select_from(m.Account)) == 12


def test_full_resync_rereads_everything_and_changes_nothing(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    first = snapshot(runtime)
    result = sync(runtime, full=True)
    assert result.status == "succeeded"
    assert result.runs[0].tally.read == 12
    assert snapshot(runtime) == first


def test_the_modified_window_is_bounded_by_the_search_lag(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake, search_lag_s="120")
    fresh = fake.live("companies")[0].id
    fake.update("companies", fresh, {"name": "Just Now"}, at=datetime.now(UTC))
    assert sync(runtime, streams=["companies"]).status == "succeeded"
    with runtime.session() as s:
        # modified within the lag: the search index may not have it yet, so this pass leaves it to a later one
        assert s.scalar(select(m.Account).where(m.Account.external_id == fresh)) is None
        assert s.scalar(select(func.count()).select_from(m.Account)) == 11


def test_a_connection_test_fails_at_once_and_says_why_plainly(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)  # max_attempts=3: a sync would try three times
    fake.fail(status=503, times=None)

    with pytest.raises(ConnectorError) as failed:
        check_connector(runtime=runtime, kinds=KINDS, name="hs")

    assert len(fake.requests) == 1  # a check is not retried
    assert failed.value.message.startswith("HubSpot had a server error (503)") and "gave up" not in failed.value.message

    port = unused_port()
    add_hubspot(runtime, fake, name="down", base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectorError) as refused:
        check_connector(runtime=runtime, kinds=KINDS, name="down")
    assert refused.value.message == (
        f"could not reach HubSpot: 127.0.0.1:{port} refused the connection; check base_url and the network"
    )
