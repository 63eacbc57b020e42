"""Make records (or files) searchable now, and say how far search is behind.

``make_searchable`` is the one call the scheduler's index job, ``sophia reindex``, ``sophia ingest``,
``sophia up --demo`` and the Search page's upload make. It does the three steps in order:

1. documents and chunks of what changed (``core.search.indexing``; files through ``core.search.files``),
2. embedding of the new chunk texts (inside step 1: unchanged texts keep their vectors),
3. a push of the chunk changes to every enabled vector backend (``core.search.sync``; a backend that is down
   is reported in ``vectors`` and catches up on a later sync).

``indexing_status`` is what the Admin index tab and ``sophia index status`` show beside each backend's state:
records not searchable yet, and, while a run is under way, when it should end at the rate it is going.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.db.types import utcnow
from core.search.changes import Watermark, pending_records
from core.search.indexing import IndexResult, Progress, index_changes, index_records, indexing_state

if TYPE_CHECKING:
    from core.bus import EventBus
    from core.runtime import Runtime
    from core.search.embeddings import Embedder
    from core.search.files import FileResult
    from core.search.sync import SyncReport
    from core.storage import ObjectStore

__all__ = [
    "BusPosition",
    "IndexingStatus",
    "Searchable",
    "full_run_due",
    "index_announced",
    "indexing_status",
    "make_searchable",
]


@dataclass
class Searchable:
    """What one call did: the documents indexed (or the files imported) and each backend's push."""

    index: IndexResult | None = None
    files: list[FileResult] = field(default_factory=list)
    vectors: list[SyncReport] = field(default_factory=list)

    @property
    def behind(self) -> list[SyncReport]:
        """Backends that could not take the changes now (they catch up later)."""
        return [r for r in self.vectors if r.error]


#: How often the scheduler's full run rebuilds and compares every document (deletes of a Slack reply or a
#: payment, which leave their document's own record in place, reach search through it).
FULL_EVERY_S = 24 * 3600


def full_run_due(*, runtime: Runtime, every_s: float = FULL_EVERY_S) -> bool:
    """True when no full run started within ``every_s`` (or none ever did)."""
    with runtime.session() as session:
        return Watermark.load(session).full_due(every_s)


def make_searchable(
    *,
    runtime: Runtime,
    embedder: Embedder | None = None,
    records: Mapping[str, Collection[int]] | None = None,
    full: bool = False,
    paths: Sequence[str | os.PathLike[str]] | None = None,
    store: ObjectStore | None = None,
    progress: Progress | None = None,
    by_name: bool = False,
) -> Searchable:
    """Index and push, now. By default what changed since the last run (``records``: these records, table ->
    ids; ``full``: every record, with a hash comparison of each document; ``paths``: import these files into
    ``store``, each identified by its path, or by its name alone with ``by_name``), then push the chunk changes to every enabled vector backend."""
    from core.search.sync import sync_enabled

    if embedder is None:
        from core.search.embeddings import make_embedder

        embedder = make_embedder(runtime.settings)
    done = Searchable()
    if paths is not None:
        from core.search.files import import_files

        if store is None:
            from core.storage import make_object_store

            store = make_object_store(runtime.settings)
        done.files = import_files(
            runtime=runtime, embedder=embedder, store=store, paths=paths, progress=progress, by_name=by_name
        )
    elif full:
        done.index = index_records(runtime=runtime, embedder=embedder, progress=progress)
    else:
        done.index = index_changes(runtime=runtime, embedder=embedder, records=records, progress=progress)
    done.vectors = sync_enabled(runtime=runtime)
    return done


@dataclass
class BusPosition:
    """Where one process is in the records stream (in memory: the bus only makes indexing sooner, the
    watermark is what nothing is missed by)."""

    after: str | None = None
    started: bool = False


def index_announced(
    *, runtime: Runtime, bus: EventBus, position: BusPosition, block_s: float, embedder: Embedder | None = None
) -> Searchable | None:
    """Make searchable now the records the bus announces after ``position`` (a sync's committed page, an
    Estuary batch), waiting up to ``block_s`` for one; None when nothing came. A position that starts skips
    what was announced before (the change-following run takes those in)."""
    from core.pipelines.runner import RECORDS_STREAM

    if not position.started:
        while events := bus.read(RECORDS_STREAM, position.after, count=1000):
            position.after = events[-1].id
        position.started = True
    events = bus.read(RECORDS_STREAM, position.after, count=100, block_s=block_s)
    if not events:
        return None
    position.after = events[-1].id
    records = announced_records(event.data for event in events)
    return make_searchable(runtime=runtime, embedder=embedder, records=records) if records else None


def announced_records(events: Iterable[Mapping[str, Any]]) -> dict[str, set[int]]:
    """Table -> record ids named by ``records`` events (an entity of ``core.ingest`` by its table; anything
    malformed is skipped: the change-following run takes it in)."""
    from core.ingest import ENTITIES

    out: dict[str, set[int]] = {}
    for data in events:
        spec = ENTITIES.get(str(data.get("entity")))
        ids = data.get("ids")
        if spec is None or not isinstance(ids, list):
            continue
        table = spec.model.__tablename__
        out.setdefault(table, set()).update(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
    return {t: ids for t, ids in out.items() if ids}


@dataclass(frozen=True)
class IndexingStatus:
    """How far search is behind the records: ``pending`` records are not searchable yet (ingested since the
    last indexing run read them); ``running`` says a run is under way, with its progress (chunks ``done`` of
    ``total``) and ``eta_s``, the seconds it needs at the rate it has gone so far (None until it has a rate)."""

    pending: int
    running: bool = False
    done: int = 0
    total: int = 0
    stage: str = ""
    eta_s: float | None = None
    last_run: dict[str, Any] | None = None

    @property
    def summary(self) -> str:
        if not self.pending and not self.running:
            return "Every record is searchable."
        text = f"{self.pending:,} record{'s' * (self.pending != 1)} not searchable yet"
        if not self.running:
            return text + "; the scheduler's next indexing run takes them in."
        if self.eta_s is None:
            return text + f"; indexing is under way ({self.stage})."
        return (
            text + f"; indexing is under way: {self.done:,} of {self.total:,} chunks, about {_span(self.eta_s)} to go."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "pending_records": self.pending,
            "running": self.running,
            "done": self.done,
            "total": self.total,
            "stage": self.stage,
            "eta_s": self.eta_s,
            "summary": self.summary,
        }


def indexing_status(*, runtime: Runtime) -> IndexingStatus:
    """Records not searchable yet and the current run's progress and expected end (database only)."""
    with runtime.session() as session:
        pending = pending_records(session=session)
    state = indexing_state(runtime=runtime)
    if not state or state.get("state") != "running":
        return IndexingStatus(pending=pending, last_run=state)
    done, total = int(state.get("done") or 0), int(state.get("total") or 0)
    return IndexingStatus(
        pending=pending,
        running=True,
        done=done,
        total=total,
        stage=str(state.get("stage") or ""),
        eta_s=eta_seconds(done, total, started=state.get("started_at"), at=state.get("updated_at")),
        last_run=None,
    )


def eta_seconds(done: int, total: int, *, started: str | None, at: str | None) -> float | None:
    """Seconds left for ``total - done`` units at the rate of the ``done`` ones (between ``started`` and the
    last progress report ``at``), counted from now; None without a rate yet."""
    if not started or not at or done <= 0 or total <= done:
        return None if total <= 0 or done <= 0 else 0.0
    elapsed = (datetime.fromisoformat(at) - datetime.fromisoformat(started)).total_seconds()
    if elapsed <= 0:
        return None
    since_report = (utcnow() - datetime.fromisoformat(at)).total_seconds()
    return max(0.0, round((total - done) * elapsed / done - since_report, 1))


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
