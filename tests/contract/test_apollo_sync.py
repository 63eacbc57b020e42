"""The real Apollo connector, runner and ingest path against the fake Apollo at the wire: people search into
prospects (slices, paging caps), organisation enrichment of our accounts (bounded, patching only Apollo's fields)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.db import models as m
from core.ingest import ingest_records
from core.runtime import Runtime
from tests.contract.fake_apollo import FakeApollo, add_apollo, populate
from tests.contract.sync_helpers import FAULTS, cursor, fail_forever, refused_and_retry, rows, sync

CRM = [  # our accounts, as the CRM sync stored them
    {"external_id": "c0", "name": "Property Co 0", "domain": "propco0.com", "owner": "rep@payready.com"},
    {"external_id": "c1", "name": "Property Co 1", "domain": "https://www.PropCo1.com/about"},
    {"external_id": "c2", "name": "Property Co 2", "domain": "propco2.com", "pms": "Entrata"},
    {"external_id": "c3", "name": "Unknown To Apollo", "domain": "nowhere.example"},
    {"external_id": "c4", "name": "No Domain"},
]


@pytest.fixture
def fake() -> Iterator[FakeApollo]:
    apollo = FakeApollo().start()
    populate(apollo)
    yield apollo
    apollo.stop()


def setup(runtime: Runtime, fake: FakeApollo, **overrides: str) -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    with runtime.session() as session:
        ingest_records(
            session=session,
            source="hubspot",
            entity="accounts",
            records=[{**a, "created_at": at, "updated_at": at} for a in CRM],
        )
    add_apollo(runtime, fake, **overrides)


def snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    with runtime.session() as s:
        return {model.__tablename__: rows(s, model) for model in (m.Prospect, m.Account)}


def accounts(runtime: Runtime) -> dict[str, m.Account]:
    with runtime.session() as s:
        found = {a.external_id: a for a in s.scalars(select(m.Account))}
        s.expunge_all()
    return found


def clean_snapshot(clean: Runtime, fake: FakeApollo) -> dict:
    setup(clean, fake)
    assert sync(clean, name="ap").status == "succeeded"
    return snapshot(clean)


def test_search_lands_prospects_and_enrichment_patches_only_apollos_fields(
    any_runtime: Runtime, fake: FakeApollo
) -> None:
    setup(any_runtime, fake)
    before = accounts(any_runtime)

    result = sync(any_runtime, name="ap")

    assert result.status == "succeeded", result.error
    assert [(r.stream, r.tally.read, r.tally.written) for r in result.runs] == [
        ("prospects", 12, 12),
        ("account_enrichment", 3, 3),
    ]  # 4 domains asked, 3 known to Apollo
    with any_runtime.session() as s:
        prospects = s.scalars(select(m.Prospect)).all()
        assert len(prospects) == 12 and all(p.source == "apollo" for p in prospects)
        pat = next(p for p in prospects if p.person_name.startswith("Pat0 "))
        assert (pat.person_name, pat.company_name, pat.title, pat.email, pat.state) == (
            "Pat0 Le***0",
            "Property Co 0",
            "VP Finance",
            None,
            None,
        )  # api_search: no email, no location
    after = accounts(any_runtime)
    assert (after["c0"].pms, after["c1"].pms) == ("Yardi", "AppFolio")
    assert after["c2"].pms == "Entrata"  # Apollo lists no PMS for it: what the CRM said stays
    assert after["c3"].pms is None and after["c4"].pms is None
    for key, old in before.items():  # nothing else of our accounts moved: not names, domains, owners, raw, times
        new = after[key]
        assert (new.name, new.domain, new.owner, new.raw, new.created_at, new.updated_at, new.source) == (
            old.name,
            old.domain,
            old.owner,
            old.raw,
            old.created_at,
            old.updated_at,
            old.source,
        )
    asked = sorted(s.query["domain"][0] for s in fake.enrichments())
    assert asked == ["nowhere.example", "propco0.com", "propco1.com", "propco2.com"]  # no protocol, no www
    # both slices, every page, per_page as configured, the key in the header
    bodies = [s.body for s in fake.searches()]
    assert [(b["person_titles"], b["page"], b["per_page"]) for b in bodies] == [
        (["vp"], 1, 2),
        (["vp"], 2, 2),
        (["vp"], 3, 2),
        (["controller", "director"], 1, 2),
        (["controller", "director"], 2, 2),
        (["controller", "director"], 3, 2),
    ]
    assert all("api_key" not in b for b in bodies)


def test_a_search_is_repeated_only_when_due_and_upserts(runtime: Runtime, fake: FakeApollo) -> None:
    setup(runtime, fake, prospects_refresh_hours="12", enrich_refresh_days="30")
    assert sync(runtime, name="ap").status == "succeeded"
    first = snapshot(runtime)
    asked = len(fake.requests)

    again = sync(runtime, name="ap")

    assert again.status == "succeeded"
    assert [r.tally.read for r in again.runs] == [0, 0] and len(fake.requests) == asked  # nothing due: no call
    forced = sync(runtime, name="ap", full=True)  # --full: the searches and a new enrichment round
    assert forced.status == "succeeded" and forced.runs[0].tally.read == 12
    assert snapshot(runtime) == first  # upserts: nothing duplicated, nothing changed


def test_enrichment_is_bounded_per_run_and_goes_on_where_it_stopped(runtime: Runtime, fake: FakeApollo) -> None:
    setup(runtime, fake, enrich_per_run="2", enrich_refresh_days="30")

    first = sync(runtime, name="ap", streams=["account_enrichment"])
    second = sync(runtime, name="ap", streams=["account_enrichment"])
    third = sync(runtime, name="ap", streams=["account_enrichment"])

    assert all(r.status == "succeeded" for r in (first, second, third))
    assert [len(q) for q in (fake.enrichments()[:2], fake.enrichments()[2:])] == [2, 2]
    assert len(fake.enrichments()) == 4  # the round is complete: not again before enrich_refresh_days
    assert cursor(runtime, "account_enrichment", name="ap")["last_round"] is not None
    assert accounts(runtime)["c1"].pms == "AppFolio"


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_search_then_resume_equals_a_clean_sync(
    runtime: Runtime, clean: Runtime, fake: FakeApollo, fault: str
) -> None:
    setup(runtime, fake)
    fail_forever(fake, fault, path="/mixed_people/api_search", after=4)

    failed = sync(runtime, name="ap")

    assert failed.status == "failed" and failed.runs[-1].stream == "prospects"
    assert "gave up after 3 attempts" in failed.error
    assert cursor(runtime, "prospects", name="ap") == {"search": 1, "page": 2, "in_pass": True, "last_complete": None}

    fake.recover()
    resumed = sync(runtime, name="ap")

    assert resumed.status == "succeeded", resumed.error
    assert resumed.runs[0].tally.read == 4  # the second slice's pages 2 and 3
    assert snapshot(runtime) == clean_snapshot(clean, fake)


def test_429_retry_after_and_server_errors_are_survived(runtime: Runtime, fake: FakeApollo) -> None:
    setup(runtime, fake)
    limited = fake.fail(path="/mixed_people/api_search", after=1, status=429, headers={"retry-after": "1"})
    fake.fail(path="/organizations/enrich", status=502, times=2)

    result = sync(runtime, name="ap")

    assert result.status == "succeeded", result.error
    assert limited.fired == 1
    refused, retry = refused_and_retry(fake.searches())
    assert retry.at - refused.at >= 1.0  # not earlier than Apollo said
    assert [r.tally.read for r in result.runs] == [12, 3]


def test_a_day_long_retry_after_fails_at_once(runtime: Runtime, fake: FakeApollo) -> None:
    setup(runtime, fake)
    fake.fail(path="/mixed_people/api_search", status=429, times=None, headers={"retry-after": "43200"})

    result = sync(runtime, name="ap")

    assert result.status == "failed" and "rate limit reached (429)" in result.error
    assert "asked us to wait 43200 s" in result.error and len(fake.searches()) == 1


def test_a_bad_key_stops_the_run_and_keeps_the_cursor(runtime: Runtime, fake: FakeApollo) -> None:
    setup(runtime, fake)
    assert sync(runtime, name="ap").status == "succeeded"
    before = {s: cursor(runtime, s, name="ap") for s in ("prospects", "account_enrichment")}
    stored = snapshot(runtime)
    key = fake.api_key
    fake.api_key = "revoked"

    result = sync(runtime, name="ap", full=True)

    assert result.status == "failed" and len(result.runs) == 1
    assert result.error.startswith(
        "stream prospects: Apollo refused the credentials (401): Invalid access credentials."
    )
    assert key not in result.error
    assert {s: cursor(runtime, s, name="ap") for s in ("prospects", "account_enrichment")} == before
    assert snapshot(runtime) == stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plan_gated": True}, "the Apollo plan of this key does not include this endpoint (403): API_INACCESSIBLE"),
        ({"master": False}, "people search needs a master API key"),
    ],
)
def test_plan_and_key_refusals_say_what_to_do(runtime: Runtime, kwargs: dict, message: str) -> None:
    fake = FakeApollo(**kwargs).start()
    try:
        populate(fake)
        setup(runtime, fake)
        result = sync(runtime, name="ap")
        assert result.status == "failed" and message in result.error
        assert len(fake.searches()) == 1  # not retried
    finally:
        fake.stop()


def test_malformed_people_are_quarantined_and_the_rest_land(runtime: Runtime, fake: FakeApollo) -> None:
    lost = fake.add_person("Solo", "Nobody", title="VP Finance", company=None, domain=None)
    setup(runtime, fake)

    result = sync(runtime, name="ap")

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.quarantined == 1 and result.runs[0].tally.written == 12
    with runtime.session() as s:
        row = s.scalar(select(m.QuarantinedRecord))
    assert (row.external_id, row.stream) == (lost, "prospects") and "no organization name" in row.error


def test_the_page_cap_is_never_passed(runtime: Runtime) -> None:
    fake = FakeApollo(page_cap=3).start()  # Apollo's cap is 500 pages of 100; scaled down
    try:
        for n in range(9):
            fake.add_person(f"P{n}", "Smith", title="VP Finance", company=f"Co {n}", domain=f"co{n}.com")
        setup(runtime, fake, searches='[{"person_titles": ["vp"]}]', max_pages="3")
        result = sync(runtime, name="ap", streams=["prospects"])
        assert result.status == "succeeded", result.error
        assert result.runs[0].tally.read == 6  # 3 pages of 2; the other 3 people are past the cap
        assert [s.body["page"] for s in fake.searches()] == [1, 2, 3] and all(s.status == 200 for s in fake.searches())
    finally:
        fake.stop()
