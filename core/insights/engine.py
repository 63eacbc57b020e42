"""Detection: every enabled detector runs over the model, and its findings become stored insights.

- The same finding (``Finding.fingerprint``: type, subject, key) is one insight: found again, it updates
  ``last_seen``, reasons, score and evidence; it is never raised twice.
- An open insight (new or acknowledged) of a type that ran whose finding is gone is resolved by the system
  (``resolution`` "auto", ``resolved_by`` "system"), and says so in its reasons.
- A finding that returns after the system resolved it opens again as new; one a person resolved stays
  resolved (its ``last_seen`` still moves), so a person's decision is not undone by the next run.
- Detection runs "as of" the start of a UTC day (today by default): thresholds are in days and months, and a
  run at 09:00 and one at 17:00 give the same answer.
- A detector that fails is logged and reported; its open insights are left as they were, the others run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import audit
from core.db.batches import in_batches
from core.db.models import Insight
from core.db.types import json_ready
from core.errors import InvalidInput, SophiaError
from core.insights.config import effective_params
from core.insights.detectors import Detector, all_detectors
from core.insights.findings import SEVERITY_RANK, DetectContext, Finding
from core.observability.logging import get_logger
from core.records import documents_of

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["DetectionResult", "detection_day", "run_detection"]

log = get_logger("insights")
OPEN = ("new", "acknowledged")
AUTO_RESOLVED_REASON = "Resolved automatically: the condition no longer holds."


@dataclass
class DetectionResult:
    created: int = 0
    updated: int = 0
    resolved: int = 0
    as_of: date | None = None
    by_type: dict[str, int] = field(default_factory=dict)  # findings per type that ran
    errors: dict[str, str] = field(default_factory=dict)  # type -> what went wrong
    new_ids: list[int] = field(default_factory=list)  # insights created or opened again by this run

    def counts(self) -> dict[str, int]:
        """The contract of `sophia insights run --json`."""
        return {"created": self.created, "updated": self.updated, "resolved": self.resolved}


def detection_day(*, runtime: Runtime, as_of: date | None = None) -> datetime:
    day = as_of or runtime.clock.now().astimezone(UTC).date()
    return datetime.combine(day, time(0), tzinfo=UTC)


def run_detection(
    *, runtime: Runtime, as_of: date | None = None, types: Iterable[str] | None = None
) -> DetectionResult:
    """Run the enabled detectors (or only ``types``) and store what they find; see the module notes."""
    now = detection_day(runtime=runtime, as_of=as_of)
    seen_at = runtime.clock.now()
    wanted = set(types) if types is not None else None
    detectors = all_detectors()
    result = DetectionResult(as_of=now.date())
    with runtime.session() as session:
        params = effective_params(session=session, detectors=detectors)
        chosen = [t for t in detectors if (wanted is None or t in wanted) and params[t].get("enabled", True)]
        found = _detect(session, now, {t: detectors[t] for t in chosen}, params, result.errors)
        result.by_type.update({t: len(f) for t, f in found.items()})
        _store(session, found, seen_at=seen_at, result=result)
        if result.created or result.resolved:
            audit(session=session, actor="system", action="insights.detect", details=result.counts())
    log.info("insights detected", **result.counts(), as_of=str(now.date()), errors=len(result.errors))
    return result


def _detect(
    session: Session,
    now: datetime,
    detectors: dict[str, Detector],
    params: dict[str, dict[str, Any]],
    errors: dict[str, str],
) -> dict[str, list[Finding]]:
    """Run ``detectors`` in catalogue order, each in a savepoint: a broken one is logged in ``errors``."""
    ctx = DetectContext(session=session, now=now, params={})
    for type_, detector in detectors.items():
        try:
            with session.begin_nested():  # a failed query must not spoil the others' transaction
                findings = detector.detect(replace(ctx, params=params[type_]))
        except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the rest
            log.exception("insight detector failed", type=type_)
            errors[type_] = f"{type(exc).__name__}: {str(exc)[:300]}"
            continue
        ctx.found[type_] = findings
    return ctx.found


def find_now(*, session: Session, now: datetime, types: Iterable[str]) -> dict[str, list[Finding]]:
    """What the detectors of ``types`` find as of ``now`` (a UTC day start), with the admin's thresholds, stored
    nowhere: the agents' tools answer from this, so an answer is as fresh as the data even between detection
    runs, and a type an admin turned off for alerts can still be asked about. Evidence carries document ids."""
    detectors = all_detectors()
    wanted = set(types)
    unknown = wanted - set(detectors)
    if unknown:
        raise InvalidInput(f"unknown insight type(s): {', '.join(sorted(unknown))}")
    params = effective_params(session=session, detectors=detectors)
    errors: dict[str, str] = {}
    found = _detect(session, now, {t: d for t, d in detectors.items() if t in wanted}, params, errors)
    if errors:
        raise SophiaError("; ".join(f"{t}: {e}" for t, e in errors.items()), code="detector_failed")
    _attach_documents(session, (f for fs in found.values() for f in fs))
    return found


def _store(session: Session, found: dict[str, list[Finding]], *, seen_at: datetime, result: DetectionResult) -> None:
    findings = {f.fingerprint: f for items in found.values() for f in items}
    _attach_documents(session, findings.values())
    existing: dict[str, Insight] = {}
    for part in in_batches(list(findings)):
        existing.update(
            (i.fingerprint, i) for i in session.scalars(select(Insight).where(Insight.fingerprint.in_(part)))
        )
    created: list[Insight] = []
    for fp, finding in findings.items():
        row = existing.get(fp)
        if row is None:
            row = Insight(fingerprint=fp, type=finding.type, status="new", first_seen=seen_at)
            session.add(row)
            created.append(row)
            result.created += 1
        elif row.status == "resolved" and row.resolution == "auto":
            row.status, row.resolved_at, row.resolved_by, row.resolution = "new", None, None, None
            row.acknowledged_at = row.acknowledged_by = None
            created.append(row)
            result.created += 1
        else:
            result.updated += 1
        _fill(row, finding, seen_at=seen_at)
    if found:
        stale = select(Insight).where(Insight.type.in_(list(found)), Insight.status.in_(OPEN))
        for row in session.scalars(stale):
            if row.fingerprint not in findings:
                row.status, row.resolved_at, row.resolved_by, row.resolution = "resolved", seen_at, "system", "auto"
                row.reasons = [*row.reasons, AUTO_RESOLVED_REASON]
                result.resolved += 1
    session.flush()
    result.new_ids = [row.id for row in created]


def _fill(row: Insight, f: Finding, *, seen_at: datetime) -> None:
    row.severity, row.severity_rank = f.severity, SEVERITY_RANK[f.severity]
    row.title, row.score, row.reasons = f.title[:512], round(float(f.score), 4), list(f.reasons)
    row.evidence = [
        {k: v for k, v in asdict(e).items() if k != "id" and (v is not None or k == "doc_id")} for e in f.evidence
    ]
    row.details = json_ready(f.details)
    row.subject_table, row.subject_external_id = f.subject.table, f.subject.external_id
    row.subject_name, row.subject_id = f.subject.name[:255], f.subject.id
    row.account_id, row.owner, row.min_role = f.account_id, f.owner, f.min_role
    row.last_seen = seen_at


def _attach_documents(session: Session, findings: Iterable[Finding]) -> None:
    """Give each piece of evidence the id of its record's search document, where it has one."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        for e in f.evidence:
            if e.doc_id is None and e.id is not None:
                wanted[e.table].add(e.id)
    docs = {(table, r): d for table, ids in wanted.items() for r, d in documents_of(session, table, ids).items()}
    for f in findings:
        f.evidence = [
            replace(e, doc_id=docs.get((e.table, e.id))) if e.doc_id is None and e.id is not None else e
            for e in f.evidence
        ]
