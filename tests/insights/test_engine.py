"""The engine's promises on crafted data: one insight per finding, still-true findings update, cleared ones
resolve themselves, a person's resolution sticks, snooze hides, roles filter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.auth import Identity
from core.db.models import Account, AuditLog, Deal, Insight
from core.errors import Conflict, InvalidInput, NotFound
from core.insights import InsightFilters, acknowledge, insight_dict, list_insights, resolve, run_detection, snooze
from core.runtime import Runtime

AS_OF = date(2026, 10, 15)
NOW = datetime(2026, 10, 15, tzinfo=UTC)
ADMIN = Identity(username="ann", role="admin", via="cli")
VIEWER = Identity(username="vic", role="viewer", via="cli")


def add_deal(rt: Runtime, ext: str, *, days_in_stage: float, stage: str = "proposal") -> None:
    """A deal of account a1 (made on first use) that entered ``stage`` ``days_in_stage`` days before NOW."""
    with rt.session() as s:
        acct = s.scalar(select(Account).where(Account.external_id == "a1"))
        if acct is None:
            acct = Account(source="test", external_id="a1", name="Acme Realty", lifecycle_stage="live")
            s.add(acct)
            s.flush()
        s.add(
            Deal(
                source="test",
                external_id=ext,
                name=f"Deal {ext}",
                stage=stage,
                amount=10_000,
                account_id=acct.id,
                owner="rep@payready.com",
                stage_entered_at=NOW - timedelta(days=days_in_stage),
            )
        )


def _insights(rt: Runtime) -> list[Insight]:
    with rt.session() as s:
        rows = list(s.scalars(select(Insight).order_by(Insight.id)))
        s.expunge_all()
        return rows


def test_threshold_edge_and_one_insight_per_finding(runtime: Runtime) -> None:
    add_deal(runtime, "d-at", days_in_stage=21)  # exactly at the threshold: fires
    add_deal(runtime, "d-under", days_in_stage=20.9)
    add_deal(runtime, "d-closed", days_in_stage=90, stage="closed_won")
    first = run_detection(runtime=runtime, as_of=AS_OF, types=["deal_stalled"])
    assert first.counts() == {"created": 1, "updated": 0, "resolved": 0}
    again = run_detection(runtime=runtime, as_of=AS_OF, types=["deal_stalled"])
    assert again.counts() == {"created": 0, "updated": 1, "resolved": 0}
    (row,) = _insights(runtime)
    assert row.subject_external_id == "d-at" and row.status == "new"
    assert any("threshold 21 days" in r for r in row.reasons)
    assert row.evidence[0]["table"] == "deals" and row.evidence[0]["external_id"] == "d-at"


def test_cleared_finding_resolves_itself_and_returns_as_new(runtime: Runtime) -> None:
    add_deal(runtime, "d1", days_in_stage=30)
    run_detection(runtime=runtime, as_of=AS_OF, types=["deal_stalled"])
    with runtime.session() as s:
        s.scalar(select(Deal).where(Deal.external_id == "d1")).stage = "closed_won"
    assert run_detection(runtime=runtime, as_of=AS_OF, types=["deal_stalled"]).resolved == 1
    (row,) = _insights(runtime)
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "auto", "system")
    assert row.reasons[-1].startswith("Resolved automatically")
    with runtime.session() as s:
        s.scalar(select(Deal).where(Deal.external_id == "d1")).stage = "proposal"
    assert run_detection(runtime=runtime, as_of=AS_OF, types=["deal_stalled"]).created == 1
    (row,) = _insights(runtime)
    assert row.status == "new" and row.resolution is None


def test_person_resolution_sticks_while_the_finding_holds(runtime: Runtime) -> None:
    add_deal(runtime, "d1", days_in_stage=30)
    run_detection(runtime=runtime, as_of=AS_OF)
    (row,) = _insights(runtime)
    with runtime.session() as s:
        acknowledge(session=s, identity=ADMIN, insight_id=row.id, now=NOW)
        resolve(session=s, identity=ADMIN, insight_id=row.id, now=NOW, note="talked to the buyer")
    result = run_detection(runtime=runtime, as_of=AS_OF + timedelta(days=1))
    assert result.counts() == {"created": 0, "updated": 1, "resolved": 0}
    (row,) = _insights(runtime)
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "person", "ann")
    with runtime.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.actor == "ann"))]
        assert actions == ["insight.acknowledge", "insight.resolve"]
        with pytest.raises(Conflict):
            acknowledge(session=s, identity=ADMIN, insight_id=row.id, now=NOW)


def test_snooze_hides_from_the_open_feed_until_its_day(runtime: Runtime) -> None:
    add_deal(runtime, "d1", days_in_stage=30)
    run_detection(runtime=runtime, as_of=AS_OF)
    (row,) = _insights(runtime)
    with runtime.session() as s:
        with pytest.raises(InvalidInput):
            snooze(session=s, identity=ADMIN, insight_id=row.id, until=AS_OF, now=NOW)
        snooze(session=s, identity=ADMIN, insight_id=row.id, until=AS_OF + timedelta(days=3), now=NOW)
    with runtime.session() as s:
        for status, now, expected in [
            ("open", NOW, 0),
            ("snoozed", NOW, 1),
            ("new", NOW, 0),
            ("open", NOW + timedelta(days=3), 1),
        ]:
            _, total = list_insights(session=s, identity=ADMIN, filters=InsightFilters(status=status), now=now)
            assert total == expected, (status, now)
        item = insight_dict(s.get(Insight, row.id), now=NOW)
        assert item["status"] == "snoozed"
        assert set(item) >= {"id", "type", "severity", "status", "title", "score", "reasons", "subject", "evidence"}
        assert set(item) >= {"fingerprint", "first_seen", "last_seen"}


def test_a_role_sees_only_what_it_may(runtime: Runtime) -> None:
    add_deal(runtime, "d1", days_in_stage=30)
    run_detection(runtime=runtime, as_of=AS_OF)
    with runtime.session() as s:
        row = s.scalars(select(Insight)).one()
        row.min_role = "admin"
        row_id = row.id
    with runtime.session() as s:
        assert list_insights(session=s, identity=VIEWER, now=NOW)[1] == 0
        assert list_insights(session=s, identity=ADMIN, now=NOW)[1] == 1
        with pytest.raises(NotFound):
            acknowledge(session=s, identity=VIEWER, insight_id=row_id, now=NOW)
