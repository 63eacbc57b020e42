"""A UserGems CSV export through the same ingest path as every connector.

The file's columns are checked first (a clear error names the ones it lacks, and the headers accepted
for each). Rows go in batches of ``BATCH`` through ``core.ingest.ingest_records`` (source "usergems",
entity ``job_changes``), one transaction each, upserting by id: a row's own id column when it has one
(the Salesforce id of the UserGems record, so a CSV and the connector agree on the same job change),
else a stable hash of who, where and when. Rows that cannot be taken in are quarantined, with the
runner's own helper, exactly like a sync's malformed records; the import is recorded as a run
(connector ``usergems-csv``) that ``sophia runs`` and the admin page list.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update

from connectors.base import RecordError
from connectors.base.connector import UNEXPECTED_SHAPE
from connectors.usergems.mapping import SOURCE, csv_columns, map_csv_row
from core.db.models import PipelineRun
from core.db.types import utcnow
from core.errors import InvalidInput
from core.ingest import Failure, ingest_records
from core.pipelines.runner import quarantine
from core.runtime import Runtime

CONNECTOR = "usergems-csv"  # the name its runs and quarantined rows are listed under
STREAM = "job_changes"
BATCH = 500
MAX_FIELD_CHARS = 100_000


@dataclass
class RowFailure:
    line: int
    external_id: str | None
    error: str


@dataclass
class CsvImportResult:
    path: str
    run_id: int
    read: int = 0
    written: int = 0
    quarantined: int = 0
    failures: list[RowFailure] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "succeeded"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **asdict(self)}


def import_csv(*, runtime: Runtime, path: str | Path) -> CsvImportResult:
    """Import a UserGems job-change CSV; raises InvalidInput when the file cannot be read as one."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    csv.field_size_limit(MAX_FIELD_CHARS)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            headers = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{path.name} is not a readable CSV file: {exc}") from None
        columns, missing = csv_columns(list(headers))
        if missing:
            raise InvalidInput(
                f"{path.name} lacks the column{'s' if len(missing) > 1 else ''} {'; '.join(missing)} "
                f"(found: {', '.join(h for h in headers if h) or 'no header'})"
            )
        result = CsvImportResult(path=str(path), run_id=_open_run(runtime, path))
        try:
            batch: list[tuple[int, dict[str, Any]]] = []
            failures: list[Failure] = []
            for row in _rows(reader, path):
                line = reader.line_num
                result.read += 1
                try:
                    batch.append((line, map_csv_row(row, columns, line=line)))
                except (RecordError, *UNEXPECTED_SHAPE) as exc:
                    failures.append(Failure(None, f"line {line}: {exc}", {"line": line, **_clean(row)}))
                if len(batch) + len(failures) >= BATCH:
                    _commit(runtime, result, batch, failures)
                    batch, failures = [], []
            _commit(runtime, result, batch, failures)
        except InvalidInput as exc:
            _close_run(runtime, result, error=exc.message)
            raise
        _close_run(runtime, result, error=None)
    return result


def _rows(reader: csv.DictReader, path: Path) -> Any:
    try:
        yield from reader
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path.name}: line {reader.line_num} cannot be read: {exc}") from None


def _clean(row: dict[str | None, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k is not None}
    if None in row:  # more cells than headers
        out["_extra"] = row[None]
    return out


def _commit(
    runtime: Runtime, result: CsvImportResult, batch: list[tuple[int, dict[str, Any]]], failures: list[Failure]
) -> None:
    """One batch, its quarantined rows and the run's counts, in one transaction."""
    if not batch and not failures:
        return
    line_of = {rec["external_id"]: line for line, rec in batch}
    raw_of = {rec["external_id"]: rec["raw"] for _, rec in batch}
    with runtime.session() as session:
        ingested = ingest_records(session=session, source=SOURCE, entity=STREAM, records=[r for _, r in batch])
        rejected = [
            Failure(
                f.external_id,
                f"line {line_of.get(str(f.external_id), '?')}: ingest: {f.error}",
                raw_of.get(str(f.external_id), f.payload),
            )
            for f in ingested.failures
        ]
        every = failures + rejected
        quarantine(session=session, connector=CONNECTOR, stream=STREAM, run_id=result.run_id, failures=every)
        result.written += ingested.written
        result.quarantined += len(every)
        result.failures.extend(
            RowFailure(int(f.payload.get("line") or line_of.get(str(f.external_id), 0)), f.external_id, f.error)
            for f in every
        )
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == result.run_id)
            .values(
                records_read=result.read,
                records_written=result.written,
                records_quarantined=result.quarantined,
                cursor_after={"file": result.path, "rows": result.read},
            )
        )


def _open_run(runtime: Runtime, path: Path) -> int:
    with runtime.session() as session:
        run = PipelineRun(connector=CONNECTOR, stream=STREAM, status="running", cursor_before={"file": str(path)})
        session.add(run)
        session.flush()
        return run.id


def _close_run(runtime: Runtime, result: CsvImportResult, *, error: str | None) -> None:
    with runtime.session() as session:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == result.run_id)
            .values(
                status="failed" if error else "succeeded",
                finished_at=utcnow(),
                error=error,
            )
        )
