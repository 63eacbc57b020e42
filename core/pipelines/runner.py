"""The sync runner: for each stream, fetch a page since the saved cursor, transform it, and write the
records, the quarantined failures, the run's counts and the next cursor in ONE transaction.

So a crash at any point resumes from the last committed page: nothing lost (the cursor never passes
records that were not written) and nothing duplicated (writes are upserts by source + external id).
A page whose failures would push the run past its failure budget is not committed: the run fails and
the cursor stays before it, so fixing the cause and syncing again picks those records up.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from core.bus import EventBus
from core.crypto import SecretBox
from core.db.models import ConfiguredConnector, PipelineRun, QuarantinedRecord, SyncState
from core.db.types import utcnow
from core.errors import Conflict, InvalidInput, SophiaError
from core.ingest import Failure, delete_records, ingest_records
from core.pipelines.configured import check_settings, get_connector, get_kind, load_config
from core.pipelines.contract import KindInfo, Page, StreamSpec, SyncSource
from core.runtime import Runtime

log = structlog.get_logger(__name__)

RECORDS_STREAM = "records"  # the bus stream every committed batch is announced on
LEASE = timedelta(minutes=15)  # renewed with every committed page; a crashed run frees it after this
INTERRUPTED = "interrupted: the process stopped before the run finished"

Progress = Callable[[str, int, int | None], None]  # (stream, records read so far, expected total)


class SyncFailed(SophiaError):
    code = "sync_failed"
    status = 502


@dataclass(frozen=True)
class Tally:
    read: int = 0
    written: int = 0
    quarantined: int = 0
    deleted: int = 0

    def plus(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, int, int, int]:
        return (self.read, self.written, self.quarantined, self.deleted)


@dataclass
class StreamRun:
    run_id: int
    stream: str
    status: str
    tally: Tally
    error: str | None


@dataclass
class SyncResult:
    connector: str
    runs: list[StreamRun] = field(default_factory=list)

    @property
    def failed(self) -> StreamRun | None:
        return next((r for r in self.runs if r.status == "failed"), None)

    @property
    def status(self) -> str:
        return "failed" if self.failed else "succeeded"

    @property
    def error(self) -> str | None:
        failed = self.failed
        return f"stream {failed.stream}: {failed.error}" if failed else None


@dataclass(frozen=True)
class _Context:
    runtime: Runtime
    bus: EventBus | None
    name: str
    source: SyncSource
    lease_owner: str
    progress: Progress


@dataclass(frozen=True)
class _Batch:
    records: list[Mapping[str, Any]]
    failures: list[Failure]
    raw_by_id: dict[str, Mapping[str, Any]]


# ---- the entry point ------------------------------------------------------------------------


def sync_connector(
    *,
    runtime: Runtime,
    kinds: Mapping[str, KindInfo],
    name: str,
    bus: EventBus | None = None,
    streams: Sequence[str] | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncResult:
    """Run a configured connector now: its streams in order, stopping at the first that fails."""
    source = build_source(runtime=runtime, kinds=kinds, name=name)
    try:
        selected = _select(source, streams)
        ctx = _Context(runtime, bus, name, source, _lease_owner(), progress or (lambda *_: None))
        _take_lease(ctx)
        try:
            result = SyncResult(connector=name)
            for spec in selected:
                run = _sync_stream(ctx, spec, full=full)
                result.runs.append(run)
                if run.status == "failed":
                    break
            return result
        finally:
            _release_lease(ctx)
    finally:
        source.close()


def build_source(*, runtime: Runtime, kinds: Mapping[str, KindInfo], name: str, for_check: bool = False) -> SyncSource:
    """The configured connector, built with its settings (secrets revealed in memory only); ``for_check``:
    with the settings of a connection test (``check_settings``: one attempt, a short timeout)."""
    with runtime.session() as session:
        row = get_connector(session=session, name=name)
        info = get_kind(kinds, row.kind)
        config = load_config(row=row, box=SecretBox.from_settings(runtime.settings), kinds=kinds)
    source = info.build(check_settings(config) if for_check else config, name=name)
    attach = getattr(source, "attach_local", None)  # connectors that read our own records (see Connector.local)
    if attach is not None:
        attach(runtime.session)
    if hasattr(source, "clock"):  # connectors that read the time read the runtime's clock (tests move it)
        source.clock = runtime.clock
    return source


def check_connector(*, runtime: Runtime, kinds: Mapping[str, KindInfo], name: str) -> str:
    """Credentials and reachability of a configured connector, in one line (raises when it fails). It fails
    fast and says why plainly: one attempt with a short timeout, the vendor's error table's message."""
    source = build_source(runtime=runtime, kinds=kinds, name=name, for_check=True)
    try:
        return source.check()
    finally:
        source.close()


def _select(source: SyncSource, names: Sequence[str] | None) -> list[StreamSpec]:
    specs = list(source.streams())
    if not names:
        return specs
    known = {s.name: s for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"unknown stream {unknown[0]!r}; this connector has {', '.join(known)}")
    return [s for s in specs if s.name in names]


# ---- one stream: a short loop over named steps ------------------------------------------------


def _sync_stream(ctx: _Context, spec: StreamSpec, *, full: bool) -> StreamRun:
    cursor = None if full else _saved_cursor(ctx, spec)
    run_id = _open_run(ctx, spec, cursor)
    tally = Tally()
    try:
        while True:
            page = ctx.source.fetch_page(spec, cursor)
            batch = _transform(ctx.source, spec, page)
            committed = _commit(ctx, spec, run_id, page, batch, tally)
            tally = committed.tally
            _announce(ctx, spec, committed, run_id)
            cursor = page.next_cursor.dump()
            ctx.progress(spec.name, tally.read, _expected(tally, page))
            if page.done:
                break
    except SophiaError as exc:
        return _close_run(ctx, run_id, spec, tally, error=exc.message)
    except Exception as exc:  # our bug: the run still says so, then the caller sees it
        _close_run(ctx, run_id, spec, tally, error=f"unexpected {type(exc).__name__}")
        raise
    return _close_run(ctx, run_id, spec, tally, error=None)


def _expected(tally: Tally, page: Page) -> int | None:
    if page.done:
        return tally.read
    return tally.read - len(page.records) + page.remaining if page.remaining is not None else None


def _saved_cursor(ctx: _Context, spec: StreamSpec) -> dict[str, Any] | None:
    with ctx.runtime.session() as session:
        return session.scalar(
            select(SyncState.cursor).where(SyncState.connector == ctx.name, SyncState.stream == spec.name)
        )


def _transform(source: SyncSource, spec: StreamSpec, page: Page) -> _Batch:
    records: list[Mapping[str, Any]] = []
    failures: list[Failure] = []
    raw_by_id: dict[str, Mapping[str, Any]] = {}
    for raw in page.records:
        match source.transform(spec, raw):
            case Failure() as failure:
                failures.append(failure)
            case record:
                records.append(record)
                raw_by_id[str(record["external_id"])] = raw
    return _Batch(records, failures, raw_by_id)


@dataclass(frozen=True)
class _Committed:
    tally: Tally  # the run's counts after this page
    ids: list[int]  # our ids of the records written
    written: int
    deleted: Sequence[str]


def _commit(ctx: _Context, spec: StreamSpec, run_id: int, page: Page, batch: _Batch, tally: Tally) -> _Committed:
    """Write one page, its quarantined failures, the run's counts and the next cursor together."""
    src = ctx.source.source
    with ctx.runtime.session() as session:
        result = ingest_records(session=session, source=src, entity=spec.entity, records=batch.records)
        failures = batch.failures + [
            Failure(f.external_id, f"ingest: {f.error}", batch.raw_by_id.get(str(f.external_id), f.payload))
            for f in result.failures
        ]
        deleted = (
            delete_records(session=session, source=src, entity=spec.entity, external_ids=page.deletes)
            if page.deletes
            else 0
        )
        new = tally.plus(Tally(len(page.records), result.written, len(failures), deleted))
        _check_budget(ctx, new, failures)  # raises: the whole page rolls back and the cursor stays
        _quarantine(session, ctx, spec, run_id, failures)
        cursor = page.next_cursor.dump()
        _save_cursor(session, ctx, spec, cursor)
        _update_run(session, run_id, new, cursor)
        _renew_lease(session, ctx)
    return _Committed(new, sorted(result.ids.values()), result.written, list(page.deletes))


def _check_budget(ctx: _Context, tally: Tally, failures: list[Failure]) -> None:
    if ctx.source.failure_budget.exceeded(quarantined=tally.quarantined, read=tally.read):
        first = failures[0] if failures else None
        example = f"; e.g. {first.external_id}: {first.error}" if first else ""
        raise SyncFailed(
            f"too many malformed records ({tally.quarantined} of {tally.read} read); "
            f"stopped before the page that crossed the limit{example}"
        )


def _quarantine(session: Session, ctx: _Context, spec: StreamSpec, run_id: int, failures: list[Failure]) -> None:
    quarantine(session=session, connector=ctx.name, stream=spec.name, run_id=run_id, failures=failures)


def quarantine(
    *, session: Session, connector: str, stream: str, run_id: int | None, failures: Sequence[Failure]
) -> None:
    """Each failure as one quarantined record (its error and payload), in the caller's transaction. Also
    used by imports that feed the ingest path outside a sync (e.g. a UserGems CSV)."""
    for f in failures:
        session.add(
            QuarantinedRecord(
                connector=connector,
                stream=stream,
                external_id=None if f.external_id is None else str(f.external_id)[:191],
                error=f.error,
                payload=_json_payload(f.payload),
                run_id=run_id,
            )
        )


def _json_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Vendor payloads are JSON already; a mapped record may carry dates (written as ISO strings)."""
    return json.loads(json.dumps(dict(payload), default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def _save_cursor(session: Session, ctx: _Context, spec: StreamSpec, cursor: dict[str, Any]) -> None:
    state = session.scalar(select(SyncState).where(SyncState.connector == ctx.name, SyncState.stream == spec.name))
    if state is None:
        session.add(SyncState(connector=ctx.name, stream=spec.name, cursor=cursor))
    else:
        state.cursor = cursor


def _announce(ctx: _Context, spec: StreamSpec, committed: _Committed, run_id: int) -> None:
    """One event per committed batch that changed something. The database is the truth: a bus that is
    down is logged, not fatal."""
    if ctx.bus is None or not (committed.written or committed.deleted):
        return
    event = {
        "source": ctx.source.source,
        "entity": spec.entity,
        "count": committed.written,
        "ids": committed.ids,
        "deleted": [str(x) for x in committed.deleted],
        "connector": ctx.name,
        "stream": spec.name,
        "run_id": run_id,
    }
    try:
        ctx.bus.publish(RECORDS_STREAM, event)
    except Exception as exc:  # noqa: BLE001 - the batch is committed; a lost event is logged, not fatal
        log.warning("bus.publish_failed", connector=ctx.name, stream=spec.name, error=type(exc).__name__)


# ---- the run record -------------------------------------------------------------------------


def _open_run(ctx: _Context, spec: StreamSpec, cursor: dict[str, Any] | None) -> int:
    with ctx.runtime.session() as session:
        run = PipelineRun(
            connector=ctx.name, stream=spec.name, status="running", cursor_before=cursor, cursor_after=cursor
        )
        session.add(run)
        session.flush()
        return run.id


def _update_run(session: Session, run_id: int, tally: Tally, cursor: dict[str, Any]) -> None:
    session.execute(
        update(PipelineRun)
        .where(PipelineRun.id == run_id)
        .values(
            records_read=tally.read,
            records_written=tally.written,
            records_quarantined=tally.quarantined,
            cursor_after=cursor,
        )
    )


def _close_run(ctx: _Context, run_id: int, spec: StreamSpec, tally: Tally, *, error: str | None) -> StreamRun:
    status = "failed" if error else "succeeded"
    with ctx.runtime.session() as session:
        session.execute(
            update(PipelineRun).where(PipelineRun.id == run_id).values(status=status, finished_at=utcnow(), error=error)
        )
    log.info(
        "sync.stream_done",
        connector=ctx.name,
        stream=spec.name,
        status=status,
        read=tally.read,
        written=tally.written,
        quarantined=tally.quarantined,
        deleted=tally.deleted,
        error=error,
    )
    return StreamRun(run_id=run_id, stream=spec.name, status=status, tally=tally, error=error)


# ---- one sync of a connector at a time --------------------------------------------------------


def _lease_owner() -> str:
    """``<run>:<pid>@<host>``: a lease held by a dead process on this machine can be taken over."""
    return f"{uuid.uuid4().hex[:12]}:{os.getpid()}@{socket.gethostname()}"[:64]


def _holder_is_dead(owner: str | None) -> bool:
    """True when the lease holder was a process on this machine that no longer runs (killed, crashed).
    A holder on another machine is only presumed dead when its lease expires."""
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


def _take_lease(ctx: _Context) -> None:
    now = utcnow()
    row = ConfiguredConnector
    with ctx.runtime.session() as session:
        free = or_(row.lease_expires_at.is_(None), row.lease_expires_at < now)
        holder = session.scalar(select(row.lease_owner).where(row.name == ctx.name))
        if holder is not None and _holder_is_dead(holder):
            free = or_(free, row.lease_owner == holder)
        taken = cast(  # an UPDATE without RETURNING gives a cursor result
            CursorResult[Any],
            session.execute(
                update(row)
                .where(row.name == ctx.name, free)
                .values(lease_owner=ctx.lease_owner, lease_expires_at=now + LEASE)
            ),
        ).rowcount
        if not taken:
            raise Conflict(f"connector {ctx.name!r} is already syncing; try again when that run ends")
        # we hold the lease, so a run still marked running was cut short (killed, machine lost)
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.connector == ctx.name, PipelineRun.status == "running")
            .values(status="failed", finished_at=now, error=INTERRUPTED)
        )


def _renew_lease(session: Session, ctx: _Context) -> None:
    session.execute(
        update(ConfiguredConnector)
        .where(ConfiguredConnector.name == ctx.name, ConfiguredConnector.lease_owner == ctx.lease_owner)
        .values(lease_expires_at=utcnow() + LEASE)
    )


def _release_lease(ctx: _Context) -> None:
    with ctx.runtime.session() as session:
        session.execute(
            update(ConfiguredConnector)
            .where(ConfiguredConnector.name == ctx.name, ConfiguredConnector.lease_owner == ctx.lease_owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
