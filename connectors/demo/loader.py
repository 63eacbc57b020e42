"""Loading the demo through the one ingest path, and reading back what was loaded."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from connectors.demo.common import chunked
from connectors.demo.generator import Stream, plan, streams
from connectors.demo.sizes import spec_for
from connectors.demo.world import build_world
from core.db.models import Meta
from core.errors import SophiaError
from core.ingest import delete_records, ingest_records
from core.runtime import Runtime

CHUNK = 1_000  # records per ingest call and commit
META_KEY = "demo"

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoSummary:
    size: str
    seed: int
    as_of: date
    counts: dict[str, int]
    written: int
    removed: int  # records of a previously loaded, different demo that this one does not have
    seconds: float


class DemoLoadError(SophiaError):
    code = "demo_load_failed"
    status = 500


def load_demo(
    *,
    runtime: Runtime,
    size: str = "medium",
    seed: int = 42,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Ingest the demo chunk by chunk (a commit per chunk), then record it and its truth in ``meta``.
    Loading the same demo again changes nothing; loading a different one replaces the previous one."""
    spec_for(size)
    started = time.monotonic()
    world, parts, truth = plan(size=size, seed=seed, as_of=as_of)
    total, done = sum(s.count for s in parts), 0
    for part in parts:
        for chunk in chunked(part.records(), CHUNK):
            with runtime.session() as session:
                _ingest(session, part, chunk)
            done += len(chunk)
            if progress:
                progress(done, total, f"{part.source} {part.entity}")
    as_of = world.clock.as_of
    with runtime.session() as session:
        previous = demo_loaded(session=session)
    removed = _remove_previous(runtime, previous, parts, (size, seed, as_of))
    counts = {s.entity: s.count for s in parts}
    with runtime.session() as session:
        _save_meta(
            session,
            {
                "size": size,
                "seed": seed,
                "as_of": as_of.isoformat(),
                "counts": counts,
                "loaded_at": datetime.now(UTC).isoformat(),
                "truth": truth,
            },
        )
    return DemoSummary(size, seed, as_of, counts, done, removed, round(time.monotonic() - started, 2))


def _ingest(session: Session, part: Stream, chunk: list[dict]) -> None:
    result = ingest_records(session=session, source=part.source, entity=part.entity, records=chunk)
    if result.failures or result.unresolved_refs:
        first = result.failures[0].error if result.failures else f"{result.unresolved_refs} unresolved references"
        raise DemoLoadError(f"demo {part.entity} did not load cleanly: {first}")


def _remove_previous(runtime: Runtime, previous: dict | None, parts: list[Stream], current: tuple) -> int:
    """Delete what a different, previously loaded demo wrote and this one does not overwrite."""
    if previous is None or (previous["size"], previous["seed"], previous["as_of"]) == (
        current[0],
        current[1],
        current[2].isoformat(),
    ):
        return 0
    try:
        old = build_world(
            size=previous["size"], seed=int(previous["seed"]), as_of=date.fromisoformat(previous["as_of"])
        )
    except SophiaError:
        return 0
    removed = 0
    new_ids = {(s.source, s.entity): set(s.ids()) for s in parts}
    for part in reversed(streams(old)):
        stale = set(part.ids()) - new_ids.get((part.source, part.entity), set())
        with runtime.session() as session:
            removed += delete_records(session=session, source=part.source, entity=part.entity, external_ids=stale)
    return removed


def _save_meta(session: Session, value: dict) -> None:
    row = session.get(Meta, META_KEY)
    if row is None:
        session.add(Meta(key=META_KEY, value=value))
    else:
        row.value = value


def get_truth(*, session: Session) -> dict | None:
    """The planted truth of the loaded demo, or None when no demo is loaded."""
    row = session.get(Meta, META_KEY)
    return row.value.get("truth") if row is not None else None


def demo_loaded(*, session: Session) -> dict | None:
    """{"size", "seed", "as_of", "counts", "loaded_at"} of the loaded demo, or None."""
    row = session.get(Meta, META_KEY)
    if row is None:
        return None
    return {k: row.value.get(k) for k in ("size", "seed", "as_of", "counts", "loaded_at")}
