"""The one lease (core.leases) guarding connector syncs and vector-backend syncs."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.db.models import ConfiguredConnector, IndexSyncState
from core.db.types import utcnow
from core.errors import Conflict
from core.leases import Lease, LeaseSlot, holder_is_dead, new_owner
from core.runtime import Runtime

TTL = timedelta(minutes=5)


def _slot(rt: Runtime) -> LeaseSlot:
    with rt.session() as s:
        s.add(IndexSyncState(backend="embedded", last_change_id=0, chunks_indexed=0))
    return LeaseSlot(IndexSyncState, IndexSyncState.backend == "embedded", "embedded")


def test_one_holder_at_a_time_until_released(any_runtime: Runtime) -> None:
    slot = _slot(any_runtime)
    first = Lease.take(runtime=any_runtime, slot=slot, ttl=TTL, busy="busy")
    with pytest.raises(Conflict, match="busy"):
        Lease.take(runtime=any_runtime, slot=slot, ttl=TTL, busy="busy")
    first.renew()
    first.release()
    Lease.take(runtime=any_runtime, slot=slot, ttl=TTL, busy="busy").release()


def test_an_expired_lease_is_taken_over_and_its_old_holder_told(any_runtime: Runtime) -> None:
    slot = _slot(any_runtime)
    stalled = Lease.take(runtime=any_runtime, slot=slot, ttl=TTL, busy="busy")
    with any_runtime.session() as s:  # the holder stalled past its ttl
        s.execute(update(IndexSyncState).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    Lease.take(runtime=any_runtime, slot=slot, ttl=TTL, busy="busy")
    with pytest.raises(Conflict, match="lost its lease"):
        stalled.renew()


def test_a_lease_held_by_a_dead_process_on_this_machine_is_free(runtime: Runtime) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = new_owner().split(":")[0] + f":{done.stdout.strip()}@" + new_owner().split("@", 1)[1]
    assert holder_is_dead(dead) and not holder_is_dead(new_owner()) and not holder_is_dead("abc:1@elsewhere")
    slot = _slot(runtime)
    with runtime.session() as s:
        s.execute(update(IndexSyncState).values(lease_owner=dead, lease_expires_at=utcnow() + TTL))
    Lease.take(runtime=runtime, slot=slot, ttl=TTL, busy="busy")


def test_a_connector_and_a_backend_use_the_same_lease(runtime: Runtime) -> None:
    with runtime.session() as s:
        s.add(ConfiguredConnector(name="hs", kind="hubspot", config={}))
    slot = LeaseSlot(ConfiguredConnector, ConfiguredConnector.name == "hs", "connector 'hs'")
    held = Lease.take(runtime=runtime, slot=slot, ttl=TTL, busy="syncing")
    with runtime.session() as s:
        row = s.get(ConfiguredConnector, 1)
        assert row.lease_owner == held.owner and row.lease_expires_at > utcnow()
    held.release()
    with runtime.session() as s:
        assert s.get(ConfiguredConnector, 1).lease_owner is None
