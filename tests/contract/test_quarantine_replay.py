"""Quarantined records taken in again once the cause is fixed, against the fake HubSpot: a deal in a stage the
connector's stage_map lacked lands after the admin adds it; one still malformed stays with its error; one
the source has meanwhile sent again, newer, is not overwritten by its old payload. Through the core call and
`sophia quarantine list|replay` as other tools drive it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.registry import KINDS
from core.crypto import SecretBox
from core.db import models as m
from core.errors import NotFound
from core.pipelines import manage
from core.pipelines.replay import replay_quarantined
from core.runtime import Runtime
from tests.contract.fake_hubspot import EPOCH, FakeHubSpot
from tests.contract.helpers import sophia
from tests.contract.hubspot_utils import add_hubspot, sync


def _deal(runtime: Runtime, external_id: str) -> m.Deal | None:
    with runtime.session() as s:
        return s.scalar(select(m.Deal).where(m.Deal.source == "hubspot", m.Deal.external_id == external_id))


def _quarantined(runtime: Runtime) -> dict[str, str]:
    with runtime.session() as s:
        return {r.external_id: r.error for r in s.scalars(select(m.QuarantinedRecord))}


@pytest.fixture
def quarantined(runtime: Runtime, fake: FakeHubSpot) -> dict[str, str]:
    at = EPOCH + timedelta(days=400)
    ids = {
        "custom": fake.add("deals", {"dealname": "Custom", "amount": "5000", "dealstage": "9911"}, modified=at),
        "resent": fake.add("deals", {"dealname": "Resent", "amount": "700", "dealstage": "9911"}, modified=at),
        "odd": fake.add("deals", {"dealname": "Odd", "amount": "lots", "dealstage": "closedwon"}, modified=at),
    }
    add_hubspot(runtime, fake)
    assert sync(runtime).status == "succeeded"
    assert set(_quarantined(runtime)) == set(ids.values())
    # the source sends one of them again, fixed and newer; the next sync stores it
    fake.update("deals", ids["resent"], {"dealstage": "closedwon", "amount": "900"})  # modified now
    assert sync(runtime).status == "succeeded"
    assert float(_deal(runtime, ids["resent"]).amount) == 900
    # the admin maps the tenant's stage
    with runtime.session() as s:
        manage.update_settings(
            session=s,
            box=SecretBox.from_settings(runtime.settings),
            kinds=KINDS,
            name="hs",
            values={"stage_map.9911": "negotiation"},
            actor="admin",
        )
    return ids


def test_replay_takes_in_what_now_maps_and_keeps_what_does_not(runtime: Runtime, quarantined: dict[str, str]) -> None:
    result = replay_quarantined(runtime=runtime, kinds=KINDS, name="hs", actor="admin")

    assert (result.taken, result.superseded, result.still_failing) == (1, 1, 1)
    custom = _deal(runtime, quarantined["custom"])
    assert custom is not None and custom.stage == "negotiation" and float(custom.amount) == 5000
    resent = _deal(runtime, quarantined["resent"])
    assert resent.stage == "closed_won" and float(resent.amount) == 900  # the old payload did not win
    left = _quarantined(runtime)
    assert list(left) == [quarantined["odd"]] and "amount" in left[quarantined["odd"]]
    assert result.errors[0][1] == left[quarantined["odd"]]
    with runtime.session() as s:
        entry = s.scalar(select(m.AuditLog).where(m.AuditLog.action == "quarantine.replay"))
    assert entry.actor == "admin" and entry.target == "hs" and entry.details["taken"] == 1

    again = replay_quarantined(runtime=runtime, kinds=KINDS, name="hs", actor="admin")
    assert (again.taken, again.superseded, again.still_failing) == (0, 0, 1)


def test_replay_of_chosen_records_and_bad_requests(runtime: Runtime, quarantined: dict[str, str]) -> None:
    with runtime.session() as s:
        ids = {r.external_id: r.id for r in s.scalars(select(m.QuarantinedRecord))}
    result = replay_quarantined(
        runtime=runtime, kinds=KINDS, name="hs", actor="admin", ids=[ids[quarantined["custom"]]]
    )
    assert (result.taken, result.superseded, result.still_failing) == (1, 0, 0)
    assert set(_quarantined(runtime)) == {quarantined["resent"], quarantined["odd"]}
    with pytest.raises(NotFound, match="no quarantined record 999999"):
        replay_quarantined(runtime=runtime, kinds=KINDS, name="hs", actor="admin", ids=[999_999])
    with pytest.raises(NotFound):
        replay_quarantined(runtime=runtime, kinds=KINDS, name="nope", actor="admin")
    assert set(_quarantined(runtime)) == {quarantined["resent"], quarantined["odd"]}  # nothing changed


def test_the_cli_lists_and_replays(runtime: Runtime, quarantined: dict[str, str], env: dict[str, str]) -> None:
    listed = sophia("quarantine", "list", "--connector", "hs", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["external_id"] for r in rows} == set(quarantined.values())
    assert set(rows[0]) == {"id", "connector", "stream", "external_id", "error", "created_at"}

    done = sophia("quarantine", "replay", "hs", "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["taken"], body["superseded"], body["still_failing"]) == (1, 1, 1)

    human = sophia("quarantine", "replay", "hs", env=env)
    assert human.returncode == 0 and "0 taken in, 0 superseded, 1 still failing" in human.stdout
    missing = sophia("quarantine", "replay", "nope", env=env)
    assert missing.returncode != 0 and missing.stderr.startswith("error: ")
