"""HubSpot's shape -> our model: the explicit tables and the record mappings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import RecordError
from connectors.hubspot import mapping
from connectors.hubspot.mapping import MappingContext, PipelineStage

CTX = MappingContext(owners={"51": "ana@payready.com"})


def obj(props: dict, **extra) -> dict:
    return {
        "id": "101",
        "properties": props,
        "createdAt": "2024-01-05T10:11:12.345Z",
        "updatedAt": "2024-02-01T09:00:00.123Z",
        "archived": False,
        **extra,
    }


def assoc(*ids: str, primary: str | None = None, type_id: int = 1) -> dict:
    return {
        "results": [
            {
                "id": i,
                "associationTypes": [
                    {
                        "category": "HUBSPOT_DEFINED",
                        "typeId": type_id if i == primary else 279,
                        "label": "Primary" if i == primary else None,
                    }
                ],
            }
            for i in ids
        ]
    }


# ---- deal stages: one explicit table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hubspot", "ours"),
    [
        ("appointmentscheduled", "qualified"),
        ("qualifiedtobuy", "discovery"),
        ("presentationscheduled", "demo"),
        ("decisionmakerboughtin", "proposal"),
        ("contractsent", "negotiation"),
        ("closedwon", "closed_won"),
        ("closedlost", "closed_lost"),
    ],
)
def test_default_pipeline_stages(hubspot: str, ours: str) -> None:
    assert mapping.our_stage(hubspot, MappingContext()) == ours


def test_custom_stages_come_from_stage_map_then_pipeline_metadata() -> None:
    stages = mapping.pipeline_stages(
        [
            {
                "id": "p1",
                "label": "Renewals",
                "stages": [
                    {"id": "901", "label": "Signed", "metadata": {"isClosed": "true", "probability": "1.0"}},
                    {"id": "902", "label": "Gone", "metadata": {"isClosed": "true", "probability": "0.0"}},
                    {"id": "903", "label": "Proposal", "metadata": {"isClosed": "false", "probability": "0.5"}},
                    {"id": "904", "label": "Verbal yes", "metadata": {"isClosed": "false", "probability": "0.8"}},
                ],
            }
        ]
    )
    ctx = MappingContext(stage_map={"904": "negotiation", "closedwon": "closed_lost"}, pipeline_stages=stages)
    assert [mapping.our_stage(s, ctx) for s in ("901", "902", "903", "904")] == [
        "closed_won",
        "closed_lost",
        "proposal",
        "negotiation",
    ]
    assert mapping.our_stage("closedwon", ctx) == "closed_lost"  # the tenant's map comes first
    with pytest.raises(RecordError, match=r"'905' maps to none of our stages; set stage_map.905="):
        mapping.our_stage("905", ctx)
    no_map = MappingContext(pipeline_stages=stages)
    assert mapping.our_stage("904", no_map) == "negotiation"  # probability 0.8: the nearest of ours (0.75)


def test_a_second_pipeline_is_read_from_its_own_metadata() -> None:
    stages = mapping.pipeline_stages(
        [
            {
                "id": "77",
                "label": "Renewals & Expansion",
                "stages": [  # listed out of order: displayOrder decides
                    {"id": "5", "label": "Closed", "displayOrder": 4, "metadata": {"isClosed": "true"}},
                    {"id": "3", "label": "Renewal talks", "displayOrder": 2, "metadata": {"isClosed": "false"}},
                    {"id": "1", "label": "Renewal due", "displayOrder": 0, "metadata": {"isClosed": "false"}},
                    {"id": "2", "label": "Usage review", "displayOrder": 1, "metadata": {"isClosed": "false"}},
                    {"id": "4", "label": "Churned", "displayOrder": 3, "metadata": {"isClosed": "true"}},
                    {"id": "6", "label": "Sent", "displayOrder": 5, "metadata": {"probability": "0.6"}},
                ],
            }
        ]
    )
    ctx = MappingContext(pipeline_stages=stages, stage_map={"5": "closed_won", "gone": "closed_lost"})
    # no probability: an open stage by its place among the pipeline's 4 open ones; a closed one by its words
    assert {s: mapping.our_stage(s, ctx) for s in ("1", "2", "3", "4", "6")} == {
        "1": "lead",
        "2": "discovery",
        "3": "demo",
        "4": "closed_lost",
        "6": "proposal",
    }
    rows = mapping.stage_mappings(ctx)
    assert [(r.stage_id, r.stage, r.source) for r in rows] == [
        ("1", "lead", "inferred"),
        ("2", "discovery", "inferred"),
        ("3", "demo", "inferred"),
        ("4", "closed_lost", "inferred"),
        ("5", "closed_won", "override"),
        ("6", "proposal", "inferred"),
        ("gone", "closed_lost", "override"),
    ]
    assert rows[0].pipeline == "Renewals & Expansion" and rows[0].label == "Renewal due" and rows[-1].pipeline == ""
    unmapped = MappingContext(pipeline_stages=stages)  # "Closed" says neither won nor lost
    assert [(r.stage, r.source) for r in mapping.stage_mappings(unmapped) if r.stage_id == "5"] == [(None, "unmapped")]
    with pytest.raises(RecordError, match=r"'5' \('Closed' in pipeline 'Renewals & Expansion'\) maps to none"):
        mapping.our_stage("5", unmapped)


def test_deal_with_history_in_time_order_and_repeats_collapsed() -> None:
    history = [
        {"value": "contractsent", "timestamp": "2024-03-01T00:00:00Z"},
        {"value": "closedwon", "timestamp": "2024-04-01T00:00:00Z"},
        {"value": "appointmentscheduled", "timestamp": "2024-01-01T00:00:00Z"},
        {"value": "contractsent", "timestamp": "2024-03-02T00:00:00Z"},
    ]
    rec = mapping.map_deal(
        obj(
            {
                "dealname": "Acme renewal",
                "amount": "12,000.50",
                "dealstage": "closedwon",
                "closedate": "2024-04-01",
                "dealtype": "existingbusiness",
                "hubspot_owner_id": "51",
                "deal_currency_code": "usd",
            },
            propertiesWithHistory={"dealstage": history},
            associations={"companies": assoc("7", "8", primary="8", type_id=5)},
        ),
        CTX,
    )
    assert [(h["stage"], h["entered_at"].month) for h in rec["stage_history"]] == [
        ("qualified", 1),
        ("negotiation", 3),
        ("closed_won", 4),
    ]
    assert rec["stage"] == "closed_won" and rec["closed_at"] == datetime(2024, 4, 1, tzinfo=UTC)
    assert rec["stage_entered_at"] == rec["closed_at"]
    assert (rec["amount"], rec["currency"], rec["deal_type"], rec["owner"]) == (
        12000.5,
        "USD",
        "expansion",
        "ana@payready.com",
    )
    assert rec["close_date"] == date(2024, 4, 1) and rec["account_ref"] == "8"
    assert rec["external_id"] == "101" and rec["raw"]["id"] == "101"


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        ({"dealstage": "closedwon"}, "deal has no dealname"),
        ({"dealname": "X"}, "deal has no dealstage"),
        ({"dealname": "X", "dealstage": "closedwon", "amount": "a lot"}, "amount: 'a lot' is not a number"),
        ({"dealname": "X", "dealstage": "closedwon", "closedate": "soon"}, "closedate: 'soon' is not a date"),
    ],
)
def test_a_deal_that_cannot_be_mapped_says_why(props: dict, needle: str) -> None:
    with pytest.raises(RecordError, match=needle):
        mapping.map_deal(obj(props), CTX)


def test_company() -> None:
    rec = mapping.map_company(
        obj(
            {
                "name": " Acme Living ",
                "domain": "acme.com",
                "state": "Texas",
                "lifecyclestage": "customer",
                "hubspot_owner_id": "51",
                "units": "12500",
            }
        ),
        MappingContext(owners=CTX.owners, units_property="units"),
    )
    assert {k: rec[k] for k in ("name", "domain", "state", "lifecycle_stage", "owner", "units_managed", "segment")} == {
        "name": "Acme Living",
        "domain": "acme.com",
        "state": "TX",
        "lifecycle_stage": "live",
        "owner": "ana@payready.com",
        "units_managed": 12500,
        "segment": "mid_market",
    }
    assert rec["created_at"] == datetime(2024, 1, 5, 10, 11, 12, 345000, tzinfo=UTC)
    assert mapping.map_company(obj({"domain": "only.com"}), CTX)["name"] == "only.com"
    assert "lifecycle_stage" not in mapping.map_company(obj({"name": "X", "lifecyclestage": "12345"}), CTX)
    assert len(mapping.map_company(obj({"name": "x" * 400}), CTX)["name"]) == 255
    with pytest.raises(RecordError, match="neither a name nor a domain"):
        mapping.map_company(obj({"city": "Austin"}), CTX)


def test_contact_takes_its_primary_company() -> None:
    rec = mapping.map_contact(
        obj(
            {"firstname": "Pat", "lastname": "Lee", "email": "Pat@Acme.COM", "jobtitle": "VP"},
            associations={"companies": assoc("5", "6", primary="6")},
        ),
        CTX,
    )
    assert (rec["email"], rec["title"], rec["account_ref"]) == ("pat@acme.com", "VP", "6")
    assert mapping.map_contact(obj({"email": None}, associations={"companies": assoc("5")}), CTX)["account_ref"] == "5"
    assert mapping.map_contact(obj({}), CTX)["account_ref"] is None


@pytest.mark.parametrize(
    ("kind", "props", "expected"),
    [
        (
            "notes",
            {"hs_note_body": "<p>Call&nbsp;went <b>well</b></p><p>Next: pricing</p>"},
            {"type": "note", "subject": "Call went well", "body": "Call went well\nNext: pricing", "status": None},
        ),
        (
            "emails",
            {"hs_email_subject": "Hi", "hs_email_html": "<div>Hello</div>", "hs_email_status": "SENT"},
            {"type": "email", "subject": "Hi", "body": "Hello", "status": "SENT"},
        ),
        (
            "meetings",
            {"hs_meeting_title": "Demo", "hs_meeting_body": "Portal", "hs_meeting_outcome": "COMPLETED"},
            {"type": "meeting", "subject": "Demo", "body": "Portal", "status": "COMPLETED"},
        ),
        (
            "calls",
            {"hs_call_title": "Discovery", "hs_call_body": "Collections\x00", "hs_call_status": "COMPLETED"},
            {"type": "call", "subject": "Discovery", "body": "Collections", "status": "COMPLETED"},
        ),
    ],
)
def test_engagements_become_activities(kind: str, props: dict, expected: dict) -> None:
    rec = mapping.engagement_mapper(kind)(
        obj({**props, "hs_timestamp": "1706745600000", "hubspot_owner_id": "51"}, associations={"deals": assoc("9")}),
        CTX,
    )
    assert {k: rec[k] for k in expected} == expected
    assert rec["external_id"] == f"{expected['type']}:101"
    assert rec["occurred_at"] == datetime(2024, 2, 1, tzinfo=UTC) and rec["owner"] == "ana@payready.com"
    assert (rec["deal_ref"], rec["account_ref"], rec["contact_ref"]) == ("9", None, None)


def test_time_values() -> None:
    assert mapping.parse_time("2024-02-01T09:00:00.123Z", "t") == datetime(2024, 2, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert mapping.parse_time("2024-02-01", "t") == datetime(2024, 2, 1, tzinfo=UTC)
    assert mapping.parse_time("1706745600000", "t") == datetime(2024, 2, 1, tzinfo=UTC)
    assert mapping.parse_time("", "t") is None and mapping.time_ms("junk") is None


def test_pipeline_metadata_strings() -> None:
    stages = mapping.pipeline_stages(
        [
            {
                "id": "default",
                "label": "Sales",
                "stages": [{"id": "a", "label": "A", "metadata": {"isClosed": "false", "probability": "oops"}}],
            }
        ]
    )
    assert stages == {"a": PipelineStage("Sales", "A", False, None, inferred="lead")}


def test_close_date_pushes_count_the_moves_later_from_the_history() -> None:
    closedate = [  # HubSpot lists the newest first
        {"value": "2024-06-30", "timestamp": "2024-04-01T00:00:00Z"},  # out again: 2
        {"value": "not a date", "timestamp": "2024-03-20T00:00:00Z"},  # odd entry: skipped, the deal kept
        {"value": "2024-04-15", "timestamp": "2024-03-15T00:00:00Z"},  # pulled in: not a push
        {"value": "2024-04-30", "timestamp": "2024-02-01T00:00:00Z"},  # out: 1
        {"value": "2024-03-31", "timestamp": "2024-01-01T00:00:00Z"},  # first set
    ]
    props = {"dealname": "Acme", "dealstage": "contractsent", "closedate": "2024-06-30"}
    rec = mapping.map_deal(obj(props, propertiesWithHistory={"closedate": closedate}), CTX)
    assert rec["close_date_pushes"] == 2
    assert "close_date_pushes" not in mapping.map_deal(obj(props), CTX)  # history not read: unknown, not 0
