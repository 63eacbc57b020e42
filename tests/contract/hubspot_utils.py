"""Helpers shared by the HubSpot contract and database tests: configure, sync, snapshot the database."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from connectors.registry import KINDS
from core import pipelines
from core.bus import make_bus
from core.crypto import SecretBox
from core.db import models as m
from core.pipelines import SyncResult
from core.runtime import Runtime
from tests.contract.fake_hubspot import FakeHubSpot

# small pages (many of them), no search lag (the fake indexes at once), tiny backoff: fast tests
TEST_SETTINGS = {
    "page_size": "5",
    "search_lag_s": "0",
    "search_requests_per_s": "100",
    "requests_per_10s": "1000",
    "backoff_initial_s": "0.01",
    "backoff_max_s": "0.05",
    "max_attempts": "3",
}


def add_hubspot(runtime: Runtime, fake: FakeHubSpot, *, name: str = "hs", **overrides: str) -> None:
    values = {"base_url": fake.url, "token": fake.token, **TEST_SETTINGS, **overrides}
    with runtime.session() as session:
        pipelines.add_connector(
            session=session, box=SecretBox.from_settings(runtime.settings), kinds=KINDS, kind="hubspot",
            name=name, values=values, actor="test",
        )


def sync(runtime: Runtime, *, name: str = "hs", **kwargs: Any) -> SyncResult:
    bus = make_bus(runtime.settings)
    try:
        return pipelines.sync_connector(runtime=runtime, kinds=KINDS, name=name, bus=bus, **kwargs)
    finally:
        bus.close()


def cursor(runtime: Runtime, stream: str, *, name: str = "hs") -> dict[str, Any] | None:
    with runtime.session() as session:
        return session.scalar(
            select(m.SyncState.cursor).where(m.SyncState.connector == name, m.SyncState.stream == stream)
        )


def snapshot(runtime: Runtime) -> dict[str, list[tuple]]:
    """Every HubSpot-sourced row, our ids replaced by the source's, sorted: two databases holding the
    same data give equal snapshots."""
    out: dict[str, list[tuple]] = {}
    with runtime.session() as session:
        ext = {
            model: dict(session.execute(select(model.id, model.external_id)).all())
            for model in (m.Account, m.Contact, m.Deal)
        }
        refs = {"account_id": ext[m.Account], "contact_id": ext[m.Contact], "deal_id": ext[m.Deal]}
        for model in (m.Account, m.Contact, m.Deal, m.Activity):
            cols = [c.name for c in model.__table__.columns if c.name not in ("id", "ingested_at")]
            rows = []
            for obj in session.scalars(select(model).where(model.source == "hubspot")):
                rows.append(tuple(
                    refs[c].get(getattr(obj, c)) if c in refs else _plain(getattr(obj, c)) for c in cols
                ))
            out[model.__tablename__] = sorted(rows, key=repr)
        history = session.execute(
            select(m.DealStageHistory.deal_id, m.DealStageHistory.stage, m.DealStageHistory.entered_at)
        ).all()
        out["deal_stage_history"] = sorted((ext[m.Deal][d], s, e.isoformat()) for d, s, e in history)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value.isoformat() if hasattr(value, "isoformat") else value


def counts(runtime: Runtime) -> dict[str, int]:
    return {table: len(rows) for table, rows in snapshot(runtime).items()}
