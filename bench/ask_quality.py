"""Offline answer quality: for each kind of planted truth, the share of the expected entities the answer cites,
over several demos (sizes, seeds, dates), per phrasing set, beside a baseline measured in the same run: the
broadest single answer ("which accounts are at risk?") given to every question.

    python bench/ask_quality.py [--data /tmp/sophia-ask-quality]

Goal (issue #11): >= 0.9 per kind. The phrasing sets: ``dev`` (the set the intent examples were tuned on),
``round1``/``round2`` (held out, then looked at: each led to a general fix), ``test`` (held out and never
tuned on; also in tests/agents/test_offline_truth.py). The demos are loaded once under --data.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.demo import demo_loaded, get_truth, load_demo  # noqa: E402
from core.agents.ask import ask  # noqa: E402
from core.auth import Identity  # noqa: E402
from core.clock import ManualClock  # noqa: E402
from core.observability.logging import configure_logging  # noqa: E402
from core.runtime import Runtime, open_runtime, prepare  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

CASES = [("small", 1, date(2026, 9, 30)), ("small", 7, date(2026, 6, 30)), ("medium", 42, date(2026, 11, 30))]
ADMIN = Identity(username="admin", role="admin", via="cli")
SETS = {
    "dev": {
        "stalled_deals": ["Which opportunities are stuck?", "what deals are stalling out"],
        "payment_volume_drops": [
            "which customers processed less rent than usual",
            "rent volume declined for which accounts",
        ],
        "high_failure_rate": ["where are payments failing the most?", "accounts with lots of failed rent payments"],
        "declining_engagement": ["which customers are we hearing from less?", "who is disengaging from us"],
        "champions_left": [
            "did our champions leave any customers?",
            "have any key contacts at customers left their jobs",
        ],
        "chronic_late_payers": ["which accounts keep paying invoices late?", "customers that pay late over and over"],
        "talkative_reps": ["who dominates their sales calls", "which salespeople need to listen more"],
        "stuck_accounts": ["which customers are stuck in onboarding", "whose implementation is dragging on"],
    },
    "round1": {
        "stalled_deals": [
            "which pipeline deals have stopped moving?",
            "any opportunities sitting still for a long time",
        ],
        "payment_volume_drops": [
            "where did rent collections shrink month over month",
            "customers whose processed rent went down",
        ],
        "high_failure_rate": [
            "who has an elevated payment failure rate",
            "failed rent payments by customer, the bad ones",
        ],
        "declining_engagement": ["which accounts have gone quiet lately?", "who are we losing touch with"],
        "champions_left": ["did any customer champions switch employers", "champion departures at our accounts"],
        "chronic_late_payers": [
            "accounts with a pattern of late invoice payments",
            "who pays their bills late most months",
        ],
        "talkative_reps": ["who on the sales team talks over customers", "reps whose talk share is too high"],
        "stuck_accounts": ["onboarding accounts that are overdue to go live", "who has been in onboarding too long"],
    },
    "round2": {
        "stalled_deals": ["what deals have been frozen at one stage?", "deals that haven't budged in a while"],
        "payment_volume_drops": [
            "which customers moved less money through us last month?",
            "rent volume down at which clients",
        ],
        "high_failure_rate": ["where do we see lots of payment failures?", "which accounts have payments bouncing"],
        "declining_engagement": [
            "which customers have cooled off on us?",
            "accounts with less contact and worse sentiment",
        ],
        "champions_left": [
            "have any of our internal advocates left their company?",
            "which champions moved on to other firms",
        ],
        "chronic_late_payers": ["who keeps paying us after the due date?", "which accounts are repeatedly overdue"],
        "talkative_reps": ["which sellers monopolize the conversation?", "who talks too much during customer calls"],
        "stuck_accounts": ["whose go-live is overdue?", "customers stuck in implementation"],
    },
}
BASELINE_QUESTION = "which accounts are at risk this month and why?"


def _test_set() -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location("truth_test", ROOT / "tests/agents/test_offline_truth.py")
    assert spec and spec.loader
    sys.modules.setdefault("tests.agents.conftest", type(sys)("tests.agents.conftest"))
    sys.modules["tests.agents.conftest"].ADMIN = ADMIN  # type: ignore[attr-defined]
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PHRASINGS


def runtime_for(data: Path, size: str, seed: int, as_of: date) -> Runtime:
    rt = open_runtime(make_settings(data / f"{size}-{seed}-{as_of}"))
    prepare(rt)
    with rt.session() as session:
        loaded = demo_loaded(session=session)
    if not loaded:
        print(f"loading the {size} demo (seed {seed}, as of {as_of}) ...", flush=True)
        load_demo(runtime=rt, size=size, seed=seed, as_of=as_of)
    clock = ManualClock(datetime.combine(as_of, time(12), tzinfo=UTC))
    return Runtime(settings=rt.settings, engine=rt.engine, sessions=rt.sessions, clock=clock)


def share(rt: Runtime, question: str, expected: set[str]) -> float:
    cited = {c["external_id"] for c in ask(runtime=rt, identity=ADMIN, question=question).citations}
    return len(expected & cited) / len(expected)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/tmp/sophia-ask-quality", type=Path)
    args = parser.parse_args()
    configure_logging(level="ERROR", json=True, process="bench")
    sets = SETS | {"test": _test_set()}
    scores: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in sets}
    baseline: dict[str, list[float]] = defaultdict(list)
    for size, seed, as_of in CASES:
        rt = runtime_for(args.data, size, seed, as_of)
        with rt.session() as session:
            truth = get_truth(session=session)
        for kind in SETS["dev"]:
            expected = {i["external_id"] for i in truth[kind]}
            if not expected:
                continue
            baseline[kind].append(share(rt, BASELINE_QUESTION, expected))
            for name, phrasings in sets.items():
                for question in phrasings[kind]:
                    scores[name][kind].append(share(rt, question, expected))
        rt.engine.dispose()

    cases = ", ".join(f"{s} seed {n} as of {d}" for s, n, d in CASES)
    print(f"\nShare of the planted entities cited, mean over {cases}\n")
    names = list(sets)
    print(f"{'kind':22s}" + "".join(f"{n:>9s}" for n in names) + f"{'baseline':>10s}")
    for kind in SETS["dev"]:
        row = "".join(f"{statistics.mean(scores[n][kind]):9.3f}" for n in names)
        print(f"{kind:22s}{row}{statistics.mean(baseline[kind]):10.3f}")
    overall = "".join(f"{statistics.mean(v for k in scores[n].values() for v in k):9.3f}" for n in names)
    print(f"{'all kinds':22s}{overall}{statistics.mean(v for k in baseline.values() for v in k):10.3f}")
    print("\nbaseline: every question answered with the churn-risk list (the broadest single answer); goal >= 0.9")


if __name__ == "__main__":
    main()
