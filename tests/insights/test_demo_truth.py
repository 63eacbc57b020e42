"""Every truth-keyed insight type against the demo's planted truth, scored as the quality bench scores it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from connectors.demo import get_truth, load_demo
from core.db.models import Insight
from core.insights import run_detection
from core.insights.scoring import TRUTH_KEYS, score_insights
from core.runtime import Runtime


def test_every_truth_key_is_found_exactly(runtime: Runtime) -> None:
    as_of = date(2026, 7, 31)
    load_demo(runtime=runtime, size="small", seed=3, as_of=as_of)
    result = run_detection(runtime=runtime, as_of=as_of)
    assert result.errors == {}
    with runtime.session() as s:
        truth = get_truth(session=s)
        scores = score_insights(insights=list(s.scalars(select(Insight))), truth=truth)
    assert set(scores) == {tk.type for tk in TRUTH_KEYS}
    for t, score in scores.items():
        assert score.expected > 0, t
        assert (score.missed, score.false_alarms) == ([], []), t
