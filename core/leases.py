"""One run at a time: the lease a connector sync and a vector-backend sync each take before they write.

A lease lives on the row of what it guards (a connector, a vector backend's sync state), in two columns:
``lease_owner`` (``<run>:<pid>@<host>``) and ``lease_expires_at``. Taking it is one conditional UPDATE of
that row (atomic on SQLite and PostgreSQL): it succeeds when the lease is free, expired, or held by a process
on this machine that no longer runs (killed, crashed: no need to wait for the expiry). The holder renews it
with each unit of work it commits (a page, a batch); a run that stalls past ``ttl`` loses it, and its next
renewal says so (``Conflict``) instead of writing behind the new holder's back. Releasing clears both columns.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from core.db.engine import changed_rows
from core.db.types import utcnow
from core.errors import Conflict
from core.observability.logging import get_logger

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["Lease", "LeaseSlot", "holder_is_dead", "new_owner"]

log = get_logger("leases")
OWNER_MAX = 64


@dataclass(frozen=True)
class LeaseSlot:
    """Where a lease lives: a model with ``lease_owner``/``lease_expires_at`` columns and the condition that
    picks the guarded row (which must exist)."""

    model: Any
    where: ColumnElement[bool]
    label: str  # what is guarded, for messages ("connector 'hs'")


def new_owner() -> str:
    """``<run>:<pid>@<host>``: unique per run, and it names the process, so a dead holder can be told."""
    return f"{uuid.uuid4().hex[:12]}:{os.getpid()}@{socket.gethostname()}"[:OWNER_MAX]


def holder_is_dead(owner: str | None) -> bool:
    """True when the holder was a process on this machine that no longer runs. A holder on another machine
    is only presumed dead when its lease expires."""
    match = re.fullmatch(r"[0-9a-f]+:(\d+)@(.*)", owner or "")
    if match is None or match.group(2) != socket.gethostname()[: len(match.group(2))]:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    """A lease held by this run; see the module notes."""

    def __init__(self, runtime: Runtime, slot: LeaseSlot, owner: str, ttl: timedelta) -> None:
        self.runtime, self.slot, self.owner, self.ttl = runtime, slot, owner, ttl

    @classmethod
    def take(cls, *, runtime: Runtime, slot: LeaseSlot, ttl: timedelta, busy: str) -> Lease:
        """Take the lease, or raise ``Conflict(busy)`` when another live run holds it."""
        lease = cls(runtime, slot, new_owner(), ttl)
        with runtime.session() as session:
            if not lease.take_in(session):
                raise Conflict(busy)
        return lease

    def take_in(self, session: Session) -> bool:
        """Take the lease in the caller's transaction; False when another live run holds it."""
        model, now = self.slot.model, utcnow()
        free = or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)
        holder = session.scalar(select(model.lease_owner).where(self.slot.where))
        if holder is not None and holder_is_dead(holder):
            free = or_(free, model.lease_owner == holder)
        take = (
            update(model).where(self.slot.where, free).values(lease_owner=self.owner, lease_expires_at=now + self.ttl)
        )
        return changed_rows(session, take) == 1

    def renew(self, session: Session | None = None) -> None:
        """Extend the lease (in the caller's transaction when given one). Raises ``Conflict`` when this run
        lost it (it stalled past its ttl and another run took over)."""
        if session is None:
            with self.runtime.session() as own:
                return self.renew(own)
        model = self.slot.model
        keep = (
            update(model)
            .where(self.slot.where, model.lease_owner == self.owner)
            .values(lease_expires_at=utcnow() + self.ttl)
        )
        if changed_rows(session, keep) != 1:
            raise Conflict(f"{self.slot.label}: this run lost its lease (it stalled longer than {self.ttl})")
        return None

    def release(self) -> None:
        """Free the lease; never raises (an unreleased lease expires by itself)."""
        model = self.slot.model
        try:
            with self.runtime.session() as session:
                session.execute(
                    update(model)
                    .where(self.slot.where, model.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )
        except Exception:  # noqa: BLE001 - it expires by itself
            log.warning("could not release a lease", slot=self.slot.label)
