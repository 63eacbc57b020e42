"""Insights: Sophia watches the business. Detectors (``detectors/``) find what needs attention with the
numbers and records behind it; the engine (``engine``) stores each finding once; ``service`` is the feed and
the lifecycle every face uses."""

from core.insights.engine import DetectionResult, run_detection
from core.insights.findings import DetectContext, Evidence, Finding, Subject
from core.insights.service import (
    InsightFilters,
    acknowledge,
    get_insight,
    insight_dict,
    list_insights,
    resolve,
    snooze,
)

__all__ = [
    "DetectContext",
    "DetectionResult",
    "Evidence",
    "Finding",
    "InsightFilters",
    "Subject",
    "acknowledge",
    "get_insight",
    "insight_dict",
    "list_insights",
    "resolve",
    "run_detection",
    "snooze",
]
