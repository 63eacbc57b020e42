"""Managing configured connectors (core.pipelines.manage) on SQLite and on the real PostgreSQL: schedule,
settings with the same validation and secret handling as add_connector, delete, and the per-connector
roll-up the admin page shows — driven through the real HubSpot connector against the fake HubSpot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.registry import KINDS
from core import pipelines
from core.crypto import SecretBox
from core.db import models as m
from core.db.types import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.pipelines import manage
from core.pipelines.health import due_connectors
from core.runtime import Runtime
from tests.contract.fake_hubspot import EPOCH, FakeHubSpot, populate
from tests.contract.hubspot_utils import add_hubspot, cursor, sync


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    hub = FakeHubSpot().start()
    populate(hub, companies=3)
    yield hub
    hub.stop()


def box(rt: Runtime) -> SecretBox:
    return SecretBox.from_settings(rt.settings)


def row(rt: Runtime, name: str = "hs") -> m.ConfiguredConnector:
    with rt.session() as s:
        return pipelines.get_connector(session=s, name=name)


def loaded(rt: Runtime, name: str = "hs"):  # noqa: ANN201
    return pipelines.load_config(row=row(rt, name), box=box(rt), kinds=KINDS)


def audits(rt: Runtime, action: str) -> list[m.AuditLog]:
    with rt.session() as s:
        return list(s.scalars(select(m.AuditLog).where(m.AuditLog.action == action).order_by(m.AuditLog.id)))


def update(rt: Runtime, name: str = "hs", reset: tuple[str, ...] = (), **values) -> m.ConfiguredConnector:
    with rt.session() as s:
        return manage.update_settings(
            session=s, box=box(rt), kinds=KINDS, name=name, values=values, reset=reset, actor="alice"
        )


# ---- schedule -------------------------------------------------------------------------------


def test_enable_disable_and_interval_persist_and_are_audited(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake)
    with any_runtime.session() as s:
        manage.set_enabled(session=s, name="hs", enabled=False, actor="alice")
        manage.set_interval(session=s, name="hs", interval_minutes=15, actor="alice")
    assert (row(any_runtime).enabled, row(any_runtime).interval_minutes) == (False, 15)
    with any_runtime.session() as s:
        assert due_connectors(session=s) == []  # disabled: the scheduler leaves it alone
        manage.set_enabled(session=s, name="hs", enabled=True, actor="alice")
        manage.set_enabled(session=s, name="hs", enabled=True, actor="alice")  # no change: no audit row
        manage.set_interval(session=s, name="hs", interval_minutes=15, actor="alice")
    assert row(any_runtime).enabled is True
    assert [a.actor for a in audits(any_runtime, "connector.disable")] == ["alice"]
    assert len(audits(any_runtime, "connector.enable")) == 1
    assert [a.details for a in audits(any_runtime, "connector.interval")] == [{"from": 60, "to": 15}]


@pytest.mark.parametrize("minutes", [0, -5, 7 * 24 * 60 + 1])
def test_an_interval_out_of_range_is_refused(any_runtime: Runtime, fake: FakeHubSpot, minutes: int) -> None:
    add_hubspot(any_runtime, fake)
    with pytest.raises(InvalidInput, match="between 1 and 10080 minutes"), any_runtime.session() as s:
        manage.set_interval(session=s, name="hs", interval_minutes=minutes, actor="alice")
    assert row(any_runtime).interval_minutes == 60


def test_an_unknown_connector_is_not_found(any_runtime: Runtime) -> None:
    with pytest.raises(NotFound, match="no connector named 'nope'"), any_runtime.session() as s:
        manage.set_enabled(session=s, name="nope", enabled=False, actor="alice")


# ---- settings -------------------------------------------------------------------------------


def test_settings_change_and_a_blank_secret_keeps_the_stored_one(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake)
    before = row(any_runtime).config["token"]
    update(any_runtime, token="", page_size="7", **{"stage_map.9911": "demo"})
    config = row(any_runtime).config
    assert config["token"] == before  # the same ciphertext: not even re-encrypted
    cfg = loaded(any_runtime)
    assert cfg.token.get_secret_value() == fake.token and cfg.page_size == 7 and cfg.stage_map == {"9911": "demo"}
    assert cfg.base_url == fake.url  # untouched settings stay
    assert [a.details for a in audits(any_runtime, "connector.update")] == [
        {"changed": ["page_size", "stage_map"], "reset": []}
    ]


def test_a_new_secret_is_stored_encrypted_and_an_env_reference_is_checked(
    any_runtime: Runtime, fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_hubspot(any_runtime, fake)
    update(any_runtime, token="pat-na1-rotated-token-9999")
    stored = row(any_runtime).config["token"]
    assert set(stored) == {"$secret"} and "rotated" not in json.dumps(row(any_runtime).config)
    assert loaded(any_runtime).token.get_secret_value() == "pat-na1-rotated-token-9999"
    shown = pipelines.describe(row=row(any_runtime), box=box(any_runtime), kinds=KINDS)
    assert shown["config"]["token"] == "••••9999"
    audit = audits(any_runtime, "connector.update")[0]
    assert audit.details == {"changed": ["token"], "reset": []} and "rotated" not in json.dumps(audit.details)

    monkeypatch.setenv("SOPHIA_HUBSPOT_TOKEN_PROD", fake.token)
    update(any_runtime, token="env:SOPHIA_HUBSPOT_TOKEN_PROD")
    assert row(any_runtime).config["token"] == {"$env": "SOPHIA_HUBSPOT_TOKEN_PROD"}
    assert loaded(any_runtime).token.get_secret_value() == fake.token
    with pytest.raises(InvalidInput, match="must be named SOPHIA_HUBSPOT_"):
        update(any_runtime, token="env:SOPHIA_SECRET_KEY")


@pytest.mark.parametrize(
    ("values", "reset", "needle"),
    [
        ({"page_size": "500"}, (), "page_size: Input should be less than or equal to 200"),
        ({"base_url": "file:///etc"}, (), "base_url: must be an http"),
        ({"colour": "red"}, (), "unknown setting 'colour'"),
        ({}, ("colour",), "unknown setting 'colour'"),
        ({"stage_map": "{not json"}, (), "not valid JSON"),
        ({"stage_map.1": "nowhere"}, (), "unknown stage 'nowhere'"),
        ({}, ("token",), "hubspot needs token"),
        ({"token": 12345}, (), "token is a secret: give it as text"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(
    any_runtime: Runtime, fake: FakeHubSpot, values, reset, needle
) -> None:
    add_hubspot(any_runtime, fake)
    before = row(any_runtime).config
    with pytest.raises(InvalidInput, match=needle):
        update(any_runtime, reset=reset, **values)
    assert row(any_runtime).config == before
    assert audits(any_runtime, "connector.update") == []


def test_reset_returns_a_setting_to_its_default(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake, units_property="units_managed")
    assert loaded(any_runtime).page_size == 5
    update(any_runtime, reset=("page_size", "units_property"))
    cfg = loaded(any_runtime)
    assert cfg.page_size == 200 and cfg.units_property is None
    assert "page_size" not in row(any_runtime).config
    assert audits(any_runtime, "connector.update")[0].details == {
        "changed": [],
        "reset": ["page_size", "units_property"],
    }
    update(any_runtime, reset=("page_size",))  # nothing left to reset: no audit row
    assert len(audits(any_runtime, "connector.update")) == 1


def test_an_updated_connector_syncs_with_its_new_settings(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake, token="pat-wrong")
    assert sync(any_runtime, streams=["companies"]).status == "failed"
    update(any_runtime, token=fake.token)
    result = sync(any_runtime, streams=["companies"])
    assert result.status == "succeeded" and result.runs[0].tally.written == 3


# ---- delete ---------------------------------------------------------------------------------


def test_delete_removes_the_connector_and_its_bookkeeping_not_its_records(
    any_runtime: Runtime, fake: FakeHubSpot
) -> None:
    fake.add("deals", {"dealname": "No stage"}, modified=EPOCH + timedelta(days=400))
    add_hubspot(any_runtime, fake)
    add_hubspot(any_runtime, fake, name="other")
    assert sync(any_runtime).status == "succeeded"
    assert sync(any_runtime, name="other", streams=["companies"]).status == "succeeded"

    with any_runtime.session() as s:
        gone = manage.delete_connector(session=s, name="hs", actor="alice")
    assert (gone.name, gone.kind, gone.runs, gone.quarantined, gone.cursors) == ("hs", "hubspot", 7, 1, 7)
    with any_runtime.session() as s:
        assert [c.name for c in pipelines.list_connectors(session=s)] == ["other"]
        assert {r.connector for r in s.scalars(select(m.PipelineRun))} == {"other"}
        assert s.scalars(select(m.QuarantinedRecord)).all() == []
        assert {c.connector for c in s.scalars(select(m.SyncState))} == {"other"}
        assert len(s.scalars(select(m.Account).where(m.Account.source == "hubspot")).all()) == 3  # the data stays
    assert audits(any_runtime, "connector.delete")[0].details == {
        "kind": "hubspot",
        "runs": 7,
        "quarantined": 1,
        "cursors": 7,
    }
    # added again under the same name, it starts from the beginning
    add_hubspot(any_runtime, fake)
    assert cursor(any_runtime, "companies") is None
    with pytest.raises(NotFound), any_runtime.session() as s:
        manage.delete_connector(session=s, name="nope", actor="alice")


def test_a_syncing_connector_cannot_be_deleted(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake)
    with any_runtime.session() as s:  # a live lease, as the runner holds it during a sync
        r = pipelines.get_connector(session=s, name="hs")
        r.lease_owner, r.lease_expires_at = "abc:1@elsewhere", utcnow() + timedelta(minutes=10)
    with pytest.raises(Conflict, match="is syncing"), any_runtime.session() as s:
        manage.delete_connector(session=s, name="hs", actor="alice")
    assert row(any_runtime).name == "hs"
    with any_runtime.session() as s:  # an expired lease (a crashed run) does not block it
        pipelines.get_connector(session=s, name="hs").lease_expires_at = utcnow() - timedelta(minutes=1)
    with any_runtime.session() as s:
        manage.delete_connector(session=s, name="hs", actor="alice")


# ---- the roll-up ----------------------------------------------------------------------------


def test_statuses_roll_up_streams_and_survive_an_unreadable_connector(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    fake.add("companies", {"city": "Nowhere"}, modified=EPOCH + timedelta(days=400))
    add_hubspot(any_runtime, fake, name="good")
    add_hubspot(any_runtime, fake, name="broken", token="pat-wrong")
    add_hubspot(any_runtime, fake, name="fresh")
    add_hubspot(any_runtime, fake, name="paused")
    add_hubspot(any_runtime, fake, name="unreadable", token="env:SOPHIA_HUBSPOT_NOT_SET")
    with any_runtime.session() as s:
        manage.set_enabled(session=s, name="paused", enabled=False, actor="alice")
    assert sync(any_runtime, name="good").status == "succeeded"
    assert sync(any_runtime, name="broken").status == "failed"

    by_name = {c.name: c for c in manage.connector_statuses(runtime=any_runtime, kinds=KINDS)}
    assert list(by_name) == ["broken", "fresh", "good", "paused", "unreadable"]
    assert {n: c.state for n, c in by_name.items()} == {
        "broken": "failing",
        "fresh": "never_run",
        "good": "ok",
        "paused": "disabled",
        "unreadable": "failing",
    }
    good = by_name["good"]
    assert len(good.streams) == 7 and all(s.state == "ok" for s in good.streams)
    assert good.quarantined == 1 and good.last_error is None and not good.syncing
    assert good.lag_s is not None and good.freshness_s is not None and good.last_run_at is not None
    assert good.lag_s == max(s.lag_s for s in good.streams)
    assert good.freshness_s == min(s.freshness_s for s in good.streams if s.freshness_s is not None)
    broken = by_name["broken"]
    assert broken.lag_s is None and ("401" in broken.last_error or "credential" in broken.last_error.lower())
    unreadable = by_name["unreadable"]
    assert unreadable.streams == [] and "SOPHIA_HUBSPOT_NOT_SET, which is not set" in unreadable.problem
    assert unreadable.last_error == unreadable.problem
