"""The one ingest path: every connector (and the demo generator) writes records through here.

A record is a mapping in our model's shape (column names), plus:
- ``external_id``: the source's id (required; unique together with the source);
- ``<name>_ref``: a reference to another record by its source id, either ``"123"`` (same source) or
  ``{"source": "hubspot", "external_id": "123"}``; resolved here to our foreign key ``<name>_id``;
- child lists (``stage_history`` of a deal, ``participants``/``segments`` of a call), replaced whole;
- ``raw``: the vendor payload as received (defaults to the record itself).

Records are validated at this edge; a record that fails becomes a ``Failure`` naming it, and the
rest of the batch is written. Writes are upserts by (source, external_id), so ingesting the same
batch twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, create_model
from sqlalchemy import Column, Date, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import models as m
from core.db.batches import in_batches
from core.db.engine import changed_rows
from core.db.types import UTCDateTime, json_ready, utcnow
from core.errors import InvalidInput


@dataclass(frozen=True)
class Child:
    model: type[m.Base]
    fk: str  # the child's column pointing at the parent


@dataclass(frozen=True)
class EntitySpec:
    model: type[m.SourceRecord]
    refs: Mapping[str, type[m.SourceRecord]] = field(default_factory=dict)  # "account" -> Account (column account_id)
    children: Mapping[str, Child] = field(default_factory=dict)
    # A patch entity sets only these columns of records that already exist, whatever their source (an
    # enrichment source such as Apollo adding the fields it is authoritative for to CRM accounts); see
    # ``_patch_records``.
    patch: tuple[str, ...] = ()


ENTITIES: dict[str, EntitySpec] = {
    "accounts": EntitySpec(m.Account),
    "contacts": EntitySpec(m.Contact, refs={"account": m.Account}),
    "deals": EntitySpec(
        m.Deal,
        refs={"account": m.Account},
        children={"stage_history": Child(m.DealStageHistory, "deal_id")},
    ),
    "activities": EntitySpec(m.Activity, refs={"account": m.Account, "contact": m.Contact, "deal": m.Deal}),
    "calls": EntitySpec(
        m.Call,
        refs={"account": m.Account, "deal": m.Deal},
        children={
            "participants": Child(m.CallParticipant, "call_id"),
            "segments": Child(m.TranscriptSegment, "call_id"),
        },
    ),
    "slack_messages": EntitySpec(m.SlackMessage, refs={"account": m.Account}),
    "invoices": EntitySpec(m.Invoice, refs={"account": m.Account}),
    "payments": EntitySpec(m.Payment, refs={"account": m.Account, "invoice": m.Invoice}),
    "rent_payment_volumes": EntitySpec(m.RentPaymentVolume, refs={"account": m.Account}),
    "employees": EntitySpec(m.Employee),
    "reviews": EntitySpec(m.Review, refs={"employee": m.Employee}),
    "goals": EntitySpec(m.Goal, refs={"employee": m.Employee}),
    "prospects": EntitySpec(m.Prospect),
    "job_changes": EntitySpec(m.JobChange, refs={"contact": m.Contact, "account": m.Account}),
    # enrichment: the PMS an account runs, from a firmographics source's technographics (Apollo)
    "account_enrichment": EntitySpec(m.Account, patch=("pms",)),
}


@dataclass(frozen=True)
class Failure:
    external_id: str | None
    error: str
    payload: Mapping[str, Any]


@dataclass
class IngestResult:
    entity: str
    source: str
    written: int = 0
    ids: dict[str, int] = field(default_factory=dict)  # external_id -> our id
    failures: list[Failure] = field(default_factory=list)
    unresolved_refs: int = 0


# ---- validation ---------------------------------------------------------------------------

_SYSTEM_COLUMNS = {"id", "source", "ingested_at"}


def _python_type(column: Column[Any]) -> Any:
    if isinstance(column.type, UTCDateTime):
        return AwareDatetime
    if isinstance(column.type, Date):
        return date
    try:
        return column.type.python_type
    except NotImplementedError:
        return Any


def _table(model: type[m.Base] | type[m.SourceRecord]) -> Table:
    """The model's table (a declarative model maps one ``Table``; the ORM types ``__table__`` as any FromClause)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


def _validator(model: type[m.Base] | type[m.SourceRecord], exclude: frozenset[str] = frozenset()) -> type[BaseModel]:
    """A pydantic model of the table's writable columns: types checked, unknown fields refused."""
    return _table_validator(_table(model), f"{model.__name__}In", exclude)


@cache
def _table_validator(table: Table, name: str, exclude: frozenset[str]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for col in table.columns:
        if col.name in _SYSTEM_COLUMNS or col.name in exclude:
            continue
        typ = _python_type(col)
        required = not col.nullable and col.default is None and col.server_default is None
        fields[col.name] = (typ, ...) if required else (typ | None, None)
    return create_model(name, __config__=ConfigDict(extra="forbid", coerce_numbers_to_str=True), **fields)


def _format_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


# ---- the write path -----------------------------------------------------------------------


def _insert_for(session: Session) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _ref_key(ref: Any, source: str) -> tuple[str, str]:
    if isinstance(ref, Mapping):
        return str(ref["source"]), str(ref["external_id"])
    if isinstance(ref, (list, tuple)) and len(ref) == 2:
        return str(ref[0]), str(ref[1])
    return source, str(ref)


def _resolve(session: Session, target: type[m.SourceRecord], keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for src, ext in keys:
        by_source[src].append(ext)
    found: dict[tuple[str, str], int] = {}
    for src, exts in by_source.items():
        for part in in_batches(exts):
            rows = session.execute(
                select(target.id, target.external_id).where(target.source == src, target.external_id.in_(part))
            )
            found.update({(src, ext): id_ for id_, ext in rows})
    return found


def ingest_records(*, session: Session, source: str, entity: str, records: Iterable[Mapping[str, Any]]) -> IngestResult:
    """Validate and upsert one batch of records of one entity from one source (no commit)."""
    spec = ENTITIES.get(entity)
    if spec is None:
        raise InvalidInput(f"unknown entity {entity!r}; expected one of {', '.join(sorted(ENTITIES))}")
    if not source or len(source) > 32:
        raise InvalidInput("source must be 1-32 characters")
    result = IngestResult(entity=entity, source=source)
    if spec.patch:
        return _patch_records(session, spec, source, records, result)
    validator = _validator(spec.model)
    now = utcnow()

    # 1. split refs and children off, validate the rest
    staged: list[tuple[dict[str, Any], dict[str, Any], dict[str, list]]] = []
    for rec in records:
        rec = dict(rec)
        refs = {name: rec.pop(f"{name}_ref") for name in spec.refs if f"{name}_ref" in rec}
        kids = {name: rec.pop(name) for name in spec.children if name in rec}
        raw = rec.pop("raw", None)
        try:
            row = validator.model_validate(rec).model_dump(exclude_unset=True)
        except ValidationError as exc:
            result.failures.append(Failure(rec.get("external_id"), _format_error(exc), rec))
            continue
        row["external_id"] = str(row["external_id"])
        row["raw"] = raw if raw is not None else json_ready(rec)
        staged.append((row, refs, kids))
    if not staged:
        return result

    # 2. resolve references to our ids in one query per target table and source
    for name, target in spec.refs.items():
        keys = {_ref_key(refs[name], source) for _, refs, _ in staged if refs.get(name) is not None}
        ids = _resolve(session, target, keys) if keys else {}
        for row, refs, _ in staged:
            if name in refs:
                ref = refs[name]
                row[f"{name}_id"] = ids.get(_ref_key(ref, source)) if ref is not None else None
                if ref is not None and row[f"{name}_id"] is None:
                    result.unresolved_refs += 1

    # 3. upsert, grouped by the set of columns given (an omitted column keeps its stored value)
    insert_ = _insert_for(session)
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    last: dict[str, dict[str, Any]] = {}
    for row, _, _ in staged:
        row.setdefault("created_at", now)
        row.setdefault("updated_at", now)
        row.update(source=source, ingested_at=now)
        last[row["external_id"]] = row  # the same id twice in a batch: the later one wins
    for row in last.values():
        groups[frozenset(row)].append(row)
    table = _table(spec.model)
    for cols, rows in groups.items():
        stmt = insert_(table)
        update = {c: stmt.excluded[c] for c in cols if c not in ("source", "external_id")}
        upsert = stmt.on_conflict_do_update(index_elements=["source", "external_id"], set_=update).returning(
            table.c.id, table.c.external_id
        )
        for id_, ext in session.execute(upsert, rows):
            result.ids[ext] = id_
    result.written = len(last)

    # 4. children: replace the whole list for each parent that carried it
    for name, child in spec.children.items():
        parents = {result.ids[row["external_id"]]: kids[name] for row, _, kids in staged if name in kids}
        _replace_children(session, child, parents)
    return result


def _patch_records(
    session: Session, spec: EntitySpec, source: str, records: Iterable[Mapping[str, Any]], result: IngestResult
) -> IngestResult:
    """Set the patch columns of existing records: each record is ``{"external_id": <the patch's id>,
    "target_ref": <the record to patch, as a reference>, <column>: <value>, ...}``. A value of None leaves the
    column as it is (a patch never erases what the owning source wrote); raw and timestamps are untouched; a
    target that is not stored (yet) is counted as unresolved, not created."""
    model = spec.model
    others = frozenset(c.name for c in _table(model).columns if c.name not in spec.patch)
    validator = _validator(model, others)
    for rec in records:
        rec = dict(rec)
        rec.pop("raw", None)
        ext, target = rec.pop("external_id", None), rec.pop("target_ref", None)
        if ext is None or target is None:
            result.failures.append(Failure(ext, "a patch needs external_id and target_ref", rec))
            continue
        try:
            values = validator.model_validate(rec).model_dump(exclude_unset=True, exclude_none=True)
        except ValidationError as exc:
            result.failures.append(Failure(str(ext), _format_error(exc), rec))
            continue
        key = _ref_key(target, source)
        row_id = _resolve(session, model, {key}).get(key)
        if row_id is None:
            result.unresolved_refs += 1
            continue
        if values:
            session.execute(update(model).where(model.id == row_id).values(**values))
        result.ids[str(ext)] = row_id
        result.written += 1
    return result


def _replace_children(session: Session, child: Child, parents: Mapping[int, list]) -> None:
    if not parents:
        return
    fk = getattr(child.model, child.fk)
    ids = list(parents)
    for part in in_batches(ids):
        session.execute(delete(child.model).where(fk.in_(part)))
    validator = _validator(child.model, frozenset({child.fk}))
    rows = []
    for parent_id, items in parents.items():
        for item in items or []:
            try:
                row = validator.model_validate(item).model_dump(exclude_unset=True)
            except ValidationError as exc:
                raise InvalidInput(f"{child.model.__tablename__}: {_format_error(exc)}") from None
            row[child.fk] = parent_id
            rows.append(row)
    if rows:
        session.execute(insert(_table(child.model)), rows)


def delete_records(*, session: Session, source: str, entity: str, external_ids: Iterable[str]) -> int:
    """Delete records a source says are gone; children go with them (ON DELETE CASCADE)."""
    spec = ENTITIES.get(entity)
    if spec is None:
        raise InvalidInput(f"unknown entity {entity!r}")
    model = spec.model
    ids = [str(x) for x in external_ids]
    deleted = 0
    for part in in_batches(ids):
        stmt = delete(model).where(model.source == source, model.external_id.in_(part))
        deleted += changed_rows(session, stmt)
    return deleted
