"""Insights read the model, whatever filled it: deals synced from the fake HubSpot at the wire stall, and a
stage change synced later resolves the insight by itself."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import models as m
from core.insights import run_detection
from core.metrics.stages import OPEN_STAGES
from core.runtime import Runtime
from tests.contract.fake_hubspot import FakeHubSpot
from tests.contract.hubspot_utils import add_hubspot, sync


def test_synced_deals_stall_and_a_synced_stage_change_resolves(runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    with runtime.session() as s:
        open_deals = {
            d.external_id: d.stage_entered_at
            for d in s.scalars(select(m.Deal).where(m.Deal.source == "hubspot", m.Deal.stage.in_(OPEN_STAGES)))
        }
    assert open_deals and all(open_deals.values())
    as_of = max(open_deals.values()).date() + timedelta(days=30)  # every open deal has sat for 29+ days

    first = run_detection(runtime=runtime, as_of=as_of, types=["deal_stalled"])

    assert first.created == len(open_deals)
    with runtime.session() as s:
        rows = list(s.scalars(select(m.Insight).where(m.Insight.type == "deal_stalled")))
        assert {r.subject_external_id for r in rows} == set(open_deals)
        row = rows[0]
        assert row.account_id is not None and row.owner and row.owner.endswith("@payready.com")
        assert row.evidence[0] == {"table": "deals", "external_id": row.subject_external_id, "doc_id": None} | {
            "label": row.evidence[0]["label"]
        }
        # the deal's HubSpot engagements are evidence, each with its search document once indexed
        assert any(e["table"] in ("activities", "calls") for e in row.evidence[1:])
        moved = row.subject_external_id

    fake.update("deals", moved, {"dealstage": "closedwon"})
    assert sync(runtime).status == "succeeded"
    again = run_detection(runtime=runtime, as_of=as_of, types=["deal_stalled"])

    assert (again.created, again.resolved) == (0, 1)
    with runtime.session() as s:
        done = s.scalar(select(m.Insight).where(m.Insight.subject_external_id == moved))
        assert (done.status, done.resolution) == ("resolved", "auto")
