"""Gong's shape -> our model: calls, participants joined to the transcript by speakerId, CRM links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RecordError
from connectors.gong import mapping
from connectors.gong.connector import GongConfig
from connectors.gong.mapping import MappingContext

REP, CUST, GUEST = "6432345678555530067", "6432345678555530068", "6432345678555530069"
CTX = MappingContext(users={"234599484848423": "jon.snow@payready.com"})


def sentence(start_ms: int, end_ms: int, text: str = "Hello.") -> dict:
    return {"start": start_ms, "end": end_ms, "text": text}


def call(**overrides) -> dict:
    base = {
        "metaData": {
            "id": "7782342274025937895",
            "url": "https://app.gong.io/call?id=7782342274025937895",
            "title": "Discovery call - Acme",
            "scheduled": "2024-01-15T10:00:00Z",
            "started": "2024-01-15T02:02:10-08:00",
            "duration": 1800.4,
            "primaryUserId": "234599484848423",
            "system": "Zoom",
            "scope": "External",
        },
        "context": [
            {
                "system": "Salesforce",
                "objects": [
                    {"objectType": "Opportunity", "objectId": "0063601230sV7grAAC", "timing": "Now", "fields": []},
                    {"objectType": "Account", "objectId": "0013601230sV7grAAC", "timing": "Now", "fields": []},
                ],
            }
        ],
        "parties": [
            {
                "id": "1",
                "emailAddress": "Jon.Snow@PayReady.com",
                "name": "Jon Snow",
                "userId": "234599484848423",
                "speakerId": REP,
                "affiliation": "Internal",
                "methods": ["Invitee"],
            },
            {
                "id": "2",
                "emailAddress": "jane@acme.com",
                "name": "Jane Doe",
                "userId": None,
                "speakerId": CUST,
                "affiliation": "External",
            },
            {
                "id": "3",
                "emailAddress": None,
                "name": None,
                "phoneNumber": "+1 512 555 0100",
                "speakerId": None,
                "affiliation": "Unknown",
            },
        ],
        "interaction": {
            "speakers": [
                {"id": "1", "userId": "234599484848423", "talkTime": 145},
                {"id": "2", "userId": None, "talkTime": 99},
            ]
        },
        "transcript": [
            {
                "speakerId": REP,
                "topic": None,
                "sentences": [sentence(1000, 4000, "Hi Jane."), sentence(4500, 9000, "Shall we start?")],
            },
            {"speakerId": CUST, "topic": "Pricing", "sentences": [sentence(9500, 15500, "Yes, pricing first.")]},
            {"speakerId": REP, "topic": "Pricing", "sentences": [sentence(16000, 20000, "Per unit.")]},
            {"speakerId": GUEST, "topic": None, "sentences": [sentence(21000, 22000, "Hi all.")]},
        ],
    }
    base.update(overrides)
    return base


def test_a_call_maps_to_our_call_in_utc_with_its_owner_and_crm_links() -> None:
    rec = mapping.map_call(call(), CTX)
    started = datetime(2024, 1, 15, 10, 2, 10, tzinfo=UTC)
    assert rec["external_id"] == "7782342274025937895"
    assert rec["started_at"] == started and rec["started_at"].tzinfo is UTC
    assert rec["duration_s"] == 1800 and rec["updated_at"] == started + timedelta(seconds=1800)
    assert rec["created_at"] == started
    assert rec["owner"] == "jon.snow@payready.com"
    assert rec["title"] == "Discovery call - Acme" and rec["url"].endswith("7782342274025937895")
    assert rec["account_ref"] == {"source": "salesforce", "external_id": "0013601230sV7grAAC"}
    assert rec["deal_ref"] == {"source": "salesforce", "external_id": "0063601230sV7grAAC"}
    assert "transcript" not in rec["raw"] and rec["raw"]["metaData"]["id"] == "7782342274025937895"


def test_segments_are_monologues_in_seconds_and_talk_time_sums_them_per_speaker() -> None:
    rec = mapping.map_call(call(), CTX)
    assert rec["segments"] == [
        {"position": 0, "speaker_id": REP, "start_s": 1.0, "end_s": 9.0, "text": "Hi Jane. Shall we start?"},
        {"position": 1, "speaker_id": CUST, "start_s": 9.5, "end_s": 15.5, "text": "Yes, pricing first."},
        {"position": 2, "speaker_id": REP, "start_s": 16.0, "end_s": 20.0, "text": "Per unit."},
        {"position": 3, "speaker_id": GUEST, "start_s": 21.0, "end_s": 22.0, "text": "Hi all."},
    ]
    by_speaker = {p["speaker_id"]: p for p in rec["participants"]}
    assert by_speaker[REP] == {
        "speaker_id": REP,
        "name": "Jon Snow",
        "email": "jon.snow@payready.com",
        "affiliation": "internal",
        "talk_time_s": 12.0,
    }
    assert by_speaker[CUST]["talk_time_s"] == 6.0 and by_speaker[CUST]["affiliation"] == "external"
    # a party who never spoke keeps its party id as speaker id; Gong's Unknown affiliation stays unknown
    assert by_speaker["3"] == {
        "speaker_id": "3",
        "name": "+1 512 555 0100",
        "email": None,
        "affiliation": "unknown",
        "talk_time_s": 0.0,
    }
    # a speaker no party names is still a participant
    assert by_speaker[GUEST]["name"] == mapping.UNKNOWN_SPEAKER and by_speaker[GUEST]["talk_time_s"] == 1.0


def test_monologues_out_of_order_are_sorted_by_time() -> None:
    transcript = [
        {"speakerId": CUST, "sentences": [sentence(5000, 6000, "Second.")]},
        {"speakerId": REP, "sentences": [sentence(1000, 2000, "First.")]},
    ]
    rec = mapping.map_call(call(transcript=transcript), CTX)
    assert [(s["position"], s["text"]) for s in rec["segments"]] == [(0, "First."), (1, "Second.")]


def test_without_a_transcript_segments_are_left_alone_and_gong_talk_times_are_used() -> None:
    raw = call()
    del raw["transcript"]
    rec = mapping.map_call(raw, CTX)
    assert "segments" not in rec  # a later pass brings them; what is stored is not wiped meanwhile
    assert {p["speaker_id"]: p["talk_time_s"] for p in rec["participants"]} == {REP: 145.0, CUST: 99.0, "3": 0.0}


def test_an_empty_transcript_clears_the_segments() -> None:
    assert mapping.map_call(call(transcript=[]), CTX)["segments"] == []


def test_the_owner_falls_back_to_the_party_that_is_the_primary_user() -> None:
    assert mapping.map_call(call(), MappingContext())["owner"] == "jon.snow@payready.com"
    meta = {**call()["metaData"], "primaryUserId": "999"}
    assert mapping.map_call(call(metaData=meta), MappingContext())["owner"] is None


@pytest.mark.parametrize(
    ("context", "account", "deal"),
    [
        (
            [
                {
                    "system": "HubSpot",
                    "objects": [
                        {"objectType": "Company", "objectId": "9001", "timing": "Now"},
                        {"objectType": "Deal", "objectId": "5001", "timing": "Now"},
                    ],
                }
            ],
            {"source": "hubspot", "external_id": "9001"},
            {"source": "hubspot", "external_id": "5001"},
        ),
        (
            [
                {
                    "system": "Salesforce",
                    "objects": [
                        {"objectType": "Account", "objectId": "001OLD", "timing": "TimeOfCall"},
                        {"objectType": "Account", "objectId": "001NOW", "timing": "Now"},
                    ],
                }
            ],
            {"source": "salesforce", "external_id": "001NOW"},
            None,
        ),
        ([{"system": "MicrosoftDynamic", "objects": [{"objectType": "Account", "objectId": "x"}]}], None, None),
        ([{"system": "Generic", "objects": []}], None, None),
        (None, None, None),
    ],
)
def test_crm_context_links_accounts_and_deals_across_sources(context, account, deal) -> None:
    rec = mapping.map_call(call(context=context), CTX)
    assert rec["account_ref"] == account and rec["deal_ref"] == deal


def test_an_untitled_call_gets_a_title_and_long_text_is_cut_to_the_column() -> None:
    meta = {**call()["metaData"], "title": None}
    assert mapping.map_call(call(metaData=meta), CTX)["title"] == mapping.UNTITLED
    meta = {**call()["metaData"], "title": "x" * 900}
    assert len(mapping.map_call(call(metaData=meta), CTX)["title"]) == 512


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metaData": None}, "no metaData"),
        ({"metaData": {"started": "2024-01-15T10:02:10Z"}}, "no metaData.id"),
        ({"metaData": {"id": "1", "started": None}}, "metaData.started is missing"),
        ({"metaData": {"id": "1", "started": "yesterday"}}, "not an ISO-8601 time"),
        ({"metaData": {"id": "1", "started": "2024-01-15T10:02:10Z", "duration": "long"}}, "duration"),
        ({"transcript": {"speakerId": REP}}, "not a list of monologues"),
        ({"transcript": [{"speakerId": REP, "sentences": [sentence(5000, 1000)]}]}, "ends"),
        (
            {"transcript": [{"speakerId": REP, "sentences": [{"start": "soon", "end": 2, "text": "x"}]}]},
            "sentence start",
        ),
    ],
)
def test_malformed_calls_raise_record_errors(change, message) -> None:
    with pytest.raises(RecordError, match=message):
        mapping.map_call(call(**change), CTX)


def test_call_id_never_raises() -> None:
    assert mapping.call_id({"metaData": {"id": 77}}) == "77"
    assert mapping.call_id({"metaData": {"id": {"x": 1}}}) is None
    assert mapping.call_id({}) is None


def test_config_takes_an_access_key_or_a_token_but_not_both() -> None:
    assert GongConfig(access_key="k", access_key_secret="s").token is None
    assert GongConfig(token="t").access_key is None
    with pytest.raises(ValueError, match="access_key and access_key_secret"):
        GongConfig(access_key="k")
    with pytest.raises(ValueError, match="not both"):
        GongConfig(token="t", access_key="k", access_key_secret="s")
