"""The ingest path on SQLite and the real PostgreSQL: upserts, references, children, bad records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.db import models as m
from core.errors import InvalidInput
from core.ingest import delete_records, ingest_records

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _seed(session) -> None:
    ingest_records(
        session=session,
        source="hubspot",
        entity="accounts",
        records=[
            {
                "external_id": "a1",
                "name": "Maple Ridge Residential",
                "segment": "mid_market",
                "arr": 48000.5,
                "units_managed": 5200,
                "updated_at": T0,
                "products": ["ResCenter", "Buzz"],
            },
        ],
    )
    ingest_records(
        session=session,
        source="hubspot",
        entity="deals",
        records=[
            {
                "external_id": "d1",
                "name": "Maple Ridge expansion",
                "stage": "demo",
                "amount": 12000,
                "account_ref": "a1",
                "stage_history": [{"stage": "discovery", "entered_at": T0}],
            },
        ],
    )


def test_upsert_is_idempotent_and_updates_in_place(any_runtime) -> None:
    with any_runtime.session() as s:
        _seed(s)
        _seed(s)
    with any_runtime.session() as s:
        assert _count(s, m.Account) == 1 and _count(s, m.Deal) == 1 and _count(s, m.DealStageHistory) == 1
        acct = s.scalar(select(m.Account))
        assert (acct.arr, acct.updated_at, acct.products) == (48000.5, T0, ["ResCenter", "Buzz"])
        assert acct.raw["name"] == "Maple Ridge Residential"
        ingest_records(
            session=s,
            source="hubspot",
            entity="accounts",
            records=[{"external_id": "a1", "name": "Maple Ridge Living"}],
        )
    with any_runtime.session() as s:
        acct = s.scalar(select(m.Account))
        assert acct.name == "Maple Ridge Living" and acct.arr == 48000.5  # omitted columns keep their value


def test_references_resolve_across_sources_and_children_are_replaced(any_runtime) -> None:
    with any_runtime.session() as s:
        _seed(s)
        res = ingest_records(
            session=s,
            source="gong",
            entity="calls",
            records=[
                {
                    "external_id": "c1",
                    "title": "Renewal check-in",
                    "started_at": T0,
                    "duration_s": 60,
                    "account_ref": {"source": "hubspot", "external_id": "a1"},
                    "deal_ref": {"source": "hubspot", "external_id": "missing"},
                    "participants": [{"speaker_id": "s1", "name": "Ana", "affiliation": "internal", "talk_time_s": 40}],
                    "segments": [{"position": 0, "speaker_id": "s1", "start_s": 0, "end_s": 40, "text": "Hello"}],
                }
            ],
        )
        assert res.unresolved_refs == 1
        ingest_records(
            session=s,
            source="gong",
            entity="calls",
            records=[
                {
                    "external_id": "c1",
                    "title": "Renewal check-in",
                    "started_at": T0,
                    "segments": [
                        {"position": 0, "speaker_id": "s1", "start_s": 0, "end_s": 5, "text": "Hi"},
                        {"position": 1, "speaker_id": "s2", "start_s": 5, "end_s": 9, "text": "Hey"},
                    ],
                }
            ],
        )
    with any_runtime.session() as s:
        call = s.scalar(select(m.Call))
        assert call.account_id == s.scalar(select(m.Account.id)) and call.deal_id is None
        assert [seg.text for seg in call.segments] == ["Hi", "Hey"]
        assert len(call.participants) == 1  # not given the second time: kept


def test_bad_records_fail_alone_and_leave_data_intact(any_runtime) -> None:
    with any_runtime.session() as s:
        _seed(s)
        res = ingest_records(
            session=s,
            source="hubspot",
            entity="accounts",
            records=[
                {"external_id": "a1", "name": "Maple", "arr": "lots"},
                {"external_id": "a2", "name": "Oak Street PM", "updated_at": "2026-01-01T00:00:00"},  # no zone
                {"external_id": "a3", "name": "Birch Lane", "colour": "blue"},
                {"external_id": "a4", "name": "Cedar Court"},
            ],
        )
        assert res.written == 1 and [f.external_id for f in res.failures] == ["a1", "a2", "a3"]
        assert "arr" in res.failures[0].error and "colour" in res.failures[2].error
    with any_runtime.session() as s:
        assert s.scalar(select(m.Account.arr).where(m.Account.external_id == "a1")) == 48000.5
        assert _count(s, m.Account) == 2
    with any_runtime.session() as s, pytest.raises(InvalidInput, match="unknown entity"):
        ingest_records(session=s, source="hubspot", entity="widgets", records=[])


def test_delete_removes_record_and_children(any_runtime) -> None:
    with any_runtime.session() as s:
        _seed(s)
    with any_runtime.session() as s:
        assert delete_records(session=s, source="hubspot", entity="deals", external_ids=["d1", "nope"]) == 1
    with any_runtime.session() as s:
        assert _count(s, m.Deal) == 0 and _count(s, m.DealStageHistory) == 0 and _count(s, m.Account) == 1
