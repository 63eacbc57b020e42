"""Insights on the event bus: each detection run that opened insights announces them on the stream
``insights`` (as connector syncs announce records on ``records``), so live views can follow."""

from __future__ import annotations

from core.bus import EventBus
from core.insights.engine import DetectionResult
from core.observability.logging import get_logger

__all__ = ["INSIGHTS_STREAM", "announce_detection"]

INSIGHTS_STREAM = "insights"
log = get_logger("insights")


def announce_detection(*, bus: EventBus, result: DetectionResult) -> str | None:
    """Publish ``{"ids": [new insight ids], "created", "updated", "resolved", "as_of"}`` when the run opened
    any; the event's id, or None (nothing new, or a bus that is down: logged, the insights are stored)."""
    if not result.new_ids:
        return None
    event = {**result.counts(), "ids": list(result.new_ids), "as_of": str(result.as_of) if result.as_of else None}
    try:
        return bus.publish(INSIGHTS_STREAM, event)
    except Exception as exc:  # noqa: BLE001 - the insights are committed; a lost event is logged, not fatal
        log.warning("bus.publish_failed", stream=INSIGHTS_STREAM, error=type(exc).__name__)
        return None
