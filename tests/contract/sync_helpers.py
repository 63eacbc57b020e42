"""What the connector sync tests share: configure a connector, run its sync in-process, read its cursor, list
the rows it stored in a form two databases can be compared by, and the usual fault checks."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from connectors.registry import KINDS
from core import pipelines
from core.bus import make_bus
from core.crypto import SecretBox
from core.db import models as m
from core.pipelines import SyncResult
from core.runtime import Runtime
from tests.contract.fake_server import Fault, WireFake

FAULTS = ["500 forever", "dropped connections"]  # what ``fail_forever`` injects, as test parameters


def configure(runtime: Runtime, *, kind: str, name: str, values: dict[str, Any]) -> None:
    """Add the connector as an admin would: its settings validated and its secrets encrypted for real."""
    with runtime.session() as session:
        pipelines.add_connector(
            session=session,
            box=SecretBox.from_settings(runtime.settings),
            kinds=KINDS,
            kind=kind,
            name=name,
            values=values,
            actor="test",
        )


def sync(runtime: Runtime, *, name: str, **kwargs: Any) -> SyncResult:
    """One sync of connector ``name`` (``streams=``, ``full=`` as the CLI has them), its events on a real bus."""
    bus = make_bus(runtime.settings)
    try:
        return pipelines.sync_connector(runtime=runtime, kinds=KINDS, name=name, bus=bus, **kwargs)
    finally:
        bus.close()


def cursor(runtime: Runtime, stream: str, *, name: str) -> dict[str, Any] | None:
    """The cursor committed for ``stream`` of connector ``name`` (None before its first commit)."""
    with runtime.session() as session:
        return session.scalar(
            select(m.SyncState.cursor).where(m.SyncState.connector == name, m.SyncState.stream == stream)
        )


def rows(
    session: Any, model: type[m.Base], *where: Any, refs: Mapping[str, Mapping[int, Any]] | None = None
) -> list[tuple]:
    """Every row of ``model`` matching ``where`` as a tuple of its columns but our id and ingestion time, sorted;
    a column named in ``refs`` (our id of another row) is replaced by what ``refs`` maps it to (that row's
    source id), so two databases holding the same data give equal lists."""
    refs = refs or {}
    cols = [c.name for c in model.__table__.columns if c.name not in ("id", "ingested_at")]
    found = [
        tuple(refs[c].get(getattr(obj, c)) if c in refs else _plain(getattr(obj, c)) for c in cols)
        for obj in session.scalars(select(model).where(*where))
    ]
    return sorted(found, key=repr)


CRM_MODELS = (m.Account, m.Contact, m.Deal, m.Activity)


def crm_snapshot(
    runtime: Runtime, *sources: str, models: tuple[type[m.Base], ...] = CRM_MODELS
) -> dict[str, list[tuple]]:
    """Every row of ``models`` from ``sources`` (as ``rows`` gives them, the accounts, contacts and deals they
    point at named by source and source id) and every deal's stage history: two databases holding the same data
    give equal snapshots."""
    out: dict[str, list[tuple]] = {}
    with runtime.session() as session:
        ext = {
            model: {i: (s, e) for i, s, e in session.execute(select(model.id, model.source, model.external_id))}
            for model in (m.Account, m.Contact, m.Deal)
        }
        refs = {"account_id": ext[m.Account], "contact_id": ext[m.Contact], "deal_id": ext[m.Deal]}
        for model in models:
            out[model.__tablename__] = rows(session, model, model.source.in_(sources), refs=refs)
        history = session.execute(
            select(m.DealStageHistory.deal_id, m.DealStageHistory.stage, m.DealStageHistory.entered_at)
        ).all()
        out["deal_stage_history"] = sorted((ext[m.Deal][d], s, e.isoformat()) for d, s, e in history)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value.isoformat() if hasattr(value, "isoformat") else value


def fail_forever(fake: WireFake, fault: str, **where: Any) -> Fault:
    """One of ``FAULTS`` on every request matching ``where`` (``path=``, ``when=``, ``after=``) until
    ``fake.recover()``: a 500, or the connection dropped without an answer."""
    kind = {"status": 500} if fault == "500 forever" else {"drop": True}
    return fake.fail(times=None, **kind, **where)


def refused_and_retry(asked: list[Any]) -> tuple[Any, Any]:
    """The first of ``asked`` (requests, in order) answered 429, and the request after it: its retry."""
    refused = next(i for i, r in enumerate(asked) if r.status == 429)
    return asked[refused], asked[refused + 1]


def unused_port() -> int:
    """A local TCP port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
