"""The sync runner on SQLite and on the real PostgreSQL: HubSpot (the fake) -> transform -> database."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from connectors.registry import KINDS
from core import pipelines
from core.db import models as m
from core.errors import Conflict
from core.runtime import Runtime, open_runtime, prepare
from tests.conftest import make_settings
from tests.contract.fake_hubspot import FakeHubSpot, populate
from tests.contract.hubspot_utils import add_hubspot, counts, cursor, snapshot, sync


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    hub = FakeHubSpot().start()
    populate(hub, companies=8)
    yield hub
    hub.stop()


@pytest.fixture
def reference(tmp_path, fake: FakeHubSpot) -> dict:
    """A clean full sync into a fresh SQLite database: the snapshot every backend must equal."""
    rt = open_runtime(make_settings(tmp_path / "reference"))
    prepare(rt)
    add_hubspot(rt, fake)
    assert sync(rt).status == "succeeded"
    shot = snapshot(rt)
    rt.engine.dispose()
    return shot


def test_crash_and_resume_gives_exactly_a_clean_full_sync(any_runtime: Runtime, fake: FakeHubSpot, reference) -> None:
    add_hubspot(any_runtime, fake)
    fake.fail(path="/crm/v3/objects/notes/search", after=1, status=503, times=None)
    failed = sync(any_runtime)
    assert failed.status == "failed" and failed.runs[-1].stream == "notes"
    assert cursor(any_runtime, "notes")["after_id"] is not None

    fake.recover()
    assert sync(any_runtime).status == "succeeded"
    assert snapshot(any_runtime) == reference
    # and a second sync with nothing new changes nothing
    assert sum(r.tally.read for r in sync(any_runtime).runs) == 0
    assert snapshot(any_runtime) == reference


def test_quarantine_and_deletes(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    bad = fake.add("deals", {"dealname": "No stage"})
    add_hubspot(any_runtime, fake)
    assert sync(any_runtime).status == "succeeded"
    fake.archive("deals", fake.live("deals")[0].id)
    assert sync(any_runtime).status == "succeeded"

    with any_runtime.session() as s:
        quarantined = s.scalars(select(m.QuarantinedRecord)).all()
        runs = s.scalars(select(m.PipelineRun).where(m.PipelineRun.stream == "deals").order_by(m.PipelineRun.id)).all()
    assert [(q.external_id, q.stream, q.error) for q in quarantined] == [(bad, "deals", "deal has no dealstage")]
    assert counts(any_runtime)["deals"] == 7
    assert [r.records_quarantined for r in runs] == [1, 0]


def test_one_sync_of_a_connector_at_a_time(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake)
    fake.fail(path="/crm/v3/objects/contacts/search", hang=True)
    first = threading.Thread(target=sync, args=(any_runtime,))
    first.start()
    try:
        assert fake.hanging.wait(30)
        with pytest.raises(Conflict, match="already syncing"):
            pipelines.sync_connector(runtime=any_runtime, kinds=KINDS, name="hs")
    finally:
        fake.recover()
        first.join(30)
    assert sync(any_runtime).status == "succeeded"  # the lease was released


def test_secrets_are_encrypted_at_rest(any_runtime: Runtime, fake: FakeHubSpot) -> None:
    add_hubspot(any_runtime, fake)
    with any_runtime.session() as s:
        stored = s.scalar(select(m.ConfiguredConnector.config).where(m.ConfiguredConnector.name == "hs"))
    assert fake.token not in repr(stored) and set(stored["token"]) == {"$secret"}
