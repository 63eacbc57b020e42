"""The real Gong connector, runner and ingest path against the fake Gong at the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from connectors.registry import KINDS
from core import pipelines
from core.clock import ManualClock
from core.db import models as m
from core.ingest import ingest_records
from core.runtime import Runtime
from tests.contract import sync_helpers
from tests.contract.fake_gong import NO_CALLS, FakeGong, parse_iso, populate
from tests.contract.sync_helpers import FAULTS, configure, fail_forever, refused_and_retry, rows

CALLS = 14
PAGE = 4  # the fake's page size (Gong's is 100): several pages per slice

# tiny backoff, no look-back unless a test asks, slices of 20 days over the fake's 40 days of calls
TEST_SETTINGS = {
    "slice_days": "20",
    "lookback_hours": "0",
    "requests_per_s": "1000",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def start_date() -> str:
    return (datetime.now(UTC) - timedelta(days=60)).date().isoformat()


# ---- helpers (also used by test_gong_cli.py) -----------------------------------------------------


def add_gong(runtime: Runtime, fake: FakeGong, *, name: str = "gong", **overrides: str) -> None:
    values = {
        "base_url": fake.url,
        "access_key": fake.access_key,
        "access_key_secret": fake.access_key_secret,
        "start_date": start_date(),
        **TEST_SETTINGS,
        **overrides,
    }
    configure(runtime, kind="gong", name=name, values=values)


def seed_crm(runtime: Runtime, planted: dict[str, Any]) -> None:
    """The CRM accounts and deals the calls' context points at, as the CRM connectors would have stored them."""
    with runtime.session() as session:
        for source in ("hubspot", "salesforce"):
            ids = sorted(set(planted[source].values()))
            ingest_records(
                session=session,
                source=source,
                entity="accounts",
                records=[{"external_id": i, "name": f"Account {i}"} for i in ids],
            )
        deals = [str(5000 + i) for i in range(0, CALLS, 2)]
        ingest_records(
            session=session,
            source="hubspot",
            entity="deals",
            records=[{"external_id": d, "name": f"Deal {d}", "stage": "discovery"} for d in deals],
        )


sync = partial(sync_helpers.sync, name="gong")
cursor = partial(sync_helpers.cursor, stream="calls", name="gong")


def snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    """Every Gong call with its participants and segments, our ids replaced by the sources' ids."""
    out: dict[str, list[tuple]] = {}
    with runtime.session() as session:
        accounts = {
            i: (s, e) for i, s, e in session.execute(select(m.Account.id, m.Account.source, m.Account.external_id))
        }
        deals = {i: (s, e) for i, s, e in session.execute(select(m.Deal.id, m.Deal.source, m.Deal.external_id))}
        calls = dict(session.execute(select(m.Call.id, m.Call.external_id).where(m.Call.source == "gong")).all())
        out["calls"] = rows(session, m.Call, m.Call.source == "gong", refs={"account_id": accounts, "deal_id": deals})
        out["participants"] = sorted(
            (calls[p.call_id], p.speaker_id, p.name, p.email, p.affiliation, p.talk_time_s)
            for p in session.scalars(select(m.CallParticipant))
        )
        out["segments"] = sorted(
            (calls[s.call_id], s.position, s.speaker_id, s.start_s, s.end_s, s.text)
            for s in session.scalars(select(m.TranscriptSegment))
        )
    return out


def counts(runtime: Runtime) -> dict[str, int]:
    return {table: len(found) for table, found in snapshot(runtime).items()}


# ---- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def gong() -> Iterator[tuple[FakeGong, dict[str, Any]]]:
    fake = FakeGong(page_size=PAGE).start()
    planted = populate(fake, calls=CALLS)
    yield fake, planted
    fake.stop()


@pytest.fixture
def fake(gong: tuple[FakeGong, dict[str, Any]]) -> FakeGong:
    return gong[0]


@pytest.fixture
def crm_runtime(runtime: Runtime, gong: tuple[FakeGong, dict[str, Any]]) -> Runtime:
    seed_crm(runtime, gong[1])
    return runtime


@pytest.fixture
def clean(clean: Runtime, gong: tuple[FakeGong, dict[str, Any]]) -> Runtime:
    """A second installation with the same CRM records: what a clean full sync of the fake gives."""
    seed_crm(clean, gong[1])
    return clean


def clean_snapshot(clean: Runtime, fake: FakeGong) -> dict:
    add_gong(clean, fake)
    assert sync(clean).status == "succeeded"
    return snapshot(clean)


def expected_talk(call) -> dict[str, float]:
    talk: dict[str, float] = {}
    for mono in call.transcript or []:
        s = mono["sentences"]
        talk[mono["speakerId"]] = talk.get(mono["speakerId"], 0) + (s[-1]["end"] - s[0]["start"]) / 1000
    return talk


# ---- tests -------------------------------------------------------------------------------------------


def test_full_sync_lands_calls_participants_transcripts_and_crm_links(crm_runtime: Runtime, gong) -> None:
    fake, planted = gong
    add_gong(crm_runtime, fake)
    result = sync(crm_runtime)

    assert result.status == "succeeded", result.error
    assert [(r.stream, r.tally.read, r.tally.written, r.tally.quarantined) for r in result.runs] == [
        ("calls", CALLS, CALLS, 0)
    ]
    with_transcript = [c for c in fake.calls.values() if c.transcript is not None]
    assert counts(crm_runtime) == {
        "calls": CALLS,
        "participants": sum(len(c.parties) for c in fake.calls.values()),
        "segments": sum(len(c.transcript) for c in with_transcript),
    }
    with crm_runtime.session() as s:
        for gcall in fake.calls.values():
            call = s.scalar(select(m.Call).where(m.Call.external_id == gcall.id))
            assert call.started_at == parse_iso(gcall.meta["started"]) and call.duration_s == gcall.meta["duration"]
            owner = next(u for u in fake.users if u["id"] == gcall.meta["primaryUserId"])
            assert call.owner == owner["emailAddress"].lower()
            source = "hubspot" if gcall.context[0]["system"] == "HubSpot" else "salesforce"
            account = s.get(m.Account, call.account_id)
            assert (account.source, account.external_id) == (source, planted[source][gcall.id])
            deal_id = next((o["objectId"] for o in gcall.context[0]["objects"] if o["objectType"] == "Deal"), None)
            assert (s.get(m.Deal, call.deal_id).external_id if call.deal_id else None) == deal_id
            by_speaker = {p.speaker_id: p for p in call.participants}
            assert {p["speakerId"] for p in gcall.parties} == set(by_speaker)
            assert {p.affiliation for p in call.participants} == {"internal", "external"}
            if gcall.transcript is None:
                assert call.segments == []
                continue
            assert [seg.speaker_id for seg in call.segments] == [mono["speakerId"] for mono in gcall.transcript]
            first = gcall.transcript[0]["sentences"]
            assert (
                call.segments[0].start_s == first[0]["start"] / 1000
                and call.segments[0].end_s == first[-1]["end"] / 1000
            )
            for speaker, seconds in expected_talk(gcall).items():
                assert by_speaker[speaker].talk_time_s == pytest.approx(seconds)
    saved = cursor(crm_runtime)
    assert saved["until"] is None and saved["since"] is not None
    # the empty slice before the first call was answered with Gong's 404, read as "no calls"
    empty = [r for r in fake.requests if r.path == "/v2/calls/extensive" and r.status == 404]
    first = min(c.filter_time for c in fake.calls.values())
    assert any(parse_iso(r.body["filter"]["toDateTime"]) <= first for r in empty)
    # transcripts are asked for by call id only, one request per page of calls
    for body in fake.bodies("/v2/calls/transcript"):
        assert set(body["filter"]) == {"callIds"} and 1 <= len(body["filter"]["callIds"]) <= PAGE
    # pages after the first repeat the request and add Gong's cursor (the fake refuses anything else)
    paged = [b for b in fake.bodies("/v2/calls/extensive") if "cursor" in b]
    assert paged and all(r.status in (200, 404) for r in fake.requests)


def test_incremental_sync_reads_only_the_new_window(runtime: Runtime, fake: FakeGong) -> None:
    runtime.clock = clock = ManualClock()
    add_gong(runtime, fake)
    assert sync(runtime).status == "succeeded"
    since = cursor(runtime)["since"]
    before = len(fake.requests)
    clock.advance(1.1)  # the next pass ends at a later second
    new = fake.add_call(
        started=parse_iso(since),
        title="Just happened",
        owner=fake.users[0]["id"],
        customers=[("Ann Fresh", "ann@fresh.com")],
        system="RingCentral",
    )

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.read == 1 and result.runs[0].tally.written == 1
    asked = [r for r in fake.requests[before:] if r.path == "/v2/calls/extensive"]
    assert len(asked) == 1 and asked[0].body["filter"]["fromDateTime"] == since.replace("+00:00", "Z")
    with runtime.session() as s:
        assert s.scalar(select(m.Call.title).where(m.Call.external_id == new)) == "Just happened"
        assert len(s.scalars(select(m.Call)).all()) == CALLS + 1


def test_look_back_rereads_recent_calls_and_picks_up_late_transcripts(runtime: Runtime, fake: FakeGong) -> None:
    recent = max(fake.calls.values(), key=lambda c: c.meta["started"])
    transcript, recent.transcript = recent.transcript, None  # not processed yet at the first sync
    add_gong(runtime, fake, lookback_hours="48")
    assert sync(runtime).status == "succeeded"
    with runtime.session() as s:
        assert s.scalar(select(m.Call).where(m.Call.external_id == recent.id)).segments == []
    recent.transcript = transcript

    result = sync(runtime)

    assert result.status == "succeeded"
    assert 1 <= result.runs[0].tally.read < CALLS  # the look-back window only
    with runtime.session() as s:
        call = s.scalar(select(m.Call).where(m.Call.external_id == recent.id))
        assert len(call.segments) == len(transcript)


@pytest.mark.parametrize("fault", FAULTS)
def test_crash_mid_sync_then_resume_equals_a_clean_full_sync(
    crm_runtime: Runtime, clean: Runtime, fake: FakeGong, fault: str
) -> None:
    add_gong(crm_runtime, fake)
    fail_forever(fake, fault, path="/v2/calls/extensive", after=3)

    failed = sync(crm_runtime)

    assert failed.status == "failed" and "gave up after 3 attempts" in failed.error
    assert ("server error (500)" if fault == "500 forever" else "could not reach Gong") in failed.error
    saved = cursor(crm_runtime)
    assert saved["until"] is not None and saved["since"] is None  # a pass in progress, some pages committed
    assert 0 < counts(crm_runtime)["calls"] < CALLS

    fake.recover()
    resumed = sync(crm_runtime)

    assert resumed.status == "succeeded", resumed.error
    assert snapshot(crm_runtime) == clean_snapshot(clean, fake)


def test_rate_limits_and_server_errors_are_survived(crm_runtime: Runtime, clean: Runtime, fake: FakeGong) -> None:
    add_gong(crm_runtime, fake)
    limited = fake.fail(path="/v2/calls/extensive", after=3, status=429, headers={"Retry-After": "1"})
    fake.fail(path="/v2/calls/transcript", status=503, times=2)
    fake.fail(path="/v2/users", status=502, times=1)

    result = sync(crm_runtime)

    assert result.status == "succeeded", result.error
    assert limited.fired == 1
    refused, retry = refused_and_retry([r for r in fake.requests if r.path == "/v2/calls/extensive"])
    assert retry.at - refused.at >= 1.0  # Retry-After honoured
    assert retry.body == refused.body  # the same request again
    assert snapshot(crm_runtime) == clean_snapshot(clean, fake)


def test_the_daily_cap_fails_at_once_with_a_clear_message(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake)
    fake.fail(
        path="/v2/calls/extensive",
        status=429,
        times=None,
        headers={"Retry-After": "43200"},
        body={"requestId": "x", "errors": ["API request limit exceeded: daily quota"]},
    )

    result = sync(runtime)

    assert result.status == "failed" and "daily API cap" in result.error
    assert len([r for r in fake.requests if r.path == "/v2/calls/extensive"]) == 1  # not retried


def test_client_side_daily_budget_stops_before_gongs_cap(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake, name="capped", requests_per_day="5")

    result = sync(runtime, name="capped")

    assert result.status == "failed" and "stopped before Gong's daily cap" in result.error
    assert len(fake.requests) == 5


def test_401_stops_the_run_keeps_the_cursor_and_names_the_cause(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake)
    assert sync(runtime).status == "succeeded"
    before, stored = cursor(runtime), snapshot(runtime)
    fake.fail(status=401, times=None)

    result = sync(runtime)

    assert result.status == "failed"
    assert result.error.startswith("stream calls: Gong refused the access key (401)")
    assert fake.access_key_secret not in result.error
    assert len([r for r in fake.requests if r.status == 401]) == 1  # not retried
    assert cursor(runtime) == before and snapshot(runtime) == stored


def test_wrong_credentials_are_refused_by_the_check(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake, access_key_secret="not-the-secret-at-all")
    with pytest.raises(Exception, match=r"Gong refused the access key \(401\)") as info:
        pipelines.check_connector(runtime=runtime, kinds=KINDS, name="gong")
    assert "not-the-secret-at-all" not in str(info.value)


def test_malformed_calls_are_quarantined_and_the_rest_land(runtime: Runtime, fake: FakeGong) -> None:
    rep = fake.users[0]["id"]
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    no_start = fake.add_call(
        started=at, title="No start", owner=rep, customers=[("A B", "a@b.com")], system="RingCentral"
    )
    fake.calls[no_start].meta["started"] = None
    fake.calls[no_start].meta["scheduled"] = None
    bad_time = fake.add_call(started=at, title="Bad sentence", owner=rep, customers=[("C D", "c@d.com")])
    fake.calls[bad_time].transcript[0]["sentences"][0]["start"] = "soon"
    add_gong(runtime, fake)

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.quarantined == 2
    with runtime.session() as s:
        rows = {r.external_id: r for r in s.scalars(select(m.QuarantinedRecord))}
    assert set(rows) == {no_start, bad_time}
    assert "metaData.started is missing" in rows[no_start].error
    assert "sentence start" in rows[bad_time].error and rows[bad_time].payload["metaData"]["id"] == bad_time
    assert counts(runtime)["calls"] == CALLS


def test_calls_gone_from_the_look_back_window_are_deleted(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake, lookback_hours="72")
    assert sync(runtime).status == "succeeded"
    now = datetime.now(UTC)
    recent = [c for c in fake.calls.values() if parse_iso(c.meta["started"]) > now - timedelta(hours=60)]
    old = min(fake.calls.values(), key=lambda c: c.meta["started"])
    assert recent
    fake.delete_call(recent[0].id)
    fake.delete_call(old.id)  # outside the look-back window: Gong says nothing, so it stays

    result = sync(runtime)

    assert result.status == "succeeded", result.error
    assert result.runs[0].tally.deleted == 1
    with runtime.session() as s:
        ids = set(s.scalars(select(m.Call.external_id)))
    assert recent[0].id not in ids and old.id in ids and len(ids) == CALLS - 1
    assert sync(runtime).runs[0].tally.deleted == 0


def test_full_resync_rereads_everything_and_changes_nothing(crm_runtime: Runtime, fake: FakeGong) -> None:
    add_gong(crm_runtime, fake)
    assert sync(crm_runtime).status == "succeeded"
    first = snapshot(crm_runtime)
    result = sync(crm_runtime, full=True)
    assert result.status == "succeeded" and result.runs[0].tally.read == CALLS
    assert snapshot(crm_runtime) == first


def test_the_empty_window_404_is_no_data_but_other_404s_are_errors(runtime: Runtime, fake: FakeGong) -> None:
    add_gong(runtime, fake)
    fake.fail(path="/v2/calls/extensive", status=404, times=None, body={"requestId": "r", "errors": ["Not found"]})
    result = sync(runtime)
    assert result.status == "failed" and "no such resource (404)" in result.error
    fake.recover()
    fake.fail(path="/v2/calls/extensive", status=404, times=None, body={"requestId": "r", "errors": [NO_CALLS]})
    result = sync(runtime)
    assert result.status == "succeeded" and result.runs[0].tally.read == 0


def test_an_oauth_token_signs_in_as_bearer(runtime: Runtime, fake: FakeGong) -> None:
    fake.oauth_token = "gong-oauth-access-token-0123"
    values = {"base_url": fake.url, "token": fake.oauth_token, "start_date": start_date(), **TEST_SETTINGS}
    configure(runtime, kind="gong", name="oauth", values=values)

    assert pipelines.check_connector(runtime=runtime, kinds=KINDS, name="oauth").startswith(
        f"Gong at {fake.url} accepted the token"
    )
    result = sync(runtime, name="oauth")

    assert result.status == "succeeded" and result.runs[0].tally.written == CALLS
