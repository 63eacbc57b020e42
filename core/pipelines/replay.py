"""Quarantined records taken in again, once what made them fail is fixed (a connector setting such as its
stage map, a mapping fixed in a release, a referenced record that now exists).

Each stored payload goes through the connector's own ``transform`` and the one ingest path again, in one
transaction for the whole replay. A record that now maps and validates is written and leaves the quarantine;
one that still fails stays, with its new error; one the source has meanwhile sent again, newer, and a sync
stored (the stored row's source ``updated_at`` is at least the payload's) leaves the quarantine unwritten,
so a replay never puts old data over new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import audit
from core.db.models import QuarantinedRecord
from core.errors import NotFound
from core.ingest.service import ENTITIES, ingest_records
from core.pipelines.contract import Failure, KindInfo
from core.pipelines.runner import build_source

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["ReplayResult", "replay_quarantined"]


@dataclass
class ReplayResult:
    connector: str
    taken: int = 0  # mapped, validated and written: out of the quarantine
    superseded: int = 0  # a newer version was stored meanwhile: out of the quarantine, not written
    still_failing: int = 0  # kept, with the error of this attempt
    errors: list[tuple[int, str]] = field(default_factory=list)  # (quarantine id, error) of the first few

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "taken": self.taken,
            "superseded": self.superseded,
            "still_failing": self.still_failing,
            "errors": [{"id": i, "error": e} for i, e in self.errors],
        }


def replay_quarantined(
    *, runtime: Runtime, kinds: Mapping[str, KindInfo], name: str, actor: str, ids: Sequence[int] | None = None
) -> ReplayResult:
    """Take in again the quarantined records of connector ``name`` (all of them, or these ids)."""
    source = build_source(runtime=runtime, kinds=kinds, name=name)  # NotFound / ConfigError at the edge
    result = ReplayResult(name)
    try:
        specs = {s.name: s for s in source.streams()}
        with runtime.session() as session:
            stmt = select(QuarantinedRecord).where(QuarantinedRecord.connector == name).order_by(QuarantinedRecord.id)
            if ids is not None:
                stmt = stmt.where(QuarantinedRecord.id.in_(list(ids)))
            rows = list(session.scalars(stmt))
            if ids is not None and len(rows) < len(set(ids)):
                missing = sorted(set(ids) - {r.id for r in rows})
                raise NotFound(f"no quarantined record {missing[0]} of connector {name!r}")
            for row in rows:
                _replay_one(session, source, specs, row, result)
            audit(session=session, actor=actor, action="quarantine.replay", target=name, details=result.as_dict())
    finally:
        source.close()
    return result


def _replay_one(
    session: Session, source: Any, specs: Mapping[str, Any], row: QuarantinedRecord, result: ReplayResult
) -> None:
    def still(error: str) -> None:
        row.error = error
        result.still_failing += 1
        if len(result.errors) < 20:
            result.errors.append((row.id, error))

    spec = specs.get(row.stream)
    if spec is None:
        still(f"stream {row.stream!r} is no longer one of this connector's")
        return
    mapped = source.transform(spec, row.payload)
    if isinstance(mapped, Failure):
        still(mapped.error)
        return
    if _superseded(session, source.source, spec.entity, mapped):
        session.delete(row)
        result.superseded += 1
        return
    written = ingest_records(session=session, source=source.source, entity=spec.entity, records=[mapped])
    if written.failures:
        still(f"ingest: {written.failures[0].error}")
        return
    session.delete(row)
    result.taken += 1


def _superseded(session: Session, source: str, entity: str, record: Mapping[str, Any]) -> bool:
    """A row for this record is stored already, as new as the payload or newer (or the payload has no time
    to tell, and a row exists: the sync that stored it read the source after the payload was quarantined)."""
    if ENTITIES[entity].patch:
        return False  # a patch only sets a few columns of an existing row: replaying it is what is wanted
    model = ENTITIES[entity].model
    stored = session.scalar(
        select(model.updated_at).where(model.source == source, model.external_id == str(record.get("external_id")))
    )
    if stored is None:
        return False
    sent = record.get("updated_at")
    return not isinstance(sent, datetime) or stored >= sent
