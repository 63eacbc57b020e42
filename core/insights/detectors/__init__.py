"""The detectors, by insight type. Each is a small module over core queries: ``TYPE``, ``DEFAULTS`` (its
thresholds, configurable per type by an admin and quoted in the reasons), ``DESCRIPTION`` and
``detect(ctx) -> list[Finding]``. Add a detector by adding its module to ``MODULES``."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from core.insights.findings import DetectContext, Finding


class DetectorModule(Protocol):
    TYPE: str
    DESCRIPTION: str
    DEFAULTS: dict[str, Any]

    def detect(self, ctx: DetectContext) -> list[Finding]: ...


# In run order: churn_risk reads what the signals before it found.
MODULES = (
    "core.insights.detectors.deal_stalled",
    "core.insights.detectors.onboarding_stuck",
    "core.insights.detectors.payment_volume_drop",
    "core.insights.detectors.payment_failure_rate",
    "core.insights.detectors.late_payer",
    "core.insights.detectors.deal_slipping",
    "core.insights.detectors.metric_anomaly",
    "core.insights.detectors.engagement_decline",
    "core.insights.detectors.champion_left",
    "core.insights.detectors.coaching_talk_ratio",
    "core.insights.detectors.competitor_mentioned",
    "core.insights.detectors.churn_risk",
)


@dataclass(frozen=True)
class Detector:
    type: str
    description: str
    defaults: dict[str, Any]
    module: DetectorModule

    def detect(self, ctx: DetectContext) -> list[Finding]:
        return self.module.detect(ctx)


def all_detectors() -> dict[str, Detector]:
    found: dict[str, Detector] = {}
    for path in MODULES:
        mod: Any = importlib.import_module(path)
        found[mod.TYPE] = Detector(type=mod.TYPE, description=mod.DESCRIPTION, defaults=dict(mod.DEFAULTS), module=mod)
    return found
