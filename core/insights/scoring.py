"""Insights measured against an answer key: the demo's planted truth (``sophia demo truth --json``), or any
key of the same shape. Per type: what was found that the key holds (true positives), what it does not (false
alarms), what was missed; precision and recall. Used by ``bench/insights_quality.py`` and the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.db.models import Insight

__all__ = ["TRUTH_KEYS", "TypeScore", "score_insights"]

Key = tuple[str, ...]


def _subject(row: Insight) -> Key | None:
    return (row.subject_external_id,)


def _talk_share(row: Insight) -> Key | None:
    # a rep flagged for talking too much (not only for asking few questions)
    return (row.subject_external_id,) if row.details.get("signal", "talk_share") == "talk_share" else None


def _competitor(row: Insight) -> Key | None:
    return (row.subject_external_id, str(row.details.get("competitor", "")).lower())


@dataclass(frozen=True)
class TruthKey:
    type: str
    truth: str  # the key of the truth's list
    of_item: Callable[[Mapping[str, Any]], Key]
    of_insight: Callable[[Insight], Key | None]


TRUTH_KEYS: tuple[TruthKey, ...] = (
    TruthKey("deal_stalled", "stalled_deals", lambda i: (i["external_id"],), _subject),
    TruthKey("onboarding_stuck", "stuck_accounts", lambda i: (i["external_id"],), _subject),
    TruthKey("payment_volume_drop", "payment_volume_drops", lambda i: (i["external_id"],), _subject),
    TruthKey("payment_failure_rate", "high_failure_rate", lambda i: (i["external_id"],), _subject),
    TruthKey("late_payer", "chronic_late_payers", lambda i: (i["external_id"],), _subject),
    TruthKey("engagement_decline", "declining_engagement", lambda i: (i["external_id"],), _subject),
    TruthKey("champion_left", "champions_left", lambda i: (i["external_id"],), _subject),
    TruthKey("coaching_talk_ratio", "talkative_reps", lambda i: (i["external_id"],), _talk_share),
    TruthKey(
        "competitor_mentioned",
        "competitor_mentions",
        lambda i: (i["account_external_id"], str(i["competitor"]).lower()),
        _competitor,
    ),
)


@dataclass(frozen=True)
class TypeScore:
    type: str
    expected: int
    found: int
    hits: int
    missed: list[Key]
    false_alarms: list[Key]

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.expected if self.expected else 1.0


def score_insights(*, insights: Iterable[Insight], truth: Mapping[str, Any]) -> dict[str, TypeScore]:
    """Each truth-keyed type's score. Resolved insights count as not found (the finding no longer holds)."""
    rows = [r for r in insights if r.status != "resolved"]
    scores = {}
    for tk in TRUTH_KEYS:
        want = {tk.of_item(item) for item in truth.get(tk.truth, [])}
        got = {k for r in rows if r.type == tk.type and (k := tk.of_insight(r)) is not None}
        scores[tk.type] = TypeScore(
            type=tk.type,
            expected=len(want),
            found=len(got),
            hits=len(want & got),
            missed=sorted(want - got),
            false_alarms=sorted(got - want),
        )
    return scores
