"""Insight quality against the demo's planted truth: per type, precision and recall over several seeds,
sizes and as-of dates (each case a fresh SQLite database: the demo loaded, detection run as of its day).

    python bench/insights_quality.py [--sizes small,medium] [--seeds 1,7,42] [--as-of 2026-03-15,2026-09-30,today]

Goal on every type with a truth key: recall >= 0.9 and false alarms (1 - precision) <= 10 %. The baseline
beside each figure is the share a naive rule gets on the same data: "every open subject of that kind" (every
open deal, every live account ...), i.e. the precision of flagging everything; it shows how much the
detector adds over guessing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from connectors.demo import get_truth, load_demo  # noqa: E402
from core.db.models import Account, Contact, Deal, Employee, Insight  # noqa: E402
from core.insights import run_detection  # noqa: E402
from core.insights.scoring import TRUTH_KEYS, score_insights  # noqa: E402
from core.observability.logging import configure_logging  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

SUBJECTS = {"deals": Deal, "accounts": Account, "contacts": Contact, "employees": Employee}
SUBJECT_OF = {
    "deal_stalled": "deals",
    "champion_left": "contacts",
    "coaching_talk_ratio": "employees",
}


def run_case(size: str, seed: int, as_of: date) -> tuple[dict, dict[str, int], float]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(make_settings(Path(tmp)))
        prepare(rt)
        load_demo(runtime=rt, size=size, seed=seed, as_of=as_of)
        started = time.perf_counter()
        run_detection(runtime=rt, as_of=as_of)
        took = time.perf_counter() - started
        with rt.session() as session:
            truth = get_truth(session=session) or {}
            scores = score_insights(insights=list(session.scalars(select(Insight))), truth=truth)
            population = {
                tk.type: session.scalar(select(func.count()).select_from(SUBJECTS[SUBJECT_OF.get(tk.type, "accounts")]))
                or 0
                for tk in TRUTH_KEYS
            }
        rt.engine.dispose()
        return scores, population, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="small,medium")
    parser.add_argument("--seeds", default="1,7,42")
    parser.add_argument("--as-of", default="2026-03-15,2026-09-30,today")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    today = datetime.now(UTC).date()
    days = [today if d == "today" else date.fromisoformat(d) for d in args.as_of.split(",")]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    cases = [(s, int(seed), d) for s in args.sizes.split(",") for seed in args.seeds.split(",") for d in days]
    for size, seed, day in cases:
        scores, population, took = run_case(size, seed, day)
        bad = [
            f"{t} missed {s.missed[:3]} false {s.false_alarms[:3]}"
            for t, s in scores.items()
            if s.missed or s.false_alarms
        ]
        print(f"{size:6} seed {seed:<3} as of {day}: detection {took:.2f} s" + (f"  ({'; '.join(bad)})" if bad else ""))
        for t, s in scores.items():
            for k, v in (("expected", s.expected), ("found", s.found), ("hits", s.hits), ("population", population[t])):
                totals[t][k] += v
    print(f"\n{len(cases)} cases. Per type: precision / recall (goal: recall >= 0.90, false alarms <= 10 %);")
    print("baseline: the precision of flagging every subject of that kind.\n")
    print(f"{'type':22} {'expected':>8} {'found':>6} {'precision':>9} {'recall':>7} {'baseline':>9}  verdict")
    for t, c in totals.items():
        precision = c["hits"] / c["found"] if c["found"] else 1.0
        recall = c["hits"] / c["expected"] if c["expected"] else 1.0
        baseline = c["expected"] / c["population"] if c["population"] else 0.0
        ok = recall >= 0.9 and (1 - precision) <= 0.10
        shown = f"{precision:9.3f}" if c["found"] else f"{'-':>9}"
        print(
            f"{t:22} {c['expected']:8} {c['found']:6} {shown} {recall:7.3f} {baseline:9.3f}  "
            f"{'ok' if ok else 'BELOW GOAL'}"
        )


if __name__ == "__main__":
    main()
