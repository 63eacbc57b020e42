"""Managing configured connectors after they are added: enable or disable, change the interval, update the
settings, delete; and a per-connector roll-up of their streams' health for the admin page.

Settings are updated through the same helpers as ``add_connector`` (``configured.py``: ``parse_settings``,
``store_secret``, ``env_secrets``, ``validate_stored``): validated by the kind's pydantic model, secrets
encrypted or kept as ``SOPHIA_<KIND>_...`` variable references. A secret given
blank keeps the stored one, so a form can show it masked and leave it alone. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.audit import audit
from core.crypto import SecretBox
from core.db.engine import changed_rows
from core.db.models import ConfiguredConnector, PipelineRun, QuarantinedRecord, SyncState
from core.db.types import utcnow
from core.errors import Conflict, InvalidInput, SophiaError
from core.pipelines.configured import (
    MAX_INTERVAL_MINUTES,
    env_secrets,
    get_connector,
    get_kind,
    list_connectors,
    parse_settings,
    secret_fields,
    store_secret,
    validate_stored,
)
from core.pipelines.contract import KindInfo, StageMapping
from core.pipelines.health import StreamHealth, _one
from core.pipelines.runner import build_source
from core.runtime import Runtime

# ---- schedule -------------------------------------------------------------------------------


def set_enabled(*, session: Session, name: str, enabled: bool, actor: str) -> ConfiguredConnector:
    """Enable or disable a connector: the scheduler runs only enabled ones (a run by hand still works)."""
    row = get_connector(session=session, name=name)
    if row.enabled != enabled:
        row.enabled = enabled
        audit(session=session, actor=actor, action="connector.enable" if enabled else "connector.disable", target=name)
    return row


def set_interval(*, session: Session, name: str, interval_minutes: int, actor: str) -> ConfiguredConnector:
    """Minutes between scheduled syncs (1 minute to a week)."""
    if not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES:
        raise InvalidInput(f"interval must be between 1 and {MAX_INTERVAL_MINUTES} minutes")
    row = get_connector(session=session, name=name)
    if row.interval_minutes != interval_minutes:
        before, row.interval_minutes = row.interval_minutes, interval_minutes
        audit(
            session=session,
            actor=actor,
            action="connector.interval",
            target=name,
            details={"from": before, "to": interval_minutes},
        )
    return row


# ---- settings -------------------------------------------------------------------------------


def update_settings(
    *,
    session: Session,
    box: SecretBox,
    kinds: Mapping[str, KindInfo],
    name: str,
    values: Mapping[str, Any],
    reset: Iterable[str] = (),
    actor: str,
) -> ConfiguredConnector:
    """Change some settings of a connector; the others stay as they are.

    ``values`` are given as to ``add_connector`` (text, JSON text, dotted keys, ``env:VARIABLE`` for a
    secret); a secret given blank keeps the stored one. ``reset`` names settings to return to their
    default. The result is validated as a whole before anything is stored."""
    row = get_connector(session=session, name=name)
    model = get_kind(kinds, row.kind).config_model
    secrets = secret_fields(model)
    given = parse_settings(values)
    reset = [f for f in dict.fromkeys(reset) if f not in given]
    for field in reset:
        if field not in model.model_fields:
            raise InvalidInput(f"unknown setting {field!r} for {row.kind}; known: {', '.join(model.model_fields)}")

    stored = {f: v for f, v in row.config.items() if f not in reset}
    changed: list[str] = []
    for field, value in given.items():
        if field in secrets and value in (None, ""):
            continue  # blank keeps the stored secret
        new = store_secret(box=box, kind=row.kind, field=field, value=value) if field in secrets else value
        if stored.get(field) != new:
            stored[field] = new
            changed.append(field)
    filled = env_secrets(kind=row.kind, missing=secrets - stored.keys())  # as add_connector: a set variable fills in
    stored.update(filled)
    changed += list(filled)
    validate_stored(kind=row.kind, model=model, stored=stored)

    dropped = [f for f in reset if f in row.config]
    if changed or dropped:
        row.config = stored  # a new dict, so the JSON column is written
        audit(
            session=session,
            actor=actor,
            action="connector.update",
            target=name,
            details={"changed": sorted(changed), "reset": sorted(dropped)},
        )  # names only, never values
    return row


# ---- what the vendor's values become ---------------------------------------------------------------


def stage_mappings(*, runtime: Runtime, kinds: Mapping[str, KindInfo], name: str) -> list[StageMapping]:
    """How a CRM connector's deal stages become ours, each with where that came from (its ``stage_map``
    override, the vendor's default pipeline, or inferred from the pipeline's own metadata) and those left
    unmapped (their deals are quarantined until a ``stage_map`` entry names them). Asks the vendor, as a
    connection test does: one attempt, a short timeout (a page or a command waits on it)."""
    source = build_source(runtime=runtime, kinds=kinds, name=name, for_check=True)
    try:
        return list(source.stage_mappings())
    finally:
        source.close()


# ---- delete ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deleted:
    name: str
    kind: str
    runs: int
    quarantined: int
    cursors: int


def delete_connector(*, session: Session, name: str, actor: str) -> Deleted:
    """Delete a connector with its saved cursors, run history and quarantined records, so a connector
    added later under the same name starts clean. The records it synced stay. Refused while it syncs."""
    row = get_connector(session=session, name=name)
    syncing = session.scalar(
        select(ConfiguredConnector.id).where(
            ConfiguredConnector.id == row.id, ConfiguredConnector.lease_expires_at > utcnow()
        )
    )
    if syncing is not None:
        raise Conflict(f"connector {name!r} is syncing; delete it when that run ends")
    quarantined = changed_rows(session, delete(QuarantinedRecord).where(QuarantinedRecord.connector == name))
    runs = changed_rows(session, delete(PipelineRun).where(PipelineRun.connector == name))
    cursors = changed_rows(session, delete(SyncState).where(SyncState.connector == name))
    kind = row.kind
    session.delete(row)
    session.flush()
    result = Deleted(name=name, kind=kind, runs=runs, quarantined=quarantined, cursors=cursors)
    audit(
        session=session,
        actor=actor,
        action="connector.delete",
        target=name,
        details={"kind": kind, "runs": runs, "quarantined": quarantined, "cursors": cursors},
    )
    return result


# ---- the roll-up the admin page shows ---------------------------------------------------------


@dataclass(frozen=True)
class ConnectorStatus:
    """One configured connector and its streams' health (``health.StreamHealth``), rolled up."""

    name: str
    kind: str
    enabled: bool
    interval_minutes: int
    syncing: bool  # a run holds its lease now (this page, the scheduler or the CLI)
    streams: list[StreamHealth]
    quarantined: int  # quarantined records kept for it
    problem: str | None  # why its streams cannot be listed: settings unreadable, kind not available

    @property
    def state(self) -> str:
        """ok | failing | never_run | disabled: failing when any stream is (or its settings are unusable)."""
        if not self.enabled:
            return "disabled"
        states = {s.state for s in self.streams}
        if self.problem or "failing" in states:
            return "failing"
        return "ok" if "ok" in states else "never_run"

    @property
    def last_run_at(self) -> datetime | None:
        return max((s.last_run_at for s in self.streams if s.last_run_at), default=None)

    @property
    def lag_s(self) -> float | None:
        """The stream furthest behind: the longest time since a stream's last successful run."""
        lags = [s.lag_s for s in self.streams if s.lag_s is not None]
        return max(lags) if lags else None

    @property
    def freshness_s(self) -> float | None:
        """Time since the newest record of any of its streams that has brought records in (a stream's
        freshness is of its source and entity: before that it would be another connector's)."""
        ages = [
            s.freshness_s
            for s in self.streams
            if s.freshness_s is not None and (s.last_success_at is not None or s.records_written)
        ]
        return min(ages) if ages else None

    @property
    def last_error(self) -> str | None:
        if self.problem:
            return self.problem
        failing = [s for s in self.streams if s.last_error]
        if not failing:
            return None
        return max(failing, key=lambda s: s.last_run_at.timestamp() if s.last_run_at else 0).last_error


def connector_statuses(*, runtime: Runtime, kinds: Mapping[str, KindInfo]) -> list[ConnectorStatus]:
    """Every configured connector with its streams' health. Unlike ``health.stream_health``, a connector
    whose settings cannot be read (a changed SOPHIA_SECRET_KEY, a variable not set) is listed with the
    problem instead of failing the whole list."""
    now = utcnow()
    with runtime.session() as session:
        rows = list_connectors(session=session)
        counts = select(QuarantinedRecord.connector, func.count()).group_by(QuarantinedRecord.connector)
        quarantined = dict(session.execute(counts).all())
    out: list[ConnectorStatus] = []
    for row in rows:
        streams: list[StreamHealth] = []
        problem = None
        try:
            source = build_source(runtime=runtime, kinds=kinds, name=row.name)
        except SophiaError as exc:
            problem = exc.message
        else:
            try:
                specs, src_name = list(source.streams()), source.source
            finally:
                source.close()
            with runtime.session() as session:
                streams = [_one(session, now, row, s.name, s.entity, src_name) for s in specs]
        out.append(
            ConnectorStatus(
                name=row.name,
                kind=row.kind,
                enabled=row.enabled,
                interval_minutes=row.interval_minutes,
                syncing=row.lease_expires_at is not None and row.lease_expires_at > now,
                streams=streams,
                quarantined=int(quarantined.get(row.name, 0)),
                problem=problem,
            )
        )
    return out
