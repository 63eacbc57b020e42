"""What the deal detectors share: a deal's latest calls and activities as evidence, read for many deals at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from core.db.batches import in_batches
from core.db.models import Activity, Call
from core.insights.findings import DetectContext, Evidence, Finding

RECENT_EVIDENCE = 3  # a deal's latest calls and activities shown with it


def recent_touches(
    ctx: DetectContext, deal_ids: Collection[int], *, limit: int = RECENT_EVIDENCE
) -> dict[int, list[Evidence]]:
    """For each deal, its ``limit`` latest calls and activities before the detection day, newest first."""
    touches: dict[int, list[tuple[datetime, Evidence]]] = defaultdict(list)
    for part in in_batches(sorted(deal_ids)):
        calls = select(Call.deal_id, Call.id, Call.external_id, Call.title, Call.started_at).where(
            Call.deal_id.in_(part), Call.started_at < ctx.now
        )
        for deal_id, id_, ext, title, at in ctx.session.execute(calls):
            if deal_id is not None:  # the IN clause; the column is nullable
                touches[deal_id].append((at, Evidence("calls", ext, f"Call {title}, {at:%Y-%m-%d}", id_)))
        acts = select(
            Activity.deal_id, Activity.id, Activity.external_id, Activity.type, Activity.subject, Activity.occurred_at
        ).where(Activity.deal_id.in_(part), Activity.occurred_at < ctx.now)
        for deal_id, id_, ext, type_, subject, at in ctx.session.execute(acts):
            label = f"{type_.title()} {subject or ''}, {at:%Y-%m-%d}"
            if deal_id is not None:
                touches[deal_id].append((at, Evidence("activities", ext, label, id_)))
    return {d: [e for _, e in sorted(t, key=lambda t: t[0], reverse=True)[:limit]] for d, t in touches.items()}


def attach_touches(ctx: DetectContext, findings: list[Finding]) -> list[Finding]:
    """Each deal finding's evidence followed by the deal's latest calls and activities (one read for all)."""
    touches = recent_touches(ctx, [f.subject.id for f in findings if f.subject.id is not None])
    for f in findings:
        f.evidence += touches.get(f.subject.id or 0, [])
    return findings
